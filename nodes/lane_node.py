"""Base of the nodes whose model runs in the engine's inference lane (``uses_lane``).

It keeps the worker the node started last (closed when the node is prepared again),
turns a worker that cannot start into a ResourceError naming the node and the file, and
binds the lane: ``ctx.lane``, ``latency_samples`` (the lane's buffering + the model's own
delay), ``lane_info`` for the editor and a note stating that latency.
"""
from __future__ import annotations

from pathlib import Path

from neuropatch.engine import Node
from neuropatch.engine.errors import ResourceError
from neuropatch.engine.lane import LaneError, LaneRequest, LaneWorker


class LaneNode(Node):
    uses_lane = True

    def __init__(self):
        super().__init__()
        self.lane_info: dict = {}
        self._worker = None

    def close_worker(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def start_worker(self, ctx, factory: str, config: dict) -> LaneWorker:
        """A LaneWorker of the ``worker`` param's kind loading ``config["path"]``."""
        try:
            self._worker = LaneWorker(factory, config, kind=self.param_values["worker"])
        except (LaneError, OSError, ValueError, RuntimeError) as exc:
            raise ResourceError(f"node '{ctx.node_id}': {Path(config['path']).name}: {exc}") from None
        return self._worker

    def bind_lane(self, ctx, chunk: int, inputs: dict, outputs: dict, model_delay: int, info: dict) -> None:
        """Run this node's ports through the current worker in chunks of ``chunk`` samples."""
        worker = self._worker
        ctx.lane = LaneRequest(worker, chunk, ctx.block_size, inputs, outputs, model_delay=model_delay)
        self.latency_samples = ctx.lane.buffer_latency + model_delay
        self.lane_info = dict(info, chunk=chunk, buffer_latency=ctx.lane.buffer_latency, model_delay=model_delay,
                              worker=worker.kind)
        ctx.note(f"{Path(self.resource_paths['model']).name} runs in a {worker.kind} worker, chunk {chunk}: "
                 f"latency {self.latency_samples} samples = {ctx.lane.buffer_latency} buffering + "
                 f"{model_delay} model delay")

    def process(self, ins, outs, n):
        raise RuntimeError(f"{self.type_id} runs in the inference lane; the engine calls its lane")
