"""``gen.transformer``: a small Music Transformer that plays, continues, answers or
harmonises what comes in, as events, from a worker in the inference lane."""
from __future__ import annotations

from pathlib import Path

from neuropatch.assets import path as shipped_path
from neuropatch.engine import Node, Param, Port, Resource
from neuropatch.engine.errors import ResourceError
from neuropatch.engine.lane import LaneError, LaneRequest, LaneWorker

from .lane_model import HEADER, MODES

FACTORY = "neuropatch.nodes.gen.lane_model:TransformerChunkModel"
SHIPPED_MODEL = shipped_path("transformer", "chorales.safetensors")
EVENT_CAPACITY = 256


class Transformer(Node):
    type_id = "gen.transformer"
    title = "Transformer"
    category = "generators"
    uses_lane = True
    prepare_does_io = True
    doc = ("Generates notes with a small Music Transformer (relative attention, trained on the "
           "music21 corpus chorales): 'free' plays on its own, 'continue' carries on from what you "
           "play, 'call_response' listens 'bars' bars and answers as many, 'harmonise' adds up to "
           "three voices (MIDI channels 1-3) under each melody note. Follows the transport tempo; "
           "seed or mode changes take effect at the next bar. Runs ahead in a worker: latency one "
           "chunk plus the worker's headroom.")
    inputs = [Port("in", "events", doc="what you play: the call, the melody, the context")]
    outputs = [Port("out", "events")]
    resources = [Resource("model", (".safetensors",), "Music Transformer weights (train-transformer)",
                          companions=(".json",))]
    params = [
        Param.choice("mode", MODES, "free"),
        Param("temperature", 0.1, 2.0, 1.0, primary=True),
        Param("top_p", 0.1, 1.0, 0.95),
        Param("seed", 0, 2**24 - 1, 0, int),
        Param("bars", 1, 16, 2, int, doc="call_response: bars to listen, then to answer"),
        Param("chunk", 256, 16384, 2048, int, unit="samples", structural=True,
              doc="samples per worker call (latency grows with it)"),
        Param.choice("worker", ("process", "thread"), "process", structural=True),
    ]
    contract_samples = 24000

    @classmethod
    def contract_setup(cls, tmp_dir):
        return {"params": {"worker": "thread", "chunk": 1024}}

    @classmethod
    def resource_info(cls, name, path):
        """What the model's JSON config says (a .safetensors of another kind is an error)."""
        import json

        path = Path(path)
        try:
            cfg = json.loads(path.with_suffix(".json").read_text("utf-8"))
        except (OSError, ValueError) as exc:
            return {"error": f"{path.name}: no readable config {path.with_suffix('.json').name} ({exc})"}
        if not isinstance(cfg, dict) or cfg.get("kind") != "music_transformer":
            return {"error": f"{path.name}: not a Music Transformer (config kind {cfg.get('kind')!r})"
                    if isinstance(cfg, dict) else f"{path.name}: config is not an object"}
        return {"model": "Music Transformer", "layers": cfg.get("n_layers"), "width": cfg.get("d_model"),
                "context": f"{cfg.get('max_len')} tokens", "vocabulary": cfg.get("vocab_size")}

    def weights(self) -> Path:
        return Path(self.resource_paths.get("model") or SHIPPED_MODEL)

    def prepare(self, ctx):
        import importlib.util

        missing = [m for m in ("torch", "miditok") if importlib.util.find_spec(m) is None]
        if missing:
            raise ResourceError(f"node '{ctx.node_id}': the note generator needs {' and '.join(missing)}: "
                                "pip install 'neuropatch[gen]'")
        weights = self.weights()
        if not weights.is_file():
            raise ResourceError(f"node '{ctx.node_id}': model file not found: {weights}")
        self._transport = ctx.host.transport
        p = self.param_values
        config = {"weights": str(weights), "sample_rate": ctx.sample_rate, "chunk": p["chunk"], "threads": 1}
        try:
            worker = LaneWorker(FACTORY, config, kind=p["worker"])
        except (LaneError, OSError, ValueError, RuntimeError) as exc:
            raise ResourceError(f"node '{ctx.node_id}': {weights.name}: {exc}") from None
        header = len(HEADER) - 1
        ctx.lane = LaneRequest(worker, p["chunk"], ctx.block_size,
                               inputs={"in": ("events", EVENT_CAPACITY, header)},
                               outputs={"out": ("events", EVENT_CAPACITY, 0)},
                               fill_header=self._fill_header)
        self.latency_samples = ctx.lane.buffer_latency

    def _fill_header(self, row) -> None:
        """The params the worker reads with each chunk (see lane_model.HEADER)."""
        p = self.param_values
        row[1] = MODES.index(p["mode"])
        row[2] = p["temperature"]
        row[3] = p["top_p"]
        row[4] = p["seed"]
        row[5] = p["bars"]
        row[6] = self._transport.tempo

    def process(self, ins, outs, n):
        raise RuntimeError("gen.transformer runs in the inference lane; the engine calls its lane")


NODE_CLASSES = [Transformer]
