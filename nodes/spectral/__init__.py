"""Spectral and feature nodes: STFT/ISTFT, mel, mel inverse, Griffin-Lim, gate/gain,
pitch (YIN) and loudness. Kernels live beside the nodes that use them."""
from __future__ import annotations

from .gate import SpectralGain, SpectralGate
from .griffin_lim import GriffinLim
from .loudness import Loudness
from .mel import Mel, MelInverse
from .pitch import Pitch
from .stft import ISTFT, STFT

NODE_CLASSES = [STFT, ISTFT, Mel, MelInverse, GriffinLim, SpectralGate, SpectralGain, Pitch, Loudness]
