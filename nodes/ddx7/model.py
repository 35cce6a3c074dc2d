"""DDX7 decoder files: safetensors weights, the JSON config in the file's metadata and
beside it (``.json``).

The decoder is a temporal convolutional network (TCN) over frames: ``blocks`` residual
blocks, block b with dilation 2**b, each two causal convolutions of kernel
``kernel_size`` (Conv -> ReLU -> Conv, then ReLU except in the last block) plus a
residual path (a 1x1 convolution where the channel count changes: the first and last
blocks; identity otherwise). Input per frame: (midi(f0) / 127, loudness_db / 80 + 1);
output: 6 operator levels = ``max_level`` * sigmoid(last block), for the FM synth of
``algorithm`` (1..32) with ``ratios`` (detune folded in) and ``feedback`` (0 in trained
files: the torch synth has none).

Tensors (float32): ``blocks.{b}.conv1.weight`` [C, C_in, K], ``.conv1.bias`` [C],
``.conv2.weight`` [C_out, C, K], ``.conv2.bias`` [C_out], ``.residual.weight``
[C_out, C_in, 1] and ``.residual.bias`` where C_in != C_out; optionally ``reverb.ir``
[taps], the reverb learned with the decoder (ddsp.reverb plays it). Config: ``format``
("neuropatch.ddx7"), ``sample_rate``, ``hop``, ``blocks``, ``channels``, ``kernel_size``,
``algorithm``, ``ratios`` [6], ``feedback``, ``max_level``, free-form ``name`` /
``features`` / ``training``. Never pickle.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuropatch.engine.errors import ModelFormatError
from neuropatch.nodes.dsp.model_file import checked_tensors, read_model_file, require_keys, write_model_file

FORMAT = "neuropatch.ddx7"
N_INPUTS = 2
N_OPERATORS = 6
REQUIRED = ("sample_rate", "hop", "blocks", "channels", "kernel_size", "algorithm", "ratios", "max_level")


def default_config(sample_rate: int = 48000, hop: int = 256, blocks: int = 5, channels: int = 128,
                   kernel_size: int = 3, algorithm: int = 2, ratios=(1.0, 1.0, 1.0, 1.0, 3.0, 14.0),
                   max_level: float = 2.0 * math.pi * 0.32) -> dict:
    """A DDX7 config; defaults: DDX7's string patch (algorithm 2, ratios 1 1 1 1 3 14, the
    paper's maximum output level 0.32 * 2 pi) and its TCN (5 blocks of 128 channels, kernel 3)."""
    return {"format": FORMAT, "version": 1, "sample_rate": int(sample_rate), "hop": int(hop), "blocks": int(blocks),
            "channels": int(channels), "kernel_size": int(kernel_size), "algorithm": int(algorithm),
            "ratios": [float(r) for r in ratios], "feedback": 0.0, "max_level": float(max_level)}


def block_shapes(config: dict) -> list:
    """[(c_in, c_out, dilation)] per block."""
    blocks, ch = int(config["blocks"]), int(config["channels"])
    return [(N_INPUTS if b == 0 else ch, N_OPERATORS if b == blocks - 1 else ch, 2 ** b) for b in range(blocks)]


def tensor_order(config: dict) -> list:
    """[(tensor name, shape)] in file order (the order the numba kernel reads them)."""
    ch, k = int(config["channels"]), int(config["kernel_size"])
    order = []
    for b, (c_in, c_out, _) in enumerate(block_shapes(config)):
        p = f"blocks.{b}"
        order += [(f"{p}.conv1.weight", (ch, c_in, k)), (f"{p}.conv1.bias", (ch,)),
                  (f"{p}.conv2.weight", (c_out, ch, k)), (f"{p}.conv2.bias", (c_out,))]
        if c_in != c_out:
            order += [(f"{p}.residual.weight", (c_out, c_in, 1)), (f"{p}.residual.bias", (c_out,))]
    return order


def receptive_field(config: dict) -> int:
    """Frames of input history that reach one output frame."""
    k = int(config["kernel_size"])
    return 1 + 2 * (k - 1) * sum(d for _, _, d in block_shapes(config))


@dataclass
class DDX7Model:
    config: dict
    tensors: dict = field(default_factory=dict)

    @property
    def parameters(self) -> int:
        """Weights of the decoder (the reverb's taps not counted)."""
        return int(sum(t.size for name, t in self.tensors.items() if name != "reverb.ir"))

    @property
    def reverb_ir(self) -> np.ndarray | None:
        """The learned impulse response, float32 [taps], or None."""
        return self.tensors.get("reverb.ir")

    def kernel_weights(self) -> np.ndarray:
        """Every tensor in :func:`tensor_order`, convolution weights transposed to
        [K, C_in, C_out] (contiguous output channels per tap and input), flattened float32 [P]
        (the trained values exactly; the kernel accumulates in float64)."""
        parts = []
        for name, _ in tensor_order(self.config):
            t = np.asarray(self.tensors[name], np.float32)
            if t.ndim == 3:
                t = np.transpose(t, (2, 1, 0))
            parts.append(np.ascontiguousarray(t).ravel())
        return np.concatenate(parts)


def save_model(path, model: DDX7Model) -> None:
    """Write ``model`` to ``path`` (.safetensors with the config in its metadata, .json beside it)."""
    names = [k for k, _ in tensor_order(model.config)] + (["reverb.ir"] if model.reverb_ir is not None else [])
    write_model_file(path, {k: model.tensors[k] for k in names}, model.config)


def load_model(path) -> DDX7Model:
    """Read and validate a DDX7 .safetensors file; raises ResourceError / ModelFormatError."""
    config, tensors = read_model_file(path, "DDX7", FORMAT)
    require_keys(path, config, REQUIRED)
    if not 1 <= int(config["algorithm"]) <= 32 or len(config["ratios"]) != N_OPERATORS:
        raise ModelFormatError(f"{Path(path).name}: config.algorithm must be 1..32 and config.ratios have 6 entries")
    expected = dict(tensor_order(config))
    if "reverb.ir" in tensors:
        expected["reverb.ir"] = (int(tensors["reverb.ir"].shape[0]),)
    return DDX7Model(config, checked_tensors(path, tensors, expected))
