"""FM family: ``synth.fm``, a six-operator FM synth with the DX7's 32 algorithms.

Modules: ``algorithms`` (the routing tables), ``kernels`` (numba operators, event and
frame drivers), ``node`` (the node).
"""
from .node import NODE_CLASSES

__all__ = ["NODE_CLASSES"]
