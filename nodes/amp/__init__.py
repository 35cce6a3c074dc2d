"""Neural amp family: Neural Amp Modeler (.nam) and GuitarML models on the audio path.

Modules: ``nam_format`` (parsing/validation), ``wavenet_kernels`` / ``lstm_kernels``
(numba streaming kernels), ``activations`` (vectorisable tanh), ``resampler`` (streaming
rate conversion around a model), ``node`` (the ``amp.nam`` node), ``train`` (LSTM training).
"""
from .node import NamAmp

NODE_CLASSES = [NamAmp]
