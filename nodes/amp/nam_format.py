"""Parsing and validation of neural amp model files.

Reads Neural Amp Modeler ``.nam`` files (format versions 0.5.x to 0.7.x; architectures
``WaveNet``, ``LSTM``, ``Linear`` and ``SlimmableContainer``) and GuitarML/Proteus LSTM
``.json`` files into plain specs of float32 numpy arrays that the kernels consume.
Every fault raises :class:`ModelFormatError` naming the file and the JSON path.

Weight layout follows NeuralAmpModelerCore (``NAM/wavenet/model.cpp``, ``NAM/lstm.cpp``,
``NAM/conv1d.cpp``): one flat ``weights`` list consumed in order; convolutions are
``[out][in][tap]`` (PyTorch order) followed by the bias; grouped convolutions list
their groups one after another; ``head_scale`` is the last weight of a WaveNet; an LSTM
layer is ``W [4H, in+H]`` (rows i, f, g, o; stored bias is ``b_ih + b_hh``), then
``h0 [H]``, ``c0 [H]``; the LSTM head is ``[out, H]`` plus bias.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuropatch.engine.errors import ModelFormatError, ResourceError

#: Activation names accepted (NeuralAmpModelerCore's ``activations.cpp``) -> kernel code.
ACTIVATIONS = {
    "Tanh": 1, "Hardtanh": 2, "Fasttanh": 3, "ReLU": 4, "LeakyReLU": 5, "PReLU": 5,
    "Sigmoid": 6, "SiLU": 7, "Hardswish": 8, "LeakyHardtanh": 9, "LeakyHardTanh": 9,
    "Softsign": 10,
}
ACT_NONE = 0
GATING = {"none": 0, "gated": 1, "blended": 2}
FILM_KEYS = ("conv_pre_film", "conv_post_film", "input_mixin_pre_film", "input_mixin_post_film",
             "activation_pre_film", "activation_post_film", "layer1x1_post_film", "head1x1_post_film")
MAX_WEIGHTS = 50_000_000
DEFAULT_SAMPLE_RATE = 48000


@dataclass
class Activation:
    """An activation: kernel ``code`` and params ``[p0..p3]`` (slopes, limits)."""

    code: int
    params: tuple = (0.0, 0.0, 0.0, 0.0)


@dataclass
class WaveNetLayer:
    """One dilated layer. Shapes: ``conv_w [Zc, C, K]``, ``conv_b [Zc]``, ``mixin_w [Zc, cond]``,
    ``l1_w [C, B]``/``l1_b [C]`` (None when inactive), ``h1_w [H1, B]``/``h1_b [H1]`` (None
    when inactive); ``Zc`` is ``2*B`` for gated/blended layers, else ``B``."""

    kernel_size: int
    dilation: int
    activation: Activation
    gating: int
    secondary: Activation
    conv_w: np.ndarray
    conv_b: np.ndarray
    mixin_w: np.ndarray
    l1_w: np.ndarray | None
    l1_b: np.ndarray | None
    h1_w: np.ndarray | None
    h1_b: np.ndarray | None


@dataclass
class WaveNetLayerArray:
    """``rechannel_w [C, in]``; ``head_w [head_size, head_in, Kh]``, ``head_b [head_size]``
    (zeros when the file has no head bias); ``head_dilation`` of the head convolution."""

    input_size: int
    condition_size: int
    channels: int
    bottleneck: int
    head_in: int
    head_size: int
    rechannel_w: np.ndarray
    layers: list
    head_w: np.ndarray
    head_b: np.ndarray
    head_dilation: int

    @property
    def receptive_field(self) -> int:
        rf = sum(l.dilation * (l.kernel_size - 1) for l in self.layers)
        return rf + self.head_dilation * (self.head_w.shape[2] - 1)


@dataclass
class PostHeadConv:
    """A post-stack head stage: ``activation`` then a causal conv ``w [out, in, K]``, ``b [out]``."""

    activation: Activation
    w: np.ndarray
    b: np.ndarray


@dataclass
class WaveNetSpec:
    arrays: list
    head_scale: float
    post_head: list = field(default_factory=list)

    @property
    def receptive_field(self) -> int:
        rf = sum(a.receptive_field for a in self.arrays)
        return rf + sum(s.w.shape[2] - 1 for s in self.post_head)


@dataclass
class LSTMSpec:
    """Per layer: ``w [4H, in+H]`` (gate rows i, f, g, o), ``b [4H]``, ``h0 [H]``, ``c0 [H]``.
    ``head_w [out, H]``, ``head_b [out]``. ``skip`` adds the input to the output (GuitarML)."""

    input_size: int
    hidden_size: int
    layers: list
    head_w: np.ndarray
    head_b: np.ndarray
    skip: bool = False
    prewarm_samples: int = 0


@dataclass
class LinearSpec:
    """A causal FIR: ``taps [K]`` (tap 0 applies to the newest sample), ``bias``."""

    taps: np.ndarray
    bias: float


@dataclass
class AmpModel:
    """A loaded model: ``spec`` (one of the specs above), ``sample_rate`` (Hz), metadata."""

    architecture: str
    spec: object
    sample_rate: int
    sample_rate_known: bool
    metadata: dict
    version: str
    source: str = "nam"
    submodels: int = 1


# ---- helpers --------------------------------------------------------------------------------


class _Ctx:
    def __init__(self, file: str):
        self.file = file

    def fail(self, where: str, message: str):
        raise ModelFormatError(f"{self.file}: {where}: {message}")

    def get(self, obj, key, where, kind=None, default=...):
        if not isinstance(obj, dict):
            self.fail(where, f"expected an object, got {type(obj).__name__}")
        if key not in obj or obj[key] is None:
            if default is not ...:
                return default
            self.fail(f"{where}.{key}", "missing")
        value = obj[key]
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
                self.fail(f"{where}.{key}", f"expected an integer, got {value!r:.40}")
            value = int(value)
        elif kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                self.fail(f"{where}.{key}", f"expected a finite number, got {value!r:.40}")
            value = float(value)
        elif kind is bool:
            if not isinstance(value, bool):
                self.fail(f"{where}.{key}", f"expected true or false, got {value!r:.40}")
        elif kind is list:
            if not isinstance(value, list):
                self.fail(f"{where}.{key}", f"expected a list, got {type(value).__name__}")
        elif kind is dict:
            if not isinstance(value, dict):
                self.fail(f"{where}.{key}", f"expected an object, got {type(value).__name__}")
        return value

    def positive(self, value, where, minimum=1):
        if value < minimum:
            self.fail(where, f"must be >= {minimum}, got {value}")
        if value > 100_000:
            self.fail(where, f"implausibly large ({value})")
        return value


class _Weights:
    """Consumes a flat float32 weight vector in file order."""

    def __init__(self, ctx: _Ctx, values: np.ndarray, where: str):
        self.ctx, self.values, self.where, self.pos = ctx, values, where, 0

    def take(self, count: int) -> np.ndarray:
        end = self.pos + count
        if end > self.values.size:
            self.ctx.fail(self.where, f"wrong weight count: the config needs more than the "
                                      f"{self.values.size} weights provided")
        out = self.values[self.pos:end]
        self.pos = end
        return out

    def conv(self, out_ch: int, in_ch: int, k: int, groups: int = 1, bias: bool = True):
        """-> (w [out, in, K] dense, b [out] or None); grouped weights are expanded block-diagonally."""
        if out_ch % groups or in_ch % groups:
            self.ctx.fail(self.where, f"channels ({in_ch} -> {out_ch}) not divisible by groups {groups}")
        op, ip = out_ch // groups, in_ch // groups
        w = np.zeros((out_ch, in_ch, k), np.float32)
        for g in range(groups):
            w[g * op:(g + 1) * op, g * ip:(g + 1) * ip, :] = self.take(op * ip * k).reshape(op, ip, k)
        b = self.take(out_ch).copy() if bias else None
        return w, b

    def finish(self):
        if self.pos != self.values.size:
            self.ctx.fail(self.where, f"wrong weight count: the config uses {self.pos} weights but "
                                      f"{self.values.size} were provided")


def _weights_array(ctx: _Ctx, raw, where: str) -> np.ndarray:
    if not isinstance(raw, list):
        ctx.fail(where, f"expected a list of numbers, got {type(raw).__name__}")
    if len(raw) > MAX_WEIGHTS:
        ctx.fail(where, f"too many weights ({len(raw)})")
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        ctx.fail(where, "expected a flat list of numbers")
    if arr.ndim != 1:
        ctx.fail(where, "expected a flat list of numbers")
    bad = ~np.isfinite(arr)
    if bad.any():
        ctx.fail(f"{where}[{int(np.argmax(bad))}]", "weight is NaN or infinite")
    return arr.astype(np.float32)


def _activation(ctx: _Ctx, raw, where: str) -> Activation:
    if isinstance(raw, str):
        name, obj = raw, {}
    elif isinstance(raw, dict):
        name, obj = ctx.get(raw, "type", where, str), raw
    else:
        ctx.fail(where, f"expected an activation name or object, got {raw!r:.40}")
    if name not in ACTIVATIONS:
        ctx.fail(where, f"unsupported activation {name!r} (supported: {', '.join(sorted(set(ACTIVATIONS)))})")
    code = ACTIVATIONS[name]
    params = (0.0, 0.0, 0.0, 0.0)
    if name == "LeakyReLU":
        params = (ctx.get(obj, "negative_slope", where, float, 0.01), 0.0, 0.0, 0.0)
    elif name == "PReLU":
        if "negative_slopes" in obj:
            slopes = obj["negative_slopes"]
            if not isinstance(slopes, list) or len(set(slopes)) != 1:
                ctx.fail(where, "per-channel PReLU slopes are not supported")
            params = (float(slopes[0]), 0.0, 0.0, 0.0)
        else:
            params = (ctx.get(obj, "negative_slope", where, float, 0.25), 0.0, 0.0, 0.0)
    elif code == 9:
        params = (ctx.get(obj, "min_val", where, float, -1.0), ctx.get(obj, "max_val", where, float, 1.0),
                  ctx.get(obj, "min_slope", where, float, 0.01), ctx.get(obj, "max_slope", where, float, 0.01))
    return Activation(code, params)


def _per_layer(ctx: _Ctx, raw, n: int, where: str, parse):
    if isinstance(raw, list):
        if len(raw) != n:
            ctx.fail(where, f"has {len(raw)} entries but there are {n} dilations")
        return [parse(v, f"{where}[{i}]") for i, v in enumerate(raw)]
    return [parse(raw, where)] * n


# ---- WaveNet --------------------------------------------------------------------------------


def _parse_wavenet(ctx: _Ctx, config: dict, weights: np.ndarray) -> WaveNetSpec:
    where = "$.config"
    if "condition_dsp" in config and config["condition_dsp"] is not None:
        ctx.fail(f"{where}.condition_dsp", "WaveNet condition DSPs are not supported")
    layers_cfg = ctx.get(config, "layers", where, list)
    if not layers_cfg:
        ctx.fail(f"{where}.layers", "needs at least one layer array")
    head_scale_cfg = ctx.get(config, "head_scale", where, float)
    w = _Weights(ctx, weights, "$.weights")
    arrays = []
    for i, lc in enumerate(layers_cfg):
        lw = f"{where}.layers[{i}]"
        if not isinstance(lc, dict):
            ctx.fail(lw, "expected an object")
        for key in FILM_KEYS:
            film = lc.get(key)
            if film not in (None, False) and (not isinstance(film, dict) or film.get("active", True)):
                ctx.fail(f"{lw}.{key}", "FiLM conditioning is not supported")
        if isinstance(lc.get("slimmable"), dict):
            ctx.fail(f"{lw}.slimmable", "slimmable WaveNet layers are not supported")
        input_size = ctx.positive(ctx.get(lc, "input_size", lw, int), f"{lw}.input_size")
        cond = ctx.positive(ctx.get(lc, "condition_size", lw, int), f"{lw}.condition_size")
        channels = ctx.positive(ctx.get(lc, "channels", lw, int), f"{lw}.channels")
        bottleneck = ctx.positive(ctx.get(lc, "bottleneck", lw, int, channels), f"{lw}.bottleneck")
        groups_in = ctx.positive(ctx.get(lc, "groups_input", lw, int, 1), f"{lw}.groups_input")
        groups_mix = ctx.positive(ctx.get(lc, "groups_input_mixin", lw, int, 1), f"{lw}.groups_input_mixin")
        l1 = ctx.get(lc, "layer1x1", lw, dict, {"active": True, "groups": 1})
        l1_active = ctx.get(l1, "active", f"{lw}.layer1x1", bool, True)
        l1_groups = ctx.get(l1, "groups", f"{lw}.layer1x1", int, 1)
        if not l1_active and bottleneck != channels:
            ctx.fail(f"{lw}.layer1x1", f"inactive layer1x1 needs bottleneck ({bottleneck}) == channels ({channels})")
        h1 = ctx.get(lc, "head1x1", lw, dict, {"active": False})
        h1_active = ctx.get(h1, "active", f"{lw}.head1x1", bool, False)
        h1_out = ctx.get(h1, "out_channels", f"{lw}.head1x1", int, channels)
        h1_groups = ctx.get(h1, "groups", f"{lw}.head1x1", int, 1)
        head = lc.get("head")
        if isinstance(head, dict):
            head_size = ctx.positive(ctx.get(head, "out_channels", f"{lw}.head", int), f"{lw}.head.out_channels")
            head_k = ctx.positive(ctx.get(head, "kernel_size", f"{lw}.head", int), f"{lw}.head.kernel_size")
            head_bias = ctx.get(head, "bias", f"{lw}.head", bool)
            head_d = ctx.positive(ctx.get(head, "head_dilation", f"{lw}.head", int, 1), f"{lw}.head.head_dilation")
        elif head is None and "head_size" in lc:
            head_size = ctx.positive(ctx.get(lc, "head_size", lw, int), f"{lw}.head_size")
            head_bias = ctx.get(lc, "head_bias", lw, bool)
            head_k, head_d = 1, 1
        else:
            ctx.fail(lw, "expected a 'head' object or legacy 'head_size' and 'head_bias'")
        dil = ctx.get(lc, "dilations", lw, list)
        if not dil:
            ctx.fail(f"{lw}.dilations", "must not be empty")
        n = len(dil)
        dilations = [ctx.positive(ctx.get({"d": d}, "d", f"{lw}.dilations[{j}]", int), f"{lw}.dilations[{j}]")
                     for j, d in enumerate(dil)]
        if "kernel_size" in lc and "kernel_sizes" in lc:
            ctx.fail(lw, "only one of kernel_size or kernel_sizes may be given")
        if "kernel_sizes" in lc:
            ks = ctx.get(lc, "kernel_sizes", lw, list)
            if len(ks) != n:
                ctx.fail(f"{lw}.kernel_sizes", f"has {len(ks)} entries but there are {n} dilations")
            kernel_sizes = [ctx.positive(ctx.get({"k": k}, "k", f"{lw}.kernel_sizes[{j}]", int),
                                         f"{lw}.kernel_sizes[{j}]") for j, k in enumerate(ks)]
        else:
            k = ctx.positive(ctx.get(lc, "kernel_size", lw, int), f"{lw}.kernel_size")
            kernel_sizes = [k] * n
        acts = _per_layer(ctx, ctx.get(lc, "activation", lw), n, f"{lw}.activation",
                          lambda v, p: _activation(ctx, v, p))
        if "gating_mode" in lc:
            gm = _per_layer(ctx, lc["gating_mode"], n, f"{lw}.gating_mode",
                            lambda v, p: GATING[v] if v in GATING else ctx.fail(p, f"unknown gating mode {v!r:.40}"))
            sec_raw = lc.get("secondary_activation")
            if sec_raw is None:
                secs = [Activation(6)] * n
            else:
                secs = _per_layer(ctx, sec_raw, n, f"{lw}.secondary_activation",
                                  lambda v, p: Activation(6) if v is None else _activation(ctx, v, p))
        else:
            gated = ctx.get(lc, "gated", lw, bool, False)
            gm, secs = [1 if gated else 0] * n, [Activation(6)] * n
        if i > 0 and channels != arrays[-1].head_size:
            ctx.fail(f"{lw}.channels", f"{channels} does not match head size {arrays[-1].head_size} of the array before")
        if i > 0 and input_size != arrays[-1].channels:
            ctx.fail(f"{lw}.input_size", f"{input_size} does not match channels {arrays[-1].channels} of the array before")
        if i == 0 and input_size != 1:
            ctx.fail(f"{lw}.input_size", "only mono input (1) is supported")
        if cond != 1:
            ctx.fail(f"{lw}.condition_size", "only the mono input as condition (1) is supported")
        head_in = h1_out if h1_active else bottleneck
        if i > 0 and head_in != arrays[-1].head_size:
            ctx.fail(lw, f"head input size {head_in} does not match head size {arrays[-1].head_size} of the array before")
        rechannel_w, _ = w.conv(channels, input_size, 1, 1, bias=False)
        layers = []
        for j in range(n):
            zc = 2 * bottleneck if gm[j] else bottleneck
            conv_w, conv_b = w.conv(zc, channels, kernel_sizes[j], groups_in, bias=True)
            mixin_w, _ = w.conv(zc, cond, 1, groups_mix, bias=False)
            l1_w = l1_b = h1_w = h1_b = None
            if l1_active:
                l1_w, l1_b = w.conv(channels, bottleneck, 1, l1_groups, bias=True)
            if h1_active:
                h1_w, h1_b = w.conv(h1_out, bottleneck, 1, h1_groups, bias=True)
            layers.append(WaveNetLayer(kernel_sizes[j], dilations[j], acts[j], gm[j], secs[j], conv_w, conv_b,
                                       mixin_w[:, :, 0].copy(), None if l1_w is None else l1_w[:, :, 0].copy(),
                                       l1_b, None if h1_w is None else h1_w[:, :, 0].copy(), h1_b))
        head_w, head_b = w.conv(head_size, head_in, head_k, 1, bias=head_bias)
        if head_b is None:
            head_b = np.zeros(head_size, np.float32)
        arrays.append(WaveNetLayerArray(input_size, cond, channels, bottleneck, head_in, head_size,
                                        rechannel_w[:, :, 0].copy(), layers, head_w, head_b, head_d))
    post = []
    head_cfg = config.get("head")
    if head_cfg is not None:
        hw = f"{where}.head"
        if not isinstance(head_cfg, dict):
            ctx.fail(hw, "expected an object or null")
        hch = ctx.positive(ctx.get(head_cfg, "channels", hw, int), f"{hw}.channels")
        hout = ctx.positive(ctx.get(head_cfg, "out_channels", hw, int), f"{hw}.out_channels")
        hks = ctx.get(head_cfg, "kernel_sizes", hw, list)
        if not hks:
            ctx.fail(f"{hw}.kernel_sizes", "must not be empty")
        act = _activation(ctx, ctx.get(head_cfg, "activation", hw), f"{hw}.activation")
        cin = arrays[-1].head_size
        for j, k in enumerate(hks):
            k = ctx.positive(ctx.get({"k": k}, "k", f"{hw}.kernel_sizes[{j}]", int), f"{hw}.kernel_sizes[{j}]")
            cout = hout if j == len(hks) - 1 else hch
            cw, cb = w.conv(cout, cin, k, 1, bias=True)
            post.append(PostHeadConv(act, cw, cb))
            cin = cout
        out_ch = hout
    else:
        out_ch = arrays[-1].head_size
    if out_ch != 1:
        ctx.fail(where, f"only mono output is supported (model has {out_ch} output channels)")
    head_scale = float(w.take(1)[0])
    w.finish()
    del head_scale_cfg  # the weight list's last value is authoritative, as in the core
    return WaveNetSpec(arrays, head_scale, post)


# ---- LSTM -----------------------------------------------------------------------------------


def _parse_lstm(ctx: _Ctx, config: dict, weights: np.ndarray, sample_rate: int) -> LSTMSpec:
    where = "$.config"
    n_layers = ctx.positive(ctx.get(config, "num_layers", where, int), f"{where}.num_layers")
    input_size = ctx.positive(ctx.get(config, "input_size", where, int), f"{where}.input_size")
    hidden = ctx.positive(ctx.get(config, "hidden_size", where, int), f"{where}.hidden_size")
    if input_size != 1 or config.get("in_channels", 1) != 1 or config.get("out_channels", 1) != 1:
        ctx.fail(where, "only mono LSTM models (input_size 1, one output) are supported")
    w = _Weights(ctx, weights, "$.weights")
    layers = []
    for i in range(n_layers):
        nin = input_size if i == 0 else hidden
        lw = w.take(4 * hidden * (nin + hidden)).reshape(4 * hidden, nin + hidden).copy()
        b = w.take(4 * hidden).copy()
        h0 = w.take(hidden).copy()
        c0 = w.take(hidden).copy()
        layers.append((lw, b, h0, c0))
    head_w = w.take(hidden).reshape(1, hidden).copy()
    head_b = w.take(1).copy()
    w.finish()
    # NeuralAmpModelerCore's LSTM::GetPrewarmSamples: half a second of silence at the model rate
    return LSTMSpec(input_size, hidden, layers, head_w, head_b, False, max(1, int(0.5 * sample_rate)))


# ---- Linear ---------------------------------------------------------------------------------


def _parse_linear(ctx: _Ctx, config: dict, weights: np.ndarray) -> LinearSpec:
    where = "$.config"
    rf = ctx.positive(ctx.get(config, "receptive_field", where, int), f"{where}.receptive_field")
    bias = ctx.get(config, "bias", where, bool)
    if weights.size != rf + (1 if bias else 0):
        ctx.fail("$.weights", f"wrong weight count: expected {rf + (1 if bias else 0)}, got {weights.size}")
    # NeuralAmpModelerCore (NAM/linear.cpp) applies weights[0] to the newest sample; this is
    # the reverse of the trainer's torch Conv1d, and the core is what plugins run
    taps = weights[:rf].copy()
    return LinearSpec(taps, float(weights[rf]) if bias else 0.0)


# ---- file level -----------------------------------------------------------------------------


def _check_version(ctx: _Ctx, version) -> str:
    if not isinstance(version, str):
        ctx.fail("$.version", f"expected a version string like \"0.5.4\", got {version!r:.40}")
    parts = version.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        ctx.fail("$.version", f"malformed version {version!r:.40}")
    major, minor, _ = (int(p) for p in parts)
    if (major, minor) < (0, 5) or (major, minor) > (0, 7):
        ctx.fail("$.version", f"unsupported file version {version} (supported: 0.5.x to 0.7.x)")
    return version


def _metadata(raw) -> dict:
    meta = raw if isinstance(raw, dict) else {}
    keep = {}
    for key in ("name", "modeled_by", "gear_type", "gear_make", "gear_model", "tone_type",
                "loudness", "gain", "input_level_dbu", "output_level_dbu", "date"):
        value = meta.get(key)
        if isinstance(value, (str, int, float, dict)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                continue
            keep[key] = value
    return keep


def _parse_nam_dict(ctx: _Ctx, d: dict, where_prefix: str = "$") -> AmpModel:
    if not isinstance(d, dict):
        ctx.fail(where_prefix, "expected a JSON object")
    version = _check_version(ctx, d.get("version"))
    arch = ctx.get(d, "architecture", where_prefix, str)
    config = ctx.get(d, "config", where_prefix, dict)
    sr_raw = d.get("sample_rate")
    known = sr_raw is not None
    if known:
        if isinstance(sr_raw, bool) or not isinstance(sr_raw, (int, float)) or not 1000 <= sr_raw <= 768000 \
                or float(sr_raw) != int(sr_raw):
            ctx.fail(f"{where_prefix}.sample_rate", f"expected a sample rate in Hz, got {sr_raw!r:.40}")
    sr = int(sr_raw) if known else DEFAULT_SAMPLE_RATE
    meta = _metadata(d.get("metadata"))
    if arch == "SlimmableContainer":
        subs = ctx.get(config, "submodels", f"{where_prefix}.config", list)
        if not subs:
            ctx.fail(f"{where_prefix}.config.submodels", "must be a non-empty list")
        prev = -math.inf
        for i, s in enumerate(subs):
            mv = ctx.get(s, "max_value", f"{where_prefix}.config.submodels[{i}]", float)
            if mv <= prev:
                ctx.fail(f"{where_prefix}.config.submodels[{i}].max_value", "submodels must be sorted ascending")
            prev = mv
        if prev < 1.0:
            ctx.fail(f"{where_prefix}.config.submodels", "the last submodel's max_value must be >= 1.0")
        # the core runs the full-size (last) submodel by default
        inner = _parse_nam_dict(ctx, ctx.get(subs[-1], "model", f"{where_prefix}.config.submodels[{len(subs) - 1}]"),
                                f"{where_prefix}.config.submodels[{len(subs) - 1}].model")
        if known and inner.sample_rate_known and inner.sample_rate != sr:
            ctx.fail(f"{where_prefix}.config.submodels", "submodel sample rate differs from the container's")
        merged = dict(inner.metadata)
        merged.update(meta)
        return AmpModel(f"SlimmableContainer/{inner.architecture}", inner.spec,
                        sr if known else inner.sample_rate, known or inner.sample_rate_known,
                        merged, version, "nam", len(subs))
    weights = _weights_array(ctx, d.get("weights") if "weights" in d else ctx.fail(f"{where_prefix}.weights", "missing"),
                             f"{where_prefix}.weights")
    if arch == "WaveNet":
        spec = _parse_wavenet(ctx, config, weights)
    elif arch == "LSTM":
        spec = _parse_lstm(ctx, config, weights, sr)
    elif arch == "Linear":
        spec = _parse_linear(ctx, config, weights)
    else:
        ctx.fail(f"{where_prefix}.architecture",
                 f"unsupported architecture {arch!r:.40} (supported: WaveNet, LSTM, Linear, SlimmableContainer)")
    return AmpModel(arch, spec, sr, known, meta, version)


# ---- GuitarML / Proteus ---------------------------------------------------------------------


def _tensor(ctx: _Ctx, sd: dict, key: str, shape: tuple) -> np.ndarray:
    where = f"$.state_dict.{key}"
    raw = ctx.get(sd, key, "$.state_dict")
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        ctx.fail(where, "expected a (nested) list of numbers")
    if arr.shape != shape:
        if arr.ndim == 2 and arr.T.shape == shape and shape[0] != shape[1]:
            arr = arr.T
        elif arr.size == int(np.prod(shape)) and arr.ndim <= 1:
            arr = arr.reshape(shape)
        else:
            ctx.fail(where, f"wrong weight count: expected shape {list(shape)}, got {list(arr.shape)}")
    if not np.all(np.isfinite(arr)):
        ctx.fail(where, "weight is NaN or infinite")
    return arr.astype(np.float32)


def _parse_guitarml(ctx: _Ctx, d: dict) -> AmpModel:
    md = ctx.get(d, "model_data", "$", dict)
    sd = ctx.get(d, "state_dict", "$", dict)
    unit = md.get("unit_type", "LSTM")
    if unit != "LSTM":
        ctx.fail("$.model_data.unit_type", f"unsupported unit type {unit!r:.40} (supported: LSTM)")
    hidden = ctx.positive(ctx.get(md, "hidden_size", "$.model_data", int), "$.model_data.hidden_size")
    n_layers = ctx.positive(ctx.get(md, "num_layers", "$.model_data", int, 1), "$.model_data.num_layers")
    input_size = ctx.get(md, "input_size", "$.model_data", int, 1)
    out_size = ctx.get(md, "output_size", "$.model_data", int, 1)
    if input_size != 1 or out_size != 1:
        ctx.fail("$.model_data", "only mono models (input_size 1, output_size 1) are supported")
    skip = bool(ctx.get(md, "skip", "$.model_data", int, 0))
    layers = []
    for i in range(n_layers):
        nin = input_size if i == 0 else hidden
        w_ih = _tensor(ctx, sd, f"rec.weight_ih_l{i}", (4 * hidden, nin))
        w_hh = _tensor(ctx, sd, f"rec.weight_hh_l{i}", (4 * hidden, hidden))
        b = _tensor(ctx, sd, f"rec.bias_ih_l{i}", (4 * hidden,)) + _tensor(ctx, sd, f"rec.bias_hh_l{i}", (4 * hidden,))
        layers.append((np.concatenate([w_ih, w_hh], axis=1), b, np.zeros(hidden, np.float32),
                       np.zeros(hidden, np.float32)))
    head_w = _tensor(ctx, sd, "lin.weight", (1, hidden))
    head_b = _tensor(ctx, sd, "lin.bias", (1,))
    sr_raw = md.get("sample_rate", md.get("samplerate"))
    known = isinstance(sr_raw, (int, float)) and not isinstance(sr_raw, bool) and 1000 <= sr_raw <= 768000
    sr = int(sr_raw) if known else 44100  # GuitarML/Proteus captures are 44.1 kHz unless stated
    meta = {k: v for k, v in md.items() if k in ("name", "author", "gear_type") and isinstance(v, str)}
    spec = LSTMSpec(input_size, hidden, layers, head_w, head_b, skip, 0)
    return AmpModel("LSTM", spec, sr, known, meta, "guitarml", "guitarml")


# ---- entry point ----------------------------------------------------------------------------


def parse_model_dict(d, file: str = "<model>") -> AmpModel:
    """Parse an already decoded JSON document (``.nam`` or GuitarML ``.json``)."""
    ctx = _Ctx(file)
    if not isinstance(d, dict):
        ctx.fail("$", "expected a JSON object")
    if "model_data" in d or "state_dict" in d:
        return _parse_guitarml(ctx, d)
    return _parse_nam_dict(ctx, d)


def load_model(path: str | Path) -> AmpModel:
    """Load a ``.nam`` or GuitarML ``.json`` file. Raises ResourceError (unreadable file) or
    ModelFormatError (content invalid; the message names the JSON path of the fault)."""
    path = Path(path)
    if not path.exists():
        raise ResourceError(f"{path}: no such model file")
    if path.is_dir():
        raise ResourceError(f"{path}: is a directory, not a model file")
    if path.stat().st_size > 512 * 1024 * 1024:
        raise ModelFormatError(f"{path}: model file larger than 512 MB")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResourceError(f"{path}: cannot read model file ({exc})") from None
    try:
        d = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ModelFormatError(f"{path}: $: not valid JSON ({exc})") from None
    return parse_model_dict(d, str(path))
