"""The worker side of ``vae.rave``: an nn~-convention model called on whole chunks.

Runs inside the inference lane's worker (a spawned process by default: a TorchScript
file is code). Built from plain data (:class:`RaveChunkModel` ``(config)``):

``path`` (.ts nn~ export, trusted by the node before the worker starts, or our own
.safetensors + .json), ``mode`` (a method name), ``graph_sr`` (Hz), ``chunk`` (graph
samples per call), ``attributes`` {name: value} set through ``set_<name>``, ``seed``
(torch's RNG is seeded on every reset, so RAVE's noise draws repeat), ``threads``
(torch intra-op threads in the worker), ``device`` ("cpu" | "cuda" | "auto").

Chunk arrays (see :mod:`neuropatch.engine.lane`): audio float32 [channels, chunk],
latent float32 [chunk // ratio, dims].
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

CACHE_SUFFIXES = ("cache", "pad")


def load_any(path: Path):
    """A scripted nn~-convention module from a .ts export or our .safetensors + .json."""
    import torch

    if path.suffix.lower() == ".safetensors":
        from .convention_model import load_convention_model
        return load_convention_model(path)
    # torch.jit.load reads TorchScript archives only (no pickled Python objects)
    return torch.jit.load(str(path), map_location="cpu")


def cache_buffers(model) -> list:
    """Streaming state: buffers whose last name part ends in 'cache' or 'pad'."""
    return [b for name, b in model.named_buffers() if name.rsplit(".", 1)[-1].endswith(CACHE_SUFFIXES)]


def model_sample_rate(model) -> int:
    """``get_sample_rate()`` (nn-tilde 1.6; -1 when unset) or the int attribute ``sr``
    (1.5-era RAVE exports). Never ``set_sample_rate``: nn~ 1.6 hosts overwrite it."""
    if hasattr(model, "get_sample_rate"):
        sr = int(model.get_sample_rate())
        if sr > 0:
            return sr
    if getattr(model, "sr", None) is not None:
        return int(model.sr)
    raise ValueError("the model states no sample rate (neither get_sample_rate() nor sr)")


def _scalar(value):
    """Attribute getters return a scalar (1.5-era) or a one-element tuple/list (1.6)."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, (int, float, bool, str)) else None


def describe_model(model) -> dict:
    """Plain data: methods with [in_ch, in_ratio, out_ch, out_ratio] and labels, sr, attributes."""
    if hasattr(model, "get_methods"):
        methods = [str(m) for m in model.get_methods()]
    else:   # as nn~ does: every method with a <method>_params table
        methods = [m for m in ("forward", "encode", "decode", "prior") if hasattr(model, f"{m}_params")]
    params, labels = {}, {}
    for m in methods:
        buf = getattr(model, f"{m}_params", None)
        if buf is None:
            raise ValueError(f"method {m!r} has no {m}_params buffer")
        values = [int(v) for v in buf.tolist()]
        if len(values) != 4 or min(values) < 1:
            raise ValueError(f"{m}_params must be 4 positive ints [in_ch, in_ratio, out_ch, out_ratio], got {values}")
        params[m] = values
        labels[m] = [list(getattr(model, f"{m}_input_labels", []) or []),
                     list(getattr(model, f"{m}_output_labels", []) or [])]
    attributes = {}
    if hasattr(model, "get_attributes"):
        for name in model.get_attributes():
            if name == "none":      # nn-tilde 1.5's placeholder entry
                continue
            getter = getattr(model, f"get_{name}", None)
            attributes[str(name)] = _scalar(getter()) if getter is not None else None
    return {"methods": methods, "params": params, "labels": labels, "sr": model_sample_rate(model),
            "attributes": attributes}


class RaveChunkModel:
    """Calls ``model.<mode>`` on one chunk; resamples audio -> audio when rates differ."""

    def __init__(self, config: dict):
        import torch

        self.torch = torch
        torch.set_num_threads(int(config.get("threads", 1)))
        self.config = config
        self.model = load_any(Path(config["path"]))
        device = config.get("device", "cpu")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.model = self.model.to(self.device)
        self.info = describe_model(self.model)
        mode = config["mode"]
        if mode not in self.info["methods"]:
            raise ValueError(f"the model has no method {mode!r} (it has {', '.join(self.info['methods'])})")
        self.method = getattr(self.model, mode)
        for name, value in (config.get("attributes") or {}).items():
            setter = getattr(self.model, f"set_{name}", None)
            if setter is None or name not in self.info["attributes"]:
                known = ", ".join(self.info["attributes"]) or "none"
                raise ValueError(f"the model has no attribute {name!r} (it has: {known})")
            current = self.info["attributes"][name]
            setter(type(current)(value) if isinstance(current, (bool, int, float)) else value)
        self.info["attributes"] = describe_model(self.model)["attributes"]   # as set
        self.caches = cache_buffers(self.model)
        self.in_ch, self.in_ratio, self.out_ch, self.out_ratio = self.info["params"][mode]
        self.bridge = None
        graph_sr, model_sr = int(config["graph_sr"]), self.info["sr"]
        if graph_sr != model_sr:
            self.bridge = _AudioBridge(graph_sr, model_sr, int(config["chunk"]), self.in_ch,
                                       self.out_ch, max(self.model_ratio(), 1), self._call_audio)
        self._warm_up()
        self.reset()

    def _warm_up(self) -> None:
        """One silent call (torch's first call is slow) so the first live chunk is on time."""
        granule = self.model_ratio()
        frames = max(1, int(self.config["chunk"]) // granule)
        self._call(np.zeros((self.in_ch, frames * (granule // self.in_ratio) if self.in_ratio > 1
                             else frames * granule), np.float32))

    def model_ratio(self) -> int:
        """Samples per call granule: the largest ratio of any method (RAVE: the encoder's)."""
        return max(max(p[1], p[3]) for p in self.info["params"].values())

    def describe(self) -> dict:
        info = dict(self.info)
        info["bridge_delay"] = self.bridge.delay if self.bridge is not None else 0
        return info

    def reset(self) -> None:
        with self.torch.inference_mode():
            for buf in self.caches:
                buf.zero_()
        self.torch.manual_seed(int(self.config.get("seed", 0)))
        if self.bridge is not None:
            self.bridge.reset()

    def _call(self, x: np.ndarray) -> np.ndarray:
        """x: [channels, T] -> method output [channels', T'] (float32, numpy)."""
        torch = self.torch
        with torch.inference_mode():
            t = torch.from_numpy(np.ascontiguousarray(x, np.float32))[None].to(self.device)
            y = self.method(t)
        return y[0].detach().to("cpu").numpy()

    def _call_audio(self, x: np.ndarray) -> np.ndarray:
        return self._call(x)

    def process(self, inputs: dict, outputs: dict) -> None:
        (x,), (y,) = inputs.values(), outputs.values()
        if self.in_ratio > 1:
            x = x.T                               # latent in: [frames, dims] -> [dims, frames]
        if self.bridge is not None:
            self.bridge.process(x, y)
            return
        out = self._call(x)
        if self.out_ratio > 1:
            y[:] = out.T                          # latent out: [frames, dims]
        else:
            y[:] = out                            # audio [channels, chunk]


class _AudioBridge:
    """Audio -> audio at another rate, per chunk: graph-rate chunk -> streaming resampler ->
    model-rate FIFO, the model on whole granules, -> resampler -> graph-rate FIFO primed
    with ``delay`` samples, so exactly one chunk comes out per chunk in (deterministic)."""

    def __init__(self, graph_sr, model_sr, chunk, in_ch, out_ch, granule, call):
        from neuropatch.nodes.amp.resampler import StreamingResampler

        self.chunk, self.granule, self.call = chunk, granule, call
        self.down = [StreamingResampler(graph_sr, model_sr, chunk) for _ in range(in_ch)]
        max_model = self.down[0].max_out + granule
        self.up = [StreamingResampler(model_sr, graph_sr, max_model) for _ in range(out_ch)]
        self.m_in = np.zeros((in_ch, 4 * max_model), np.float32)
        self.m_fill = 0
        self.g_out = np.zeros((out_ch, 8 * chunk + 4 * self.up[0].max_out), np.float32)
        resampler_delay = self.down[0].delay_in + self.up[0].delay_in * graph_sr / model_sr
        # worst case the model holds granule - 1 model samples back (in graph samples) + slack
        self.delay = int(np.ceil(resampler_delay + (granule - 1) * graph_sr / model_sr)) + 4
        self.tmp = np.zeros(self.down[0].max_out, np.float32)
        self.tmp_up = np.zeros(self.up[0].max_out, np.float32)

    def reset(self):
        for r in self.down + self.up:
            r.reset()
        self.m_fill = 0
        self.g_out.fill(0.0)
        self.g_fill = self.delay

    def process(self, x: np.ndarray, y: np.ndarray) -> None:
        k = 0
        for c, r in enumerate(self.down):
            k = r.process(x[c], self.tmp)
            self.m_in[c, self.m_fill:self.m_fill + k] = self.tmp[:k]
        self.m_fill += k
        whole = (self.m_fill // self.granule) * self.granule
        if whole:
            out = self.call(self.m_in[:, :whole])
            self.m_in[:, : self.m_fill - whole] = self.m_in[:, whole:self.m_fill]
            self.m_fill -= whole
            m = 0
            for c, r in enumerate(self.up):
                m = r.process(np.ascontiguousarray(out[c], np.float32), self.tmp_up)
                self.g_out[c, self.g_fill:self.g_fill + m] = self.tmp_up[:m]
            self.g_fill += m
        n = self.chunk
        take = min(n, self.g_fill)
        y[:, :take] = self.g_out[: y.shape[0], :take]
        y[:, take:] = 0.0
        self.g_out[:, : self.g_fill - take] = self.g_out[:, take:self.g_fill]
        self.g_fill -= take
