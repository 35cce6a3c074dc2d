"""GAN mel vocoder files: safetensors weights, the JSON config in the file's metadata and
beside it (``.json``). Never pickle.

Config: ``format`` ("neuropatch.vocoder"), ``version``, ``mel`` (the mel spectrogram the
vocoder expects, as the patch makes it: ``sample_rate`` Hz, ``n_fft``, ``hop``,
``window``, ``power`` (the STFT's: 1 magnitude, 2 power), ``n_mels``, ``fmin``, ``fmax``
(Hz; the effective value, never 0), ``htk``, ``norm``, ``db`` (the mel node's dB output),
``ref``, ``top_db``), the generator (``channels``, ``upsample_rates`` (their product is the
hop), ``upsample_kernels``, ``resblock_kernels``, ``resblock_dilations``), the input
normalisation ``input_mean_db`` / ``input_std_db``, ``delay`` (samples: output sample t
is the audio of sample t - delay), free-form ``name`` and ``training``.

Tensors: the generator's state dict (:func:`.torch_model.tensor_shapes`), float32.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuropatch.engine.errors import ModelFormatError
from neuropatch.nodes.dsp.model_file import checked_tensors, read_model_file, require_keys, write_model_file

FORMAT = "neuropatch.vocoder"
REQUIRED = ("mel", "channels", "upsample_rates", "upsample_kernels", "resblock_kernels", "resblock_dilations",
            "input_mean_db", "input_std_db", "delay")
MEL_KEYS = ("sample_rate", "n_fft", "hop", "window", "power", "n_mels", "fmin", "fmax", "htk", "norm", "db",
            "ref", "top_db")


def default_mel(sample_rate: int = 48000, n_fft: int = 1024, hop: int = 256, n_mels: int = 80,
                fmin: float = 0.0, fmax: float = 0.0) -> dict:
    """The mel settings of a vocoder: power STFT (hann), Slaney mel, dB re 1 clamped 80 dB below."""
    return {"sample_rate": int(sample_rate), "n_fft": int(n_fft), "hop": int(hop), "window": "hann", "power": 2.0,
            "n_mels": int(n_mels), "fmin": float(fmin), "fmax": float(fmax or sample_rate / 2.0), "htk": False,
            "norm": "slaney", "db": True, "ref": 1.0, "top_db": 80.0}


def default_config(mel: dict | None = None, channels: int = 128, upsample_rates=(8, 8, 4),
                   upsample_kernels=(16, 16, 8), resblock_kernels=(3, 5, 7),
                   resblock_dilations=((1, 2), (2, 6), (3, 12)), delay: int | None = None) -> dict:
    """A vocoder config. Defaults: 48 kHz, hop 256 (= 8 * 8 * 4), 80 mel bands; a generator
    of 128 channels halved at each of three upsampling stages, HiFi-GAN V3's residual blocks;
    a delay of 2.5 hops."""
    mel = dict(mel or default_mel())
    if math.prod(int(r) for r in upsample_rates) != int(mel["hop"]):
        raise ValueError(f"the upsampling rates {list(upsample_rates)} multiply to "
                         f"{math.prod(upsample_rates)}, not the hop {mel['hop']}")
    return {"format": FORMAT, "version": 1, "mel": mel, "channels": int(channels),
            "upsample_rates": [int(r) for r in upsample_rates], "upsample_kernels": [int(k) for k in upsample_kernels],
            "resblock_kernels": [int(k) for k in resblock_kernels],
            "resblock_dilations": [[int(d) for d in ds] for ds in resblock_dilations],
            "input_mean_db": -40.0, "input_std_db": 20.0,
            "delay": int(delay if delay is not None else 5 * int(mel["hop"]) // 2)}


@dataclass
class VocoderModel:
    config: dict
    tensors: dict = field(default_factory=dict)

    @property
    def parameters(self) -> int:
        return int(sum(np.asarray(t).size for t in self.tensors.values()))

    @property
    def hop(self) -> int:
        return int(self.config["mel"]["hop"])


def save_model(path, model: VocoderModel) -> None:
    from .torch_model import tensor_shapes

    write_model_file(path, {k: model.tensors[k] for k, _ in tensor_shapes(model.config)}, model.config)


def load_model(path) -> VocoderModel:
    """Read and validate a vocoder .safetensors file; raises ResourceError / ModelFormatError."""
    from .torch_model import tensor_shapes

    config, tensors = read_model_file(path, "vocoder", FORMAT)
    require_keys(path, config, REQUIRED)
    mel = config["mel"]
    missing = [k for k in MEL_KEYS if not isinstance(mel, dict) or k not in mel]
    if missing:
        raise ModelFormatError(f"{Path(path).name}: config.mel.{missing[0]} missing")
    if math.prod(int(r) for r in config["upsample_rates"]) != int(mel["hop"]):
        raise ModelFormatError(f"{Path(path).name}: config.upsample_rates multiply to "
                               f"{math.prod(int(r) for r in config['upsample_rates'])}, not config.mel.hop {mel['hop']}")
    try:
        shapes = tensor_shapes(config)
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelFormatError(f"{Path(path).name}: config does not describe a generator ({exc})") from None
    return VocoderModel(config, checked_tensors(path, tensors, shapes))


def mel_mismatches(expected: dict, found: dict) -> list:
    """["name: the model's value vs the input's value"] for each mel setting in ``found``
    (the connected mel's, only those known) that differs from ``expected`` (the model's)."""
    out = []
    for key, value in found.items():
        want = expected.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and isinstance(want, (int, float)):
            same = math.isclose(float(value), float(want), rel_tol=1e-6, abs_tol=1e-6)
        else:
            same = value == want
        if not same:
            out.append(f"{key}: the model expects {want!r}, the input has {value!r}")
    return out
