"""DDSP decoder files: safetensors weights with the JSON config in the file's metadata.

Two architectures (``config["arch"]``; files without it are ``"mlp"``, format version 1):

- ``"mlp"`` (version 1): a per-frame MLP. Tensors (float32) ``l1.weight`` [hidden1, 2],
  ``l1.bias``, ``l2.weight`` [hidden2, hidden1], ``l2.bias``, ``out.weight``
  [1 + n_harmonics + n_bands, hidden2], ``out.bias``; config ``hidden`` = [h1, h2].
- ``"rnn"`` (version 2): DDSP's RnnFcDecoder. One MLP per input (f0, loudness[, z]) of
  ``mlp_layers`` x (Dense ``mlp_units`` -> LayerNorm -> leaky ReLU), their outputs
  concatenated into a GRU of ``gru_units``, the GRU output concatenated with the input
  MLPs' outputs into an output MLP of the same shape, then a Dense to
  1 + n_harmonics + n_bands. Tensor names are the torch module's (see
  :data:`RNN_ORDER`); an optional ``reverb.ir`` [reverb_length] is the learned impulse
  response of ``ddsp.reverb``.

Common config: ``format`` ("neuropatch.ddsp"), ``sample_rate`` (Hz trained at), ``hop``
(samples per frame), ``n_harmonics``, ``n_bands``, ``leaky_slope``, ``noise_bias`` and
free-form ``name`` / ``features`` (the pitch/loudness settings it was trained with) /
``training`` entries. Never pickle: the loader reads only tensors and JSON.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuropatch.engine.errors import ModelFormatError
from neuropatch.nodes.dsp.model_file import checked_tensors, read_model_file, require_keys, write_model_file

FORMAT = "neuropatch.ddsp"
MLP_TENSORS = ("l1.weight", "l1.bias", "l2.weight", "l2.bias", "out.weight", "out.bias")
INPUT_NAMES = ("f0", "loudness", "z")


@dataclass
class DDSPModel:
    """A loaded decoder: ``config`` (dict, see module doc) and float32 ``tensors``."""

    config: dict
    tensors: dict = field(default_factory=dict)

    @property
    def arch(self) -> str:
        return str(self.config.get("arch", "mlp"))

    @property
    def n_harmonics(self) -> int:
        return int(self.config["n_harmonics"])

    @property
    def n_bands(self) -> int:
        return int(self.config["n_bands"])

    @property
    def n_out(self) -> int:
        return 1 + self.n_harmonics + self.n_bands

    @property
    def z_dims(self) -> int:
        return int(self.config.get("z_dims", 0))

    @property
    def reverb_ir(self) -> np.ndarray | None:
        """The learned impulse response, float32 [taps], or None."""
        return self.tensors.get("reverb.ir")

    def weights64(self) -> tuple:
        """mlp: (w1, b1, w2, b2, w3, b3) as contiguous float64 arrays for the kernels."""
        return tuple(np.ascontiguousarray(self.tensors[k], np.float64) for k in MLP_TENSORS)

    @property
    def has_encoder(self) -> bool:
        return self.z_dims > 0 and "encoder.mean.weight" in self.tensors

    def encoder_flat64(self) -> np.ndarray:
        """The timbre encoder's tensors in kernel order (mean head, no logvar), float64 [P]."""
        from .timbre import encoder_order

        return np.concatenate([np.asarray(self.tensors[name], np.float64).ravel()
                               for name, _ in encoder_order(self.config, self.z_dims)
                               if not name.startswith("encoder.logvar")])

    def flat64(self) -> np.ndarray:
        """rnn: every decoder tensor in :func:`rnn_order` order, flattened, float64 [P]."""
        return np.concatenate([np.asarray(self.tensors[name], np.float64).ravel()
                               for name, _ in rnn_order(self.config)])


def input_streams(config: dict) -> tuple:
    return INPUT_NAMES[:3 if int(config.get("z_dims", 0)) > 0 else 2]


def rnn_order(config: dict) -> list:
    """[(tensor name, shape)] of an rnn decoder, in the order the numba kernel reads them."""
    units, layers = int(config["mlp_units"]), int(config["mlp_layers"])
    gru = int(config["gru_units"])
    n_out = 1 + int(config["n_harmonics"]) + int(config["n_bands"])
    widths = {"f0": 1, "loudness": 1, "z": int(config.get("z_dims", 0))}
    streams = input_streams(config)
    order = []

    def stack(prefix, n_in):
        for i in range(layers):
            order.extend([(f"{prefix}.{i}.dense.weight", (units, n_in if i == 0 else units)),
                          (f"{prefix}.{i}.dense.bias", (units,)),
                          (f"{prefix}.{i}.norm.weight", (units,)), (f"{prefix}.{i}.norm.bias", (units,))])

    for name in streams:
        stack(f"{name}_mlp", widths[name])
    n_cat = units * len(streams)
    order.extend([("gru.weight_ih_l0", (3 * gru, n_cat)), ("gru.weight_hh_l0", (3 * gru, gru)),
                  ("gru.bias_ih_l0", (3 * gru,)), ("gru.bias_hh_l0", (3 * gru,))])
    stack("out_mlp", gru + n_cat)
    order.extend([("out.weight", (n_out, units)), ("out.bias", (n_out,))])
    return order


def rnn_config(sample_rate: int, hop: int, n_harmonics: int = 60, n_bands: int = 65, mlp_units: int = 96,
               mlp_layers: int = 2, gru_units: int = 128, z_dims: int = 0, reverb_length: int = 12000) -> dict:
    return {"format": FORMAT, "version": 2, "arch": "rnn", "sample_rate": int(sample_rate), "hop": int(hop),
            "n_harmonics": int(n_harmonics), "n_bands": int(n_bands), "mlp_units": int(mlp_units),
            "mlp_layers": int(mlp_layers), "gru_units": int(gru_units), "z_dims": int(z_dims),
            "reverb_length": int(reverb_length), "leaky_slope": 0.1, "noise_bias": -5.0}


def default_config(sample_rate: int, hop: int, n_harmonics: int = 48, n_bands: int = 24,
                   hidden=(96, 96)) -> dict:
    """Config of a version-1 per-frame MLP decoder."""
    return {"format": FORMAT, "version": 1, "arch": "mlp", "sample_rate": int(sample_rate), "hop": int(hop),
            "n_harmonics": int(n_harmonics), "n_bands": int(n_bands), "hidden": [int(h) for h in hidden],
            "leaky_slope": 0.1, "noise_bias": -5.0}


def expected_shapes(config: dict) -> dict:
    """Tensor name -> shape a file with this config must hold (reverb.ir optional)."""
    if config.get("arch", "mlp") == "mlp":
        h1, h2 = config["hidden"]
        n_out = 1 + int(config["n_harmonics"]) + int(config["n_bands"])
        return {"l1.weight": (h1, 2), "l1.bias": (h1,), "l2.weight": (h2, h1), "l2.bias": (h2,),
                "out.weight": (n_out, h2), "out.bias": (n_out,)}
    shapes = dict(rnn_order(config))
    if int(config.get("z_dims", 0)) > 0 and config.get("encoder"):
        from .timbre import encoder_order

        shapes.update(encoder_order(config, int(config["z_dims"])))
    return shapes


def save_model(path, model: DDSPModel) -> None:
    """Write ``model`` to ``path`` (.safetensors, config in metadata, plus a .json beside it)."""
    names = list(expected_shapes(model.config))
    if model.reverb_ir is not None:
        names.append("reverb.ir")
    write_model_file(path, {k: model.tensors[k] for k in names}, model.config)


def _required(config: dict) -> tuple:
    common = ("sample_rate", "hop", "n_harmonics", "n_bands")
    if config.get("arch", "mlp") == "mlp":
        return common + ("hidden",)
    return common + ("mlp_units", "mlp_layers", "gru_units")


def load_model(path) -> DDSPModel:
    """Read and validate a DDSP .safetensors file; raises ResourceError / ModelFormatError."""
    config, tensors = read_model_file(path, "DDSP", FORMAT)
    if config.get("arch", "mlp") not in ("mlp", "rnn"):
        raise ModelFormatError(f"{Path(path).name}: config.arch: expected 'mlp' or 'rnn', got {config.get('arch')!r}")
    require_keys(path, config, _required(config))
    expected = expected_shapes(config)
    if "reverb.ir" in tensors:
        expected["reverb.ir"] = (int(tensors["reverb.ir"].shape[0]),)
    return DDSPModel(config, checked_tensors(path, tensors, expected))
