"""``vae.rave``: RAVE and any nn~-convention TorchScript model, run in the inference lane."""
from __future__ import annotations

import json
import math
from pathlib import Path

from neuropatch.assets import path as shipped_path
from neuropatch.engine import NodeConfigError, Param, Port, Resource, StreamSpec
from neuropatch.engine.resources import check_resource_files, resource_sha256
from neuropatch.engine.trust import is_torchscript, is_trusted

from ..lane_node import LaneNode

SHIPPED_MODEL = shipped_path("vae", "tiny_rave.safetensors")
MODES = ("forward", "encode", "decode")
FACTORY = "neuropatch.nodes.vae.lane_model:RaveChunkModel"
ATTR = "attr_"   # params named attr_<name> set the model's attribute <name>


class Rave(LaneNode):
    """An nn~-convention model (RAVE v1/v2 exports for Max/Pd, or a neuropatch VAE).

    Ports follow the chosen method's ``<mode>_params`` [in_ch, in_ratio, out_ch, out_ratio]:
    ``forward`` audio [channels, n] -> audio; ``encode`` audio -> latent frames
    [frames, dims] (one per ``ratio`` samples); ``decode`` latent -> audio. The model runs
    in a worker (a spawned process by default: TorchScript is code) on chunks of
    ``chunk`` samples (rounded up to the model's ratio); latency = the lane's buffering
    (chunk + the worker's headroom) + the model's own delay, both in ``lane_info``.
    TorchScript files load only once trusted (``--trust FILE``, the editor's dialog).
    Model attributes (``get_attributes()``) are params named ``attr_<name>``.
    The model's sample rate is honoured: forward resamples around the model; encode and
    decode need the patch at the model's rate (a latent frame must be a whole number of
    samples).
    """

    type_id = "vae.rave"
    title = "RAVE / nn~ model"
    category = "vae"
    doc = ("RAVE and other nn~-convention models (.ts exports for Max/Pd, or neuropatch "
           ".safetensors VAEs): encode audio to latent frames, decode latents to audio, or both.")
    params = [
        Param.choice("mode", MODES, "forward", doc="method: forward (audio->audio), encode, decode",
                     structural=True),
        Param("chunk", 64, 16384, 2048, int, unit="samples", structural=True,
              doc="samples per model call (rounded up to the model's ratio); latency grows with it"),
        Param.choice("worker", ("process", "thread"), "process", structural=True,
                     doc="process: isolated (a crash cannot take the engine down); thread: no start-up cost"),
        Param.choice("device", ("cpu", "auto", "cuda"), "cpu", structural=True,
                     doc="torch device in the worker (auto: CUDA when present)"),
        Param("seed", 0, 2**31 - 1, 0, int, structural=True, doc="seed of the model's noise draws"),
    ]
    resources = [Resource("model", (".ts", ".safetensors"), "nn~ TorchScript export or neuropatch VAE",
                          required=True)]
    prepare_does_io = True
    contract_samples = 8192

    @classmethod
    def contract_setup(cls, tmp_dir):
        return {"resources": {"model": str(SHIPPED_MODEL)}, "params": {"worker": "thread", "chunk": 1024}}

    # ---- ports follow the mode ------------------------------------------------------------

    def input_ports(self):
        mode = self.param_values["mode"]
        return [Port("in", "latent" if mode == "decode" else "audio", doc=self._label(0))]

    def output_ports(self):
        mode = self.param_values["mode"]
        return [Port("out", "latent" if mode == "encode" else "audio", doc=self._label(1))]

    def _label(self, side: int) -> str:
        labels = self.lane_info.get("labels", {}).get(self.param_values["mode"])
        return ", ".join(labels[side]) if labels else ""

    # ---- model attributes (get_attributes / get_<name> / set_<name>) as params -----------

    @classmethod
    def param_family(cls, name):
        if name.startswith(ATTR) and len(name) > len(ATTR) and name[len(ATTR):].isidentifier():
            attr = name[len(ATTR):]
            return Param(name, -1e9, 1e9, 0.0, float, structural=True,
                         doc=f"model attribute '{attr}' (the model's set_{attr}); changing it reloads the model")
        return None

    @classmethod
    def params_for(cls, resource_paths, values=None):
        """Declared params, then the model's attributes: from a neuropatch VAE's JSON config,
        and any ``attr_`` param already set (a TorchScript file is not run to list them)."""
        names = [n for n in (values or {}) if n.startswith(ATTR)]
        path = resource_paths.get("model")
        if path is not None and Path(path).suffix.lower() == ".safetensors":
            try:
                cfg = json.loads(Path(path).with_suffix(".json").read_text("utf-8"))
                listed = cfg.get("attributes") or [k for k in ("temperature",) if k in cfg]
                names += [ATTR + k for k in listed if ATTR + k not in names]
            except (OSError, ValueError, AttributeError):
                pass
        return list(cls.params) + [cls.param_family(n) for n in names if cls.param_family(n) is not None]

    def attributes(self) -> dict:
        """{attribute name: value} set through ``attr_<name>`` params."""
        return {k[len(ATTR):]: v for k, v in self.param_values.items() if k.startswith(ATTR)}

    # ---- lifecycle -----------------------------------------------------------------------

    @classmethod
    def resource_companions(cls, name, path):
        """Our VAE's config (``<stem>.json``) travels with its ``.safetensors`` weights."""
        path = Path(path)
        config = path.with_suffix(".json")
        return [config] if path.suffix.lower() == ".safetensors" and config.is_file() else []

    @classmethod
    def resource_info(cls, name, path):
        path = Path(path)
        try:
            if is_torchscript(path):
                digest = resource_sha256(path) or "unreadable"
                return {"format": "TorchScript (nn~ export)", "sha256": digest[:16] + "…",
                        "trusted": "yes" if is_trusted(path) else "no: loads only once trusted"}
            cfg = json.loads(path.with_suffix(".json").read_text("utf-8"))
            return {"format": "neuropatch VAE", "sample rate": f"{cfg.get('sr')} Hz",
                    "latent dims": cfg.get("latent_dims"), "ratio": cfg.get("ratio")}
        except (OSError, ValueError) as exc:
            return {"error": str(exc)}

    def prepare(self, ctx):
        self.close_worker()              # prepared again on this instance (a feedback pass)
        check_resource_files(self, ctx.node_id)    # TorchScript: refused here unless trusted
        path = self.resource_paths["model"]
        p = self.param_values
        mode = p["mode"]
        config = {"path": str(path), "mode": mode, "graph_sr": ctx.sample_rate, "chunk": p["chunk"],
                  "attributes": self.attributes(), "seed": p["seed"], "threads": 1, "device": p["device"]}
        # the worker loads the model and states its shape; the chunk is fixed after that
        info = self.start_worker(ctx, FACTORY, config).info
        in_ch, in_ratio, out_ch, out_ratio = info["params"][mode]
        granule = max(max(v[1], v[3]) for v in info["params"].values())
        ratio = max(in_ratio, out_ratio)
        model_sr = info["sr"]
        if model_sr != ctx.sample_rate:
            if mode != "forward" or in_ratio != 1 or out_ratio != 1:
                self.close_worker()
                raise NodeConfigError(ctx.node_id, f"the model runs at {model_sr} Hz and the patch at "
                                      f"{ctx.sample_rate} Hz: {mode} needs the patch at {model_sr} Hz "
                                      "(a latent frame must be a whole number of samples); forward resamples")
            ctx.note(f"model runs at {model_sr} Hz; resampled from and to {ctx.sample_rate} Hz")
        chunk = int(math.ceil(p["chunk"] / granule) * granule)
        if chunk != config["chunk"] and model_sr == ctx.sample_rate:
            self.close_worker()
            config["chunk"] = chunk
            info = self.start_worker(ctx, FACTORY, config).info
        elif model_sr != ctx.sample_rate:
            chunk = p["chunk"]
        inputs = self._port_layout(ctx, "in", mode != "decode", in_ch, ratio, check=True)
        outputs = self._port_layout(ctx, "out", mode != "encode", out_ch, ratio)
        self.bind_lane(ctx, chunk, inputs, outputs, int(info.get("bridge_delay", 0)), info)
        kind, dims = outputs["out"][0], outputs["out"][1]
        ctx.out_specs["out"] = (StreamSpec("latent", channels=1, bins=dims, hop=ratio) if kind == "latent"
                                else StreamSpec("audio", channels=dims))

    def _port_layout(self, ctx, port, audio, channels, ratio, check=False) -> dict:
        if audio:
            return {port: ("audio", channels)}
        spec = ctx.in_specs.get(port) if check else None
        if spec is not None and (spec.bins != channels or spec.hop != ratio):
            raise NodeConfigError(ctx.node_id, f"input '{port}' is a latent of {spec.bins} dims every "
                                  f"{spec.hop} samples; the model decodes {channels} dims every {ratio} samples")
        return {port: ("latent", channels, ratio)}


NODE_CLASSES = [Rave]
