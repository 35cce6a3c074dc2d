"""The ``amp.nam`` node: a neural amp model (.nam or GuitarML .json) on the audio path."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neuropatch.assets import path as shipped_path
from neuropatch.engine import Node, Param, Port
from neuropatch.engine.errors import NeuropatchError, ResourceError
from neuropatch.engine.node import Resource

from ..dsp.block_ops import downmix_mean
from ..utility import db_to_gain
from .lstm_kernels import LinearProgram, LSTMProgram
from .nam_format import LinearSpec, LSTMSpec, WaveNetSpec, load_model
from .resampler import RateBridge

SHIPPED_MODEL = shipped_path("amp", "fluid_crunch.nam")   # LSTM-16 crunch amp (assets/README.md)


def build_program(spec, max_block: int):
    """Kernel program for a parsed spec; ``.process(x, y, fast)``, ``.reset()``."""
    if isinstance(spec, WaveNetSpec):
        from .wavenet_kernels import WaveNetProgram
        return WaveNetProgram(spec, max_block)
    if isinstance(spec, LSTMSpec):
        return LSTMProgram(spec)
    if isinstance(spec, LinearSpec):
        return LinearProgram(spec, max_block)
    raise TypeError(type(spec).__name__)


class NamAmp(Node):
    """Streams audio through a Neural Amp Modeler / GuitarML model.

    The output matches the reference core (NeuralAmpModelerCore) sample for sample: a
    WaveNet starts from a silent history, an LSTM from the file's initial state plus the
    core's half second of prewarm silence. A model trained at another rate runs at its
    own rate between two streaming resamplers (the latency they add is reported).
    """

    type_id = "amp.nam"
    compile_seconds = 2.0
    bypass_routes = (("in", "out"),)
    prepare_does_io = True
    title = "Neural Amp"
    category = "amp"
    doc = ("Neural amp model: loads a Neural Amp Modeler .nam (WaveNet, LSTM, Linear, "
           "SlimmableContainer; file versions 0.5-0.7) or a GuitarML/Proteus LSTM .json. Mono in, "
           "mono out (stereo input is averaged). Runs at the model's sample rate, resampling when "
           "the graph's differs (latency reported). After loading, node.metadata holds the model's "
           "name, gear, loudness (dB), sample rate and architecture. activation 'exact' matches "
           "the reference core to float32 rounding (tanh error 4e-7); 'fast' uses the core's "
           "fast tanh (error 4.4e-4) and is cheaper.")
    inputs = [Port("in", "audio")]
    outputs = [Port("out", "audio", channels=1)]
    params = [
        Param("input_gain_db", -24.0, 24.0, 0.0, unit="dB", smooth_ms=20.0,
              doc="gain before the model (the model's drive)", primary=True),
        Param("output_gain_db", -40.0, 24.0, 0.0, unit="dB", smooth_ms=20.0, doc="gain after the model",
              primary=True),
        Param.choice("activation", ("exact", "fast"), "exact",
                     doc="tanh flavour: exact (float32 accurate) or fast (max error 4.4e-4)"),
    ]
    resources = [Resource("model", (".nam", ".json"), "Neural Amp Modeler .nam or GuitarML .json",
                          required=True)]
    contract_samples = 4096

    @classmethod
    def contract_setup(cls, tmp_dir):
        return {"resources": {"model": str(SHIPPED_MODEL)}}

    @classmethod
    def warm_models(cls, tmp_dir) -> list:
        """(label, model file) for the kernel warm-up beyond the contract model (an LSTM): a
        tiny WaveNet (one array of two layers, 2 channels) written into `tmp_dir`; every
        WaveNet, whatever its size, runs the same kernels."""
        import json

        layer = {"input_size": 1, "condition_size": 1, "head_size": 1, "channels": 2, "kernel_size": 3,
                 "dilations": [1, 2], "activation": "Tanh", "gated": False, "head_bias": True}
        doc = {"version": "0.5.4", "architecture": "WaveNet", "sample_rate": 48000,
               "config": {"layers": [layer], "head": None, "head_scale": 1.0}, "weights": [0.01] * 50}
        path = Path(tmp_dir) / "warm_wavenet.nam"
        path.write_text(json.dumps(doc))
        return [("WaveNet", path)]

    @classmethod
    def resource_info(cls, name, path):
        """Model metadata for the inspector: name, gear, loudness, architecture, rate."""
        try:
            model = load_model(path)
        except NeuropatchError as exc:
            return {"error": str(exc)}
        meta = model.metadata
        info = {}
        if meta.get("name"):
            info["model"] = str(meta["name"])
        gear = " ".join(str(meta[k]) for k in ("gear_make", "gear_model") if meta.get(k))
        if gear:
            info["gear"] = gear + (f" ({meta['gear_type']})" if meta.get("gear_type") else "")
        if meta.get("modeled_by"):
            info["modeled by"] = str(meta["modeled_by"])
        if isinstance(meta.get("loudness"), (int, float)):
            info["loudness"] = f"{meta['loudness']:.1f} dB"
        info["architecture"] = model.architecture
        info["sample rate"] = f"{model.sample_rate} Hz" + ("" if model.sample_rate_known else " (assumed)")
        info["format"] = f"{model.source} {model.version}"
        return info

    def __init__(self):
        super().__init__()
        self.metadata: dict = {}
        self.model = None
        self._program = None
        self._bridge = None

    def param_to_internal(self, name, value):
        return db_to_gain(value) if name.endswith("_db") else value

    def prepare(self, ctx):
        path = self.resource_paths.get("model")
        if path is None:
            raise ResourceError("no model file set (resource 'model')")
        model = load_model(path)
        self.model = model
        self.metadata = dict(model.metadata)
        self.metadata.update(architecture=model.architecture, sample_rate=model.sample_rate,
                             file_version=model.version, file=Path(path).name)
        spec = ctx.in_specs.get("in")
        self._channels = spec.channels if spec is not None else 1
        bs = ctx.block_size
        self._x = np.zeros(bs, np.float32)
        self._y = np.zeros(bs, np.float32)
        self._gain = np.zeros(bs, np.float32)
        if not model.sample_rate_known:
            ctx.note(f"model file gives no sample rate; assuming {model.sample_rate} Hz as the core does")
        if model.sample_rate != ctx.sample_rate:
            model_block = int(np.ceil(bs * model.sample_rate / ctx.sample_rate)) + 2
            self._program = build_program(model.spec, model_block)
            self._bridge = RateBridge(ctx.sample_rate, model.sample_rate, bs, self._program.process, model_block)
            self.latency_samples = self._bridge.latency_samples
            ctx.note(f"model runs at {model.sample_rate} Hz; resampled from/to {ctx.sample_rate} Hz "
                     f"({self.latency_samples} samples latency)")
        else:
            self._program = build_program(model.spec, bs)
            self._bridge = None
            self.latency_samples = 0
        self._reset_model()

    def start_interim(self):
        """A WaveNet whose kernel is not loaded yet plays through its numpy path while the
        returned callable compiles the kernel (see :meth:`Node.start_interim`)."""
        program = self._program
        if program is None or not hasattr(program, "numpy_path") or program.kernel_loaded():
            return None
        program.interim = True

        def compile_kernel():
            program.compile_kernel()
            program.interim = False     # only once it exists: a failed compile leaves numpy playing
        return compile_kernel

    def _reset_model(self):
        self._program.reset()
        if self._bridge is not None:
            self._bridge.reset()

    def reset(self):
        super().reset()
        if self._program is not None:
            self._reset_model()

    def _apply_gain(self, name, buf):
        sm = self.smoother(name)
        if sm.steady:
            if sm.value != 1.0:
                buf *= np.float32(sm.value)
        else:
            ramp = self._gain[: buf.shape[0]]
            sm.fill(ramp)
            buf *= ramp

    def process(self, ins, outs, n):
        x, y = self._x[:n], self._y[:n]
        src = ins["in"]
        if src.shape[0] == 1:
            x[:] = src[0]
        else:
            downmix_mean(src, x)
        self._apply_gain("input_gain_db", x)
        fast = self.param_values["activation"] == "fast"
        if self._bridge is None:
            self._program.process(x, y, fast)
        else:
            self._bridge.process(x, y, fast)
        self._apply_gain("output_gain_db", y)
        outs["out"][0] = y
