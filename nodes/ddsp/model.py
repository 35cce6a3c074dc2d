"""DDSP model files: safetensors weights with the JSON config in the file's metadata.

Tensors (float32): ``l1.weight`` [hidden1, 2], ``l1.bias`` [hidden1], ``l2.weight``
[hidden2, hidden1], ``l2.bias`` [hidden2], ``out.weight`` [1 + n_harmonics + n_bands,
hidden2], ``out.bias``. Metadata ``config``: JSON with ``format`` ("neuropatch.ddsp"),
``version`` (1), ``sample_rate`` (Hz the model was trained at; noise bands are laid out
up to its Nyquist), ``hop`` (samples per frame in training), ``n_harmonics``, ``n_bands``,
``hidden`` ([hidden1, hidden2]), ``leaky_slope``, ``noise_bias``, ``noise_seed``,
``noise_table_length`` and free-form ``name`` / ``features`` / ``training`` entries.
Never pickle: the loader reads only tensors and JSON.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuropatch.engine.errors import ModelFormatError, ResourceError

FORMAT = "neuropatch.ddsp"
TENSOR_SHAPES = ("l1.weight", "l1.bias", "l2.weight", "l2.bias", "out.weight", "out.bias")


@dataclass
class DDSPModel:
    """A loaded decoder: ``config`` (dict, see module doc) and float32 ``tensors``."""

    config: dict
    tensors: dict = field(default_factory=dict)

    @property
    def n_harmonics(self) -> int:
        return int(self.config["n_harmonics"])

    @property
    def n_bands(self) -> int:
        return int(self.config["n_bands"])

    def weights64(self) -> tuple:
        """(w1, b1, w2, b2, w3, b3) as contiguous float64 arrays for the kernels."""
        return tuple(np.ascontiguousarray(self.tensors[k], np.float64) for k in TENSOR_SHAPES)


def default_config(sample_rate: int, hop: int, n_harmonics: int = 48, n_bands: int = 24,
                   hidden=(96, 96)) -> dict:
    return {"format": FORMAT, "version": 1, "sample_rate": int(sample_rate), "hop": int(hop),
            "n_harmonics": int(n_harmonics), "n_bands": int(n_bands), "hidden": [int(h) for h in hidden],
            "leaky_slope": 0.1, "noise_bias": -5.0, "noise_seed": 1234, "noise_table_length": 65536}


def save_model(path, model: DDSPModel) -> None:
    """Write ``model`` to ``path`` (.safetensors, config in metadata, plus a .json beside it)."""
    from safetensors.numpy import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: np.ascontiguousarray(model.tensors[k], np.float32) for k in TENSOR_SHAPES}
    save_file(tensors, str(path), metadata={"config": json.dumps(model.config)})
    path.with_suffix(".json").write_text(json.dumps(model.config, indent=2) + "\n")


def load_model(path) -> DDSPModel:
    """Read and validate a DDSP .safetensors file; raises ResourceError / ModelFormatError."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ResourceError(f"DDSP model not found: {path}")
    try:
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise ModelFormatError(f"{path.name}: not a safetensors file ({exc})") from exc
    if "config" in meta:
        raw = meta["config"]
    elif path.with_suffix(".json").is_file():
        raw = path.with_suffix(".json").read_text()
    else:
        raise ModelFormatError(f"{path.name}: no config (metadata 'config' or {path.with_suffix('.json').name})")
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise ModelFormatError(f"{path.name}: config is not JSON ({exc})") from exc
    if config.get("format") != FORMAT:
        raise ModelFormatError(f"{path.name}: config.format: expected {FORMAT!r}, got {config.get('format')!r}")
    for key in ("sample_rate", "hop", "n_harmonics", "n_bands", "hidden"):
        if key not in config:
            raise ModelFormatError(f"{path.name}: config.{key} missing")
    h1, h2 = config["hidden"]
    n_out = 1 + int(config["n_harmonics"]) + int(config["n_bands"])
    expected = {"l1.weight": (h1, 2), "l1.bias": (h1,), "l2.weight": (h2, h1), "l2.bias": (h2,),
                "out.weight": (n_out, h2), "out.bias": (n_out,)}
    for name, shape in expected.items():
        if name not in tensors:
            raise ModelFormatError(f"{path.name}: tensor {name!r} missing")
        if tuple(tensors[name].shape) != shape:
            raise ModelFormatError(f"{path.name}: tensor {name!r}: expected shape {shape}, got {tuple(tensors[name].shape)}")
        if not np.all(np.isfinite(tensors[name])):
            raise ModelFormatError(f"{path.name}: tensor {name!r} has NaN/Inf")
    return DDSPModel(config, {k: tensors[k] for k in expected})


def noise_tables(config: dict, sample_rate: int) -> np.ndarray:
    """Band-limited noise, float32 [n_bands, L] at ``sample_rate``.

    One white Gaussian draw (seed ``noise_seed``, length ``noise_table_length``) split in
    the frequency domain into ``n_bands`` equal-width bands covering 0 .. the model's
    Nyquist (``config['sample_rate'] / 2``), band b = [b, b + 1) * width Hz; bands above
    the playback Nyquist are silent. The bands sum back to the white draw (below the
    model's Nyquist), so equal magnitudes give white noise; the tables loop.
    """
    length = int(config.get("noise_table_length", 65536))
    n_bands = int(config["n_bands"])
    rng = np.random.default_rng(int(config.get("noise_seed", 1234)))
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length, 1.0 / sample_rate)
    width = 0.5 * float(config["sample_rate"]) / n_bands
    band = np.floor(freqs / width).astype(np.int64)
    tables = np.zeros((n_bands, length), np.float32)
    for b in range(n_bands):
        tables[b] = np.fft.irfft(np.where(band == b, spectrum, 0.0), length)
    return tables
