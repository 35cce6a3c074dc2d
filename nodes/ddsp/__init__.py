"""DDSP family: a harmonic-plus-noise synth driven by pitch and loudness frames.

Modules: ``kernels`` (numba decoder, oscillator bank, filtered noise, streaming block),
``model`` (safetensors + JSON config files, noise tables), ``node`` (``ddsp.synth``),
``train`` (torch decoder + synth and the multi-scale spectral loss; torch imported lazily).
"""
from .node import DDSPSynth

NODE_CLASSES = [DDSPSynth]
