"""The ddsp.* nodes: a decoder, three synths, and ddsp.synth that chains them in one node.

Patch them as DDSP does: feature.pitch + feature.loudness -> ddsp.decoder ->
(ddsp.harmonic + ddsp.noise) -> util.mix -> ddsp.reverb; anything between them (a
latent.* node, an LFO on a frames port) bends the controls.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from neuropatch.assets import path as shipped_path
from neuropatch.engine import Node, Param, Port
from neuropatch.engine.errors import NeuropatchError, NodeConfigError, ResourceError
from neuropatch.engine.node import Resource
from neuropatch.engine.streams import StreamSpec

from ..utility import db_to_gain
from .calibrate import onset_lead_for
from .model import load_model
from .timbre import ENCODER_DEFAULTS, MfccTables, encoder_block
from ..spectral.framing import FramedAnalysis
from .processors import DecoderProcessor, HarmonicProcessor, NoiseProcessor, ReverbProcessor, exponential_ir

SHIPPED_MODEL = shipped_path("ddsp", "violin.safetensors")
DEFAULT_HOP = 256
MODEL_RESOURCE = Resource("model", (".safetensors",), "DDSP decoder weights (train-ddsp)", required=True,
                          companions=(".json",))


def model_info(path) -> dict:
    """What the inspector shows about a DDSP model file."""
    try:
        model = load_model(path)
    except NeuropatchError as exc:
        return {"error": str(exc)}
    cfg = model.config
    info = {"model": str(cfg.get("name", Path(path).stem)), "decoder": model.arch.upper(),
            "rate": f"{cfg['sample_rate']} Hz", "hop": str(cfg["hop"]), "harmonics": str(cfg["n_harmonics"]),
            "noise bands": str(cfg["n_bands"])}
    trained = (cfg.get("features") or {}).get("loudness_voiced_db")
    if trained:
        info["trained loudness"] = f"{trained[0]:.0f} .. {trained[-1]:.0f} dB (median {trained[1]:.0f})"
    if model.reverb_ir is not None:
        info["reverb"] = f"learned, {model.reverb_ir.shape[0] / cfg['sample_rate']:.2f} s"
    quality = (cfg.get("training") or {}).get("quality")
    if quality:
        info["held-out loss"] = f"{quality.get('model', float('nan')):.3f} (saw {quality.get('sawtooth', float('nan')):.3f})"
    return info


def frames_spec(ctx, port: str, bins: int | None = None):
    """The connected frames spec of ``port`` checked to be 1 channel (x ``bins`` bins)."""
    spec = ctx.in_specs.get(port)
    if spec is None:
        return None
    if spec.channels != 1 or (bins is not None and spec.bins != bins):
        want = f"1 channel x {bins} bins" if bins is not None else "1 channel"
        raise NodeConfigError(ctx.node_id, f"input {port!r} expects {want} frames, got {spec.channels} x {spec.bins}")
    return spec


def shared_hop(ctx, specs: dict) -> int:
    """The hop every connected frames input shares (DEFAULT_HOP when none is connected)."""
    hops = {port: spec.hop for port, spec in specs.items() if spec is not None and spec.hop > 0}
    if len(set(hops.values())) > 1:
        listed = ", ".join(f"{p!r} hop {h}" for p, h in hops.items())
        raise NodeConfigError(ctx.node_id, f"frames inputs must share one hop ({listed})")
    return next(iter(hops.values()), DEFAULT_HOP)


def load_decoder(node: Node, ctx, hop: int):
    path = node.resource_paths.get("model")
    if path is None:
        raise ResourceError("no model file set (resource 'model')")
    model = load_model(path)
    if model.arch == "rnn" and int(model.config["hop"]) != hop:
        raise NodeConfigError(ctx.node_id, f"{Path(path).name} was trained on frames of hop {model.config['hop']}; "
                                           f"the f0/loudness inputs have hop {hop}: set the pitch and loudness "
                                           f"nodes' hop to {model.config['hop']}")
    if model.config.get("sample_rate") != ctx.sample_rate:
        ctx.note(f"model trained at {model.config.get('sample_rate')} Hz, running at {ctx.sample_rate} Hz")
    features = model.config.get("features") or {}
    if features.get("n_fft") and model.arch == "rnn":
        ctx.note(f"trained on pitch/loudness frames of {features['n_fft']} samples, hop {model.config['hop']}")
    return model


def z_input(ctx, model, hop: int) -> bool:
    """Whether the decoder reads its ``z`` input: connected, and the model has z."""
    spec = ctx.in_specs.get("z")
    if spec is None:
        return False
    if model.z_dims == 0:
        ctx.note("input 'z' is ignored: this model has no timbre latent (train it with train-ddsp --timbre)")
        return False
    if spec.bins != model.z_dims or (spec.hop > 0 and spec.hop != hop):
        raise NodeConfigError(ctx.node_id, f"input 'z' has {spec.bins} dims at hop {spec.hop}; the model expects "
                                           f"{model.z_dims} dims at hop {hop}")
    return True


def frame_buffer(hop: int, block_size: int, bins: int) -> np.ndarray:
    return np.zeros((StreamSpec("frames", 1, bins, hop).max_frames(block_size), 1, bins), np.float32)


F0_PORT_DOC = "f0 in Hz per frame (feature.pitch 'out'; 0 = unvoiced holds the last f0)"


class DDSPDecoder(Node):
    """DDSP decoder: f0 + loudness frames -> synth controls as frames.

    Inputs (frames, 1 channel x 1 bin, one hop): ``f0`` (Hz), ``loudness`` (dB,
    feature.loudness). Outputs, one frame per input frame. Latency: minus the model's
    calibrated onset lead (:mod:`.calibrate`) when the loudness frames come from the
    analysis it was calibrated with (the decoder starts notes that far ahead of the
    frames' time), else 0. Outputs:
    ``f0`` [1] Hz (unvoiced frames hold the last voiced f0; pitch shift applied),
    ``amplitude`` [1] linear, ``harmonics`` [K] harmonic distribution (sums to 1),
    ``noise`` [B] linear noise band magnitudes. Version-2 files run DDSP's RnnFcDecoder
    (a GRU over frames, state kept between frames); version-1 files a per-frame MLP.
    """

    type_id = "ddsp.decoder"
    title = "DDSP decoder"
    category = "ddsp"
    doc = ("DDSP decoder (RnnFcDecoder: input MLPs, GRU, output MLP) from f0 (Hz) and loudness (dB) "
           "frames to synth controls: f0, amplitude, harmonic distribution and noise band magnitudes "
           "(frames), for ddsp.harmonic and ddsp.noise.")
    inputs = [Port("f0", "frames", 1, doc=F0_PORT_DOC),
              Port("loudness", "frames", 1, doc="loudness in dB per frame (feature.loudness 'out')"),
              Port("z", "latent", doc="timbre latent (ddsp.timbre, moved by latent.* nodes); models trained with "
                                      "--timbre only; unconnected = 0")]
    outputs = [Port("f0", "frames", 1), Port("amplitude", "frames", 1), Port("harmonics", "frames", 1),
               Port("noise", "frames", 1)]
    params = [
        Param("pitch_shift_semitones", -24.0, 24.0, 0.0, unit="st", primary=True),
        Param("loudness_offset_db", -40.0, 40.0, 0.0, unit="dB", primary=True,
              doc="added to the loudness the decoder sees"),
    ]
    resources = [MODEL_RESOURCE]
    prepare_does_io = True

    @classmethod
    def contract_setup(cls, tmp_dir):
        shape = {"channels": 1, "bins": 1, "hop": DEFAULT_HOP}
        return {"resources": {"model": str(SHIPPED_MODEL)}, "inputs": {"f0": shape, "loudness": shape}}

    @classmethod
    def resource_info(cls, name, path):
        return model_info(path)

    def prepare(self, ctx):
        specs = {p: frames_spec(ctx, p, 1) for p in ("f0", "loudness")}
        hop = shared_hop(ctx, specs)
        model = load_decoder(self, ctx, hop)
        self._use_z = z_input(ctx, model, hop)
        self._decoder = DecoderProcessor(model, ctx.block_size, hop)
        self.latency_samples = -onset_lead_for(model.config, specs["loudness"])
        for name, bins in (("f0", 1), ("amplitude", 1), ("harmonics", model.n_harmonics), ("noise", model.n_bands)):
            ctx.out_specs[name] = StreamSpec("frames", 1, bins, hop)

    def reset(self):
        super().reset()
        if hasattr(self, "_decoder"):
            self._decoder.reset()

    def process(self, ins, outs, n):
        p = self.param_values
        f0, loud = ins["f0"], ins["loudness"]
        z = ins["z"]
        made = self._decoder.process(f0.data, f0.count, loud.data, loud.count, 2.0 ** (p["pitch_shift_semitones"] / 12.0),
                                     p["loudness_offset_db"], outs["f0"].data, outs["amplitude"].data,
                                     outs["harmonics"].data, outs["noise"].data,
                                     z.data if self._use_z else None, z.count)
        for name in ("f0", "amplitude", "harmonics", "noise"):
            outs[name].count = made


class DDSPHarmonic(Node):
    """Additive harmonic synth (DDSP Harmonic): f0, amplitude and harmonic distribution frames.

    Inputs (frames, one hop): ``f0`` [1] Hz, ``amplitude`` [1] linear, ``harmonics`` [K]
    distribution (renormalised after removing harmonics at or above Nyquist). Output
    ``out``: mono audio, phase continuous; controls glide linearly sample by sample
    from one frame to the next. latency_samples = hop (a frame is reached one hop after
    it arrives).
    """

    type_id = "ddsp.harmonic"
    title = "DDSP harmonic"
    category = "ddsp"
    doc = ("Additive synth of up to 100 harmonics from f0 (Hz), amplitude and harmonic distribution "
           "frames; phase continuous, harmonics above Nyquist removed. Latency one hop.")
    inputs = [Port("f0", "frames", 1, doc=F0_PORT_DOC), Port("amplitude", "frames", 1),
              Port("harmonics", "frames", 1, doc="harmonic distribution, K bins (K <= 100)")]
    outputs = [Port("out", "audio", 1)]
    params = [Param("gain_db", -60.0, 24.0, 0.0, unit="dB", primary=True)]

    @classmethod
    def contract_setup(cls, tmp_dir):
        one = {"channels": 1, "bins": 1, "hop": DEFAULT_HOP}
        return {"inputs": {"f0": one, "amplitude": one, "harmonics": {"channels": 1, "bins": 60, "hop": DEFAULT_HOP}}}

    def prepare(self, ctx):
        specs = {"f0": frames_spec(ctx, "f0", 1), "amplitude": frames_spec(ctx, "amplitude", 1),
                 "harmonics": frames_spec(ctx, "harmonics")}
        hop = shared_hop(ctx, specs)
        k = specs["harmonics"].bins if specs["harmonics"] is not None else 1
        if k > 100:
            raise NodeConfigError(ctx.node_id, f"input 'harmonics' has {k} bins; at most 100 harmonics")
        self._synth = HarmonicProcessor(k, ctx.sample_rate, ctx.block_size, hop)
        self.latency_samples = hop

    def reset(self):
        super().reset()
        if hasattr(self, "_synth"):
            self._synth.reset()

    def process(self, ins, outs, n):
        f0, amp, dist = ins["f0"], ins["amplitude"], ins["harmonics"]
        count = min(f0.count, amp.count, dist.count)
        self._synth.process(f0.data, amp.data, dist.data, count, outs["out"][0], n, db_to_gain(self.param_values["gain_db"]))


class DDSPNoise(Node):
    """Filtered noise (DDSP FilteredNoise): band magnitudes frames -> audio.

    Input ``magnitudes``: frames [B] linear magnitudes at B frequencies evenly spaced
    from 0 Hz to Nyquist. Per frame a 2(B-1)-tap linear-phase FIR is designed by
    frequency sampling (inverse real DFT, Hann window) and run over white noise that
    never repeats (xorshift64*); filters crossfade from frame to frame.
    latency_samples = hop.
    """

    type_id = "ddsp.noise"
    title = "DDSP noise"
    category = "ddsp"
    doc = ("Filtered noise: band magnitudes per frame (evenly spaced 0 Hz..Nyquist) shape white noise "
           "through a frequency-sampled FIR; no period. Latency one hop.")
    inputs = [Port("magnitudes", "frames", 1, doc="noise band magnitudes, B bins (ddsp.decoder 'noise')")]
    outputs = [Port("out", "audio", 1)]
    params = [Param("gain_db", -60.0, 24.0, 0.0, unit="dB", primary=True)]

    @classmethod
    def contract_setup(cls, tmp_dir):
        return {"inputs": {"magnitudes": {"channels": 1, "bins": 65, "hop": DEFAULT_HOP}}}

    def prepare(self, ctx):
        spec = frames_spec(ctx, "magnitudes")
        hop = spec.hop if spec is not None and spec.hop > 0 else DEFAULT_HOP
        bands = spec.bins if spec is not None else 2
        if bands < 2:
            raise NodeConfigError(ctx.node_id, "input 'magnitudes' needs at least 2 bands")
        self._synth = NoiseProcessor(bands, ctx.block_size, hop)
        self.latency_samples = hop

    def reset(self):
        super().reset()
        if hasattr(self, "_synth"):
            self._synth.reset()

    def process(self, ins, outs, n):
        mags = ins["magnitudes"]
        self._synth.process(mags.data, mags.count, outs["out"][0], n, db_to_gain(self.param_values["gain_db"]))


def load_reverb_model(path):
    """The DDSP or DDX7 model in ``path`` (either may hold a learned ``reverb_ir``)."""
    from neuropatch.nodes.dsp.model_file import read_model_file

    from ..ddx7.model import FORMAT as DDX7_FORMAT, load_model as load_ddx7
    from .model import FORMAT

    config, _ = read_model_file(path, "DDSP or DDX7", (FORMAT, DDX7_FORMAT))
    return load_ddx7(path) if config["format"] == DDX7_FORMAT else load_model(path)


class DDSPReverb(Node):
    """Reverb (DDSP Reverb): out = in + wet * (in convolved with an impulse response).

    ``source`` "model": the impulse response a DDSP or DDX7 model learned (resource ``model``);
    "exponential": Gaussian noise decaying exponentially with ``decay_s`` over
    ``length_s``, unit energy. Zero-latency partitioned convolution; mono.
    """

    type_id = "ddsp.reverb"
    title = "DDSP reverb"
    category = "ddsp"
    bypass_routes = (("in", "out"),)
    doc = ("Convolution reverb: the impulse response a DDSP model learned, or exponentially decaying "
           "noise; out = in + wet * reverb. No latency.")
    inputs = [Port("in", "audio", 1)]
    outputs = [Port("out", "audio", 1)]
    params = [
        Param.choice("source", ("exponential", "model"), "exponential", structural=True),
        Param("wet_db", -60.0, 12.0, -12.0, unit="dB", primary=True, doc="level of the reverberated signal"),
        Param("decay_s", 0.01, 10.0, 0.5, unit="s", log=True, structural=True, doc="exponential: time to fall by 1/e"),
        Param("length_s", 0.05, 10.0, 1.5, unit="s", structural=True, doc="exponential: impulse response length"),
    ]
    resources = [Resource("model", (".safetensors",), "DDSP or DDX7 model holding a learned reverb",
                          required=False)]
    prepare_does_io = True

    @classmethod
    def contract_setup(cls, tmp_dir):
        model = random_model(Path(tmp_dir) / "contract_reverb.safetensors", reverb_taps=3000)
        return {"params": {"source": "model"}, "resources": {"model": str(model)}}

    @classmethod
    def resource_info(cls, name, path):
        try:
            model = load_reverb_model(path)
        except NeuropatchError as exc:
            return {"error": str(exc)}
        ir = model.reverb_ir
        return {"model": str(model.config.get("name", Path(path).stem)),
                "reverb": "none" if ir is None else f"learned, {ir.shape[0] / model.config['sample_rate']:.2f} s"}

    def prepare(self, ctx):
        p = self.param_values
        if p["source"] == "model":
            path = self.resource_paths.get("model")
            if path is None:
                raise ResourceError("source 'model' needs a model file (resource 'model')")
            model = load_reverb_model(path)
            if model.reverb_ir is None:
                raise ResourceError(f"{Path(path).name} has no learned reverb (train-ddsp and train-ddx7 learn one "
                                    f"unless --no-reverb)")
            ir = model.reverb_ir.astype(np.float64)
            if model.config["sample_rate"] != ctx.sample_rate:
                from neuropatch.engine.resample import resample
                ir = resample(ir[None, :], model.config["sample_rate"], ctx.sample_rate)[0]
                ctx.note(f"learned reverb resampled from {model.config['sample_rate']} Hz")
        else:
            ir = exponential_ir(p["length_s"], p["decay_s"], ctx.sample_rate)
        self._reverb = ReverbProcessor(ir, ctx.block_size)

    def check(self, ctx):
        if self.param_values["source"] == "model":
            super().check(ctx)

    def reset(self):
        super().reset()
        if hasattr(self, "_reverb"):
            self._reverb.reset()

    def process(self, ins, outs, n):
        self._reverb.process(ins["in"][:1], outs["out"], n, db_to_gain(self.param_values["wet_db"]))


class DDSPSynth(Node):
    """ddsp.decoder -> ddsp.harmonic + ddsp.noise -> ddsp.reverb (the model's learned one,
    when it has one) in one node.

    Inputs: ``f0`` (Hz) and ``loudness`` (dB) frames, 1 channel x 1 bin, one hop.
    Output ``out``: mono audio. latency_samples = hop (the synths') minus the model's
    calibrated onset lead as in ddsp.decoder; the feature nodes add their own (half
    their analysis window).
    """

    type_id = "ddsp.synth"
    version = 2
    title = "DDSP synth"
    category = "ddsp"
    doc = ("DDSP instrument in one node: f0 (Hz) and loudness (dB) frames through a trained decoder "
           "(.safetensors) to a harmonic-plus-noise synth and the model's learned reverb; timbre "
           "transfer from any monophonic input. Split it into ddsp.decoder/harmonic/noise/reverb to "
           "patch between the stages.")
    inputs = DDSPDecoder.inputs
    outputs = [Port("out", "audio", 1)]
    params = [
        Param("pitch_shift_semitones", -24.0, 24.0, 0.0, unit="st", primary=True),
        Param("loudness_offset_db", -40.0, 40.0, 0.0, unit="dB", doc="added to the loudness the decoder sees"),
        Param("noise_db", -60.0, 12.0, 0.0, unit="dB", doc="noise part level"),
        Param("reverb_db", -60.0, 12.0, 0.0, unit="dB", doc="learned reverb level (models that have one)"),
        Param("gain_db", -60.0, 24.0, 0.0, unit="dB", primary=True),
    ]
    resources = [MODEL_RESOURCE]
    prepare_does_io = True

    contract_setup = DDSPDecoder.contract_setup
    resource_info = DDSPDecoder.resource_info

    def migrate(self, state, from_version):
        # version 1 had no reverb stage; its params carry over unchanged
        return state

    def prepare(self, ctx):
        specs = {p: frames_spec(ctx, p, 1) for p in ("f0", "loudness")}
        hop = shared_hop(ctx, specs)
        model = load_decoder(self, ctx, hop)
        self._use_z = z_input(ctx, model, hop)
        bs = ctx.block_size
        self._decoder = DecoderProcessor(model, bs, hop)
        self._harmonic = HarmonicProcessor(model.n_harmonics, ctx.sample_rate, bs, hop)
        self._noise = NoiseProcessor(model.n_bands, bs, hop)
        self._reverb = None
        if model.reverb_ir is not None:
            ir = model.reverb_ir.astype(np.float64)
            if model.config["sample_rate"] != ctx.sample_rate:
                from neuropatch.engine.resample import resample
                ir = resample(ir[None, :], model.config["sample_rate"], ctx.sample_rate)[0]
            self._reverb = ReverbProcessor(ir, bs)
        self._frames = {"f0": frame_buffer(hop, bs, 1), "amplitude": frame_buffer(hop, bs, 1),
                        "harmonics": frame_buffer(hop, bs, model.n_harmonics),
                        "noise": frame_buffer(hop, bs, model.n_bands)}
        self._noise_out = np.zeros(bs, np.float32)
        self.latency_samples = hop - onset_lead_for(model.config, specs["loudness"])

    def reset(self):
        super().reset()
        if not hasattr(self, "_decoder"):
            return
        for proc in (self._decoder, self._harmonic, self._noise, self._reverb):
            if proc is not None:
                proc.reset()

    def process(self, ins, outs, n):
        p = self.param_values
        f0, loud, fr = ins["f0"], ins["loudness"], self._frames
        z = ins["z"]
        made = self._decoder.process(f0.data, f0.count, loud.data, loud.count, 2.0 ** (p["pitch_shift_semitones"] / 12.0),
                                     p["loudness_offset_db"], fr["f0"], fr["amplitude"], fr["harmonics"], fr["noise"],
                                     z.data if self._use_z else None, z.count)
        gain = db_to_gain(p["gain_db"])
        y = outs["out"]
        self._harmonic.process(fr["f0"], fr["amplitude"], fr["harmonics"], made, y[0], n, gain)
        noise = self._noise_out[:n]
        self._noise.process(fr["noise"], made, noise, n, gain * db_to_gain(p["noise_db"]))
        np.add(y[0, :n], noise, out=y[0, :n])
        if self._reverb is not None:
            self._reverb.process(y, y, n, db_to_gain(p["reverb_db"]))


def random_model(path: Path, z_dims: int = 0, reverb_taps: int = 0) -> Path:
    """Write a small randomly initialised rnn model (with a timbre encoder when z_dims, a
    reverb when reverb_taps) for the registry-wide contract tests."""
    from .model import DDSPModel, expected_shapes, rnn_config, save_model
    from .timbre import ENCODER_DEFAULTS

    config = rnn_config(48000, DEFAULT_HOP, 8, 5, mlp_units=8, gru_units=8, z_dims=z_dims)
    if z_dims:
        config["encoder"] = dict(ENCODER_DEFAULTS, units=8)
    rng = np.random.default_rng(0)
    tensors = {name: (0.3 * rng.standard_normal(shape)).astype(np.float32)
               for name, shape in expected_shapes(config).items()}
    if reverb_taps:
        tensors["reverb.ir"] = (0.01 * rng.standard_normal(reverb_taps)).astype(np.float32)
    save_model(path, DDSPModel(config, tensors))
    return path


class DDSPTimbre(FramedAnalysis):
    """Timbre encoder of a DDSP model trained with ``--timbre``: audio -> latent z frames.

    Input ``in``: audio (channel 0). Output ``z``: latent float32 [frames, z_dims] at the
    model's hop, the encoder's mean of each frame's MFCCs, low-passed with time constant
    ``smoothing_s`` (training gives the decoder one z per 0.5 s segment). Framing and
    latency (n_fft // 2) as feature.pitch, so z lines up with the f0 and loudness frames.
    """

    type_id = "ddsp.timbre"
    title = "DDSP timbre encoder"
    category = "ddsp"
    latency_at_centre = True
    doc = ("Timbre encoder: the MFCCs of the input through a DDSP model's variational encoder to a "
           "latent z per frame (for ddsp.decoder's z input; move it with latent.* nodes).")
    inputs = [Port("in", "audio")]
    outputs = [Port("z", "latent")]
    params = [Param("smoothing_s", 0.0, 5.0, 0.5, unit="s", primary=True, doc="time constant of z's low-pass")]
    resources = [Resource("model", (".safetensors",), "DDSP model trained with --timbre", required=True)]
    prepare_does_io = True

    @classmethod
    def contract_setup(cls, tmp_dir):
        return {"resources": {"model": str(random_model(Path(tmp_dir) / "contract_timbre.safetensors", z_dims=4))}}

    @classmethod
    def resource_info(cls, name, path):
        return model_info(path)

    def prepare(self, ctx):
        path = self.resource_paths.get("model")
        if path is None:
            raise ResourceError("no model file set (resource 'model')")
        model = load_model(path)
        if not model.has_encoder:
            raise ResourceError(f"{Path(path).name} has no timbre encoder (train it with train-ddsp --timbre)")
        enc = {**ENCODER_DEFAULTS, **model.config["encoder"]}
        hop = int(model.config["hop"])
        self.prepare_framing(ctx, int(enc["n_fft"]), hop)
        self._tables = MfccTables(ctx.sample_rate, int(enc["n_fft"]), int(enc["n_mels"]), int(enc["n_mfcc"]))
        self._theta = model.encoder_flat64()
        self._layers = int(enc["layers"])
        units = int(enc["units"])
        self._tmp, self._hidden = np.zeros(units), np.zeros(units)
        self._z, self._smooth = np.zeros(model.z_dims), np.zeros(model.z_dims)
        self._slope = float(model.config.get("leaky_slope", 0.1))
        ctx.out_specs["z"] = StreamSpec("latent", channels=1, bins=model.z_dims, hop=hop)

    def reset(self):
        super().reset()
        if hasattr(self, "_smooth"):
            self._smooth.fill(0.0)

    def process(self, ins, outs, n):
        x = self.input_audio(ins, n)
        s = self.param_values["smoothing_s"]
        coeff = 1.0 if s <= 0.0 else 1.0 - math.exp(-self._hop / (self.sample_rate * s))
        t = self._tables
        out = outs["z"]
        out.count = encoder_block(x, self._ring, self._state, self._hop, t.window, t.plan, t.work, t.frame, t.re, t.im,
                                  t.mel, t.dct, t.mels, t.mfcc, self._theta, self._layers, self._tmp, self._hidden,
                                  self._z, self._smooth, coeff, self._slope, out.data)


NODE_CLASSES = [DDSPSynth, DDSPDecoder, DDSPHarmonic, DDSPNoise, DDSPReverb, DDSPTimbre]
