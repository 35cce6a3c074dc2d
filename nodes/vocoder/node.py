"""``vocoder.gan``: mel frames back to audio with a GAN-trained generator, in the inference lane.

spectral.stft (power) -> spectral.mel (dB) -> vocoder.gan: the model states the mel it was
trained on (sample rate, n_fft, hop, window, power, n_mels, fmin, fmax, scale, norm, dB
convention) and prepare compares every setting the connected stream states; a mismatch is
an error naming both values, never noise.
"""
from __future__ import annotations

from pathlib import Path

from neuropatch.assets import path as shipped_path
from neuropatch.engine import Param, Port
from neuropatch.engine.errors import NeuropatchError, NodeConfigError, ResourceError
from neuropatch.engine.node import Resource
from neuropatch.engine.streams import StreamSpec

from ..lane_node import LaneNode
from ..spectral.stream_settings import stream_settings
from .model import load_model, mel_mismatches

SHIPPED_MODEL = shipped_path("vocoder", "fluid.safetensors")
FACTORY = "neuropatch.nodes.vocoder.lane_model:VocoderChunkModel"


def model_info(path) -> dict:
    """What the inspector shows about a vocoder model file."""
    try:
        model = load_model(path)
    except NeuropatchError as exc:
        return {"error": str(exc)}
    cfg, mel = model.config, model.config["mel"]
    info = {"model": str(cfg.get("name", Path(path).stem)),
            "mel": (f"{mel['sample_rate']} Hz, n_fft {mel['n_fft']}, hop {mel['hop']}, {mel['n_mels']} bands "
                    f"{mel['fmin']:g}-{mel['fmax']:g} Hz, {'power' if mel['power'] == 2 else 'magnitude'} STFT, "
                    f"{'dB' if mel['db'] else 'linear'}"),
            "generator": (f"{cfg['channels']} channels, upsampling {' x '.join(str(r) for r in cfg['upsample_rates'])}, "
                          f"{model.parameters} parameters"),
            "delay": f"{cfg['delay']} samples"}
    quality = (cfg.get("training") or {}).get("quality")
    if quality and "spectral_loss" in quality:
        info["held-out loss"] = f"{quality['spectral_loss']:.3f} (multi-scale spectral)"
    return info


def expected_settings(mel: dict) -> dict:
    """The model's mel settings under the names the spectral nodes state them."""
    return {"sample_rate": mel["sample_rate"], "n_fft": mel["n_fft"], "window": mel["window"],
            "output": "power" if float(mel["power"]) == 2.0 else "magnitude", "n_mels": mel["n_mels"],
            "fmin": mel["fmin"], "fmax": mel["fmax"], "htk": mel["htk"], "norm": mel["norm"], "db": mel["db"],
            "ref": mel["ref"], "top_db": mel["top_db"], "hop": mel["hop"]}


class GanVocoder(LaneNode):
    """dB mel frames -> audio through a HiFi-GAN-style generator (train-vocoder).

    Input ``in``: frames float32 [frames, 1, n_mels] from spectral.mel (dB) of a
    spectral.stft (power) at the model's settings. Output ``out``: audio float32 [1, n].
    The generator runs in the inference lane on chunks of ``chunk`` samples (whole hops);
    its convolutions keep their history between chunks, so the stream equals whole-signal
    inference. latency_samples = the lane's buffering (chunk + headroom) + the model's
    delay (the lookahead it was trained with); the STFT's own latency comes before it.
    """

    type_id = "vocoder.gan"
    title = "GAN vocoder"
    category = "spectral"
    doc = ("Mel spectrogram back to audio with a HiFi-GAN-style generator (transposed convolutions, "
           "multi-receptive-field blocks; train-vocoder). Feed it spectral.mel (dB) of a power spectral.stft "
           "with the model's settings; a mismatch is an error naming both. Runs in the inference lane.")
    inputs = [Port("in", "frames", 1, doc="dB mel frames (spectral.mel 'out', db on, of a power STFT)")]
    outputs = [Port("out", "audio", 1)]
    params = [
        Param("chunk", 256, 16384, 1024, int, unit="samples", structural=True,
              doc="samples per model call (rounded up to whole hops); latency grows with it"),
        Param.choice("worker", ("thread", "process"), "thread", structural=True,
                     doc="thread: no start-up cost (torch releases the GIL); process: isolated"),
        Param.choice("device", ("cpu", "auto", "cuda"), "cpu", structural=True,
                     doc="torch device in the worker (auto: CUDA when present)"),
    ]
    resources = [Resource("model", (".safetensors",), "vocoder weights (train-vocoder)", required=True,
                          companions=(".json",))]
    prepare_does_io = True
    contract_samples = 8192

    @classmethod
    def contract_setup(cls, tmp_dir):
        return {"resources": {"model": str(SHIPPED_MODEL)},
                "inputs": {"in": {"channels": 1, "bins": 80, "hop": 256}}}

    @classmethod
    def resource_info(cls, name, path):
        return model_info(path)

    def check_input(self, ctx, model, path) -> None:
        """Raise NodeConfigError naming the model's and the input's value of every mel
        setting the input states and the model does not share."""
        mel = model.config["mel"]
        spec = ctx.in_specs.get("in")
        name = Path(path).name
        if int(mel["sample_rate"]) != ctx.sample_rate:
            raise NodeConfigError(ctx.node_id, f"{name} was trained at sample_rate {mel['sample_rate']} Hz; the "
                                               f"patch runs at {ctx.sample_rate} Hz (run the patch at the model's rate)")
        if spec is None:
            return
        if spec.channels != 1:
            raise NodeConfigError(ctx.node_id, f"input 'in' has {spec.channels} channels of mel frames; "
                                               "the vocoder takes one (mix to mono before the STFT)")
        found = {"n_mels": spec.bins, "hop": spec.hop}
        found.update(stream_settings(spec))
        wrong = mel_mismatches(expected_settings(mel), found)
        if wrong:
            raise NodeConfigError(ctx.node_id, f"{name} expects other mel frames: " + "; ".join(wrong))
        if "n_fft" not in found:
            ctx.note(f"the input does not state its STFT settings; {name} expects n_fft {mel['n_fft']}, "
                     f"{mel['window']} window, {'power' if float(mel['power']) == 2 else 'magnitude'} STFT")

    def prepare(self, ctx):
        self.close_worker()              # prepared again on this instance
        path = self.resource_paths.get("model")
        if path is None:
            raise ResourceError("no model file set (resource 'model')")
        model = load_model(path)
        self.check_input(ctx, model, path)
        hop, n_mels = model.hop, int(model.config["mel"]["n_mels"])
        chunk = -(-int(self.param_values["chunk"]) // hop) * hop
        config = {"path": str(path), "chunk": chunk, "threads": 1, "device": self.param_values["device"]}
        worker = self.start_worker(ctx, FACTORY, config)
        self.bind_lane(ctx, chunk, {"in": ("latent", n_mels, hop)}, {"out": ("audio", 1)},
                       int(model.config["delay"]), worker.info)
        ctx.out_specs["out"] = StreamSpec("audio", channels=1)


NODE_CLASSES = [GanVocoder]
