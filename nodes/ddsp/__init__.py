"""DDSP family: decoder, harmonic and noise synths, reverb, and ddsp.synth chaining them.

Modules: ``decoder_kernels`` (numba MLP and RnnFcDecoder frames), ``kernels`` (numba
oscillator bank, filtered noise, frame queues), ``processors`` (per-stream state around
the kernels), ``model`` (safetensors + JSON config files), ``node`` (the ddsp.* nodes),
``torch_model`` and ``train`` (the same decoder and synths in torch, the multi-scale
spectral loss, ``train-ddsp``; torch imported lazily).
"""
from .node import NODE_CLASSES

__all__ = ["NODE_CLASSES"]
