"""DDX7 family: ``ddx7.decoder``, a TCN from f0 and loudness to synth.fm's operator levels.

Modules: ``model`` (safetensors + JSON files), ``kernels`` (numba TCN, streamed per
frame), ``processor`` (its per-stream state), ``node``, ``torch_model`` and ``train`` (the
same network and the FM synth in torch, ``train-ddx7``; torch imported lazily).
"""
from .node import NODE_CLASSES

__all__ = ["NODE_CLASSES"]
