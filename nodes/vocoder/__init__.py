"""Vocoder family: ``vocoder.gan``, mel frames back to audio with a GAN-trained generator.

Modules: ``model`` (safetensors + JSON files, the mel settings a model expects),
``torch_model`` (the causal streaming generator, the discriminators and losses, the mel
front end), ``lane_model`` (the generator on chunks in the inference lane), ``node``, and
``train`` (``train-vocoder``; torch imported lazily).
"""
from .node import NODE_CLASSES

__all__ = ["NODE_CLASSES"]
