"""``ddx7.decoder``: DDX7 (Caspe, McPherson and Sandler 2022) in a patch.

feature.pitch + feature.loudness -> ddx7.decoder -> synth.fm: a causal dilated TCN maps
f0 and loudness frames to the six operator levels of an FM synth whose algorithm and
ratios the model fixes (set synth.fm's to the model's: the inspector shows them).
"""
from __future__ import annotations

from pathlib import Path


from neuropatch.assets import path as shipped_path
from neuropatch.engine import Node, Param, Port
from neuropatch.engine.errors import NeuropatchError, NodeConfigError, ResourceError
from neuropatch.engine.node import Resource
from neuropatch.engine.streams import StreamSpec

from .model import N_OPERATORS, load_model, receptive_field
from .processor import DDX7Processor

SHIPPED_MODEL = shipped_path("ddx7", "violin.safetensors")
DEFAULT_HOP = 256


def model_info(path) -> dict:
    """What the inspector shows about a DDX7 model file."""
    try:
        model = load_model(path)
    except NeuropatchError as exc:
        return {"error": str(exc)}
    cfg = model.config
    info = {"model": str(cfg.get("name", Path(path).stem)), "rate": f"{cfg['sample_rate']} Hz",
            "hop": str(cfg["hop"]), "algorithm": str(cfg["algorithm"]),
            "ratios": " ".join(f"{r:g}" for r in cfg["ratios"]),
            "network": f"TCN {cfg['blocks']} x {cfg['channels']}, {model.parameters} parameters, "
                       f"{receptive_field(cfg)} frames receptive field"}
    quality = (cfg.get("training") or {}).get("quality")
    if quality:
        info["held-out loss"] = f"{quality.get('model', float('nan')):.3f} (saw {quality.get('sawtooth', float('nan')):.3f})"
    return info


class DDX7Decoder(Node):
    """f0 + loudness frames -> (held and shifted f0, six operator levels) frames.

    Inputs (frames, 1 channel x 1 bin, one hop): ``f0`` (Hz; unvoiced frames hold the
    last voiced f0), ``loudness`` (dB, feature.loudness). Outputs, one frame per input
    pair, no latency: ``f0`` [1] Hz, ``levels`` [6] (synth.fm's units: carrier amplitude,
    modulator index in radians). The TCN keeps its convolution history between frames.
    """

    type_id = "ddx7.decoder"
    title = "DDX7 decoder"
    category = "ddsp"
    doc = ("DDX7 decoder: a causal dilated temporal convolutional network from f0 (Hz) and loudness (dB) "
           "frames to the six operator levels of synth.fm (set its algorithm and ratios to the model's).")
    inputs = [Port("f0", "frames", 1, doc="f0 in Hz per frame (feature.pitch 'out'; 0 = unvoiced)"),
              Port("loudness", "frames", 1, doc="loudness in dB per frame (feature.loudness 'out')")]
    outputs = [Port("f0", "frames", 1, doc="f0 in Hz per frame (held over unvoiced frames, pitch shift applied)"),
               Port("levels", "frames", 1, doc="six operator levels per frame (synth.fm 'levels')")]
    params = [
        Param("pitch_shift_semitones", -24.0, 24.0, 0.0, unit="st", primary=True),
        Param("loudness_offset_db", -40.0, 40.0, 0.0, unit="dB", primary=True,
              doc="added to the loudness the decoder sees"),
    ]
    resources = [Resource("model", (".safetensors",), "DDX7 decoder weights (train-ddx7)", required=True,
                          companions=(".json",))]
    prepare_does_io = True

    @classmethod
    def contract_setup(cls, tmp_dir):
        shape = {"channels": 1, "bins": 1, "hop": DEFAULT_HOP}
        return {"resources": {"model": str(SHIPPED_MODEL)}, "inputs": {"f0": shape, "loudness": shape}}

    @classmethod
    def resource_info(cls, name, path):
        return model_info(path)

    def prepare(self, ctx):
        hops = set()
        for port in ("f0", "loudness"):
            spec = ctx.in_specs.get(port)
            if spec is None:
                continue
            if spec.channels != 1 or spec.bins != 1:
                raise NodeConfigError(ctx.node_id, f"input {port!r} expects 1 channel x 1 bin frames, "
                                                   f"got {spec.channels} x {spec.bins}")
            if spec.hop > 0:
                hops.add(spec.hop)
        if len(hops) > 1:
            raise NodeConfigError(ctx.node_id, "inputs 'f0' and 'loudness' must share one hop")
        hop = hops.pop() if hops else DEFAULT_HOP
        path = self.resource_paths.get("model")
        if path is None:
            raise ResourceError("no model file set (resource 'model')")
        model = load_model(path)
        if int(model.config["hop"]) != hop:
            raise NodeConfigError(ctx.node_id, f"{Path(path).name} was trained on frames of hop {model.config['hop']}; "
                                               f"the f0/loudness inputs have hop {hop}")
        if model.config["sample_rate"] != ctx.sample_rate:
            ctx.note(f"model trained at {model.config['sample_rate']} Hz, running at {ctx.sample_rate} Hz")
        cfg = model.config
        ctx.note(f"play it with synth.fm algorithm {cfg['algorithm']}, ratios "
                 f"{' '.join(f'{r:g}' for r in cfg['ratios'])}, feedback {cfg.get('feedback', 0.0):g}")
        self._decoder = DDX7Processor(model, ctx.block_size, hop)
        ctx.out_specs["f0"] = StreamSpec("frames", 1, 1, hop)
        ctx.out_specs["levels"] = StreamSpec("frames", 1, N_OPERATORS, hop)

    def reset(self):
        super().reset()
        if hasattr(self, "_decoder"):
            self._decoder.reset()

    def process(self, ins, outs, n):
        p = self.param_values
        f0, loud = ins["f0"], ins["loudness"]
        made = self._decoder.process(f0.data, f0.count, loud.data, loud.count,
                                     2.0 ** (p["pitch_shift_semitones"] / 12.0), p["loudness_offset_db"],
                                     outs["f0"].data, outs["levels"].data)
        outs["f0"].count = made
        outs["levels"].count = made


NODE_CLASSES = [DDX7Decoder]


