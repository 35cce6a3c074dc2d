"""A test node pack for the inference lane: ``test.lane_gain`` halves audio in a lane worker.

The chunk model (:class:`GainChunkModel`, built by the lane's worker from plain data)
multiplies each chunk by 0.5, and can misbehave on purpose after ``after_chunks``
chunks (counted since the worker started):

- ``ok``: never fails;
- ``raise_after``: raises RuntimeError;
- ``hang_after``: sleeps for an hour inside ``process``;
- ``exit_after``: ends its process with ``os._exit(9)`` (a process worker; in a thread
  worker this would end the whole interpreter, so only use it with ``worker="process"``);
- ``slow``: sleeps ``sleep_ms`` in every chunk, then computes it.

``marker`` (a path prefix, optional) lets a test watch the worker from outside:
``<marker>.pid`` holds the worker's process id, ``<marker>.failed`` the wall-clock time
(``time.time()``) at which it started to misbehave. A model built while
``<marker>.failed`` exists behaves as ``ok`` (it fails once), so restarting the node
recovers.

The registry for engines that need these nodes: ``"tests.engine.lane_models:make_registry"``.
"""
from __future__ import annotations

import os
import time

import numpy as np

from neuropatch.engine import Node, Param, Port, Registry, default_registry
from neuropatch.engine.lane import LaneRequest, LaneWorker

BEHAVIOURS = ("ok", "raise_after", "hang_after", "exit_after", "slow")
FACTORY = "tests.engine.lane_models:GainChunkModel"


class GainChunkModel:
    """One chunk in, half of it out (see the module docstring). config: behaviour,
    after_chunks, sleep_ms, marker."""

    def __init__(self, config: dict):
        self.behaviour = config.get("behaviour", "ok")
        self.after = int(config.get("after_chunks", 0))
        self.sleep_s = float(config.get("sleep_ms", 0.0)) * 1e-3
        self.marker = config.get("marker") or ""
        if self.marker:
            with open(self.marker + ".pid", "w") as f:
                f.write(str(os.getpid()))
            if os.path.exists(self.marker + ".failed"):
                self.behaviour = "ok"
        self.chunks = 0
        self.resets = 0

    def describe(self) -> dict:
        return {"pid": os.getpid(), "behaviour": self.behaviour}

    def reset(self) -> None:
        self.resets += 1

    def _fail_now(self) -> None:
        if self.marker:
            with open(self.marker + ".failed", "w") as f:
                f.write(repr(time.time()))
        if self.behaviour == "raise_after":
            raise RuntimeError(f"lane test model raised after {self.chunks} chunks")
        if self.behaviour == "hang_after":
            time.sleep(3600)
        if self.behaviour == "exit_after":
            os._exit(9)

    def process(self, inputs: dict, outputs: dict) -> None:
        if self.behaviour in ("raise_after", "hang_after", "exit_after") and self.chunks >= self.after:
            self._fail_now()
        if self.behaviour == "slow":
            time.sleep(self.sleep_s)
        np.multiply(inputs["in"], np.float32(0.5), out=outputs["out"])
        self.chunks += 1


class LaneGain(Node):
    """Halves its audio input in the inference lane (test-only)."""

    type_id = "test.lane_gain"
    title = "Lane gain (test)"
    doc = "test-only: 0.5 x input, computed chunk by chunk in a lane worker"
    inputs = [Port("in", "audio")]
    outputs = [Port("out", "audio")]
    params = [
        Param("chunk", 16, 16384, 512, int, structural=True),
        Param.choice("worker", ("thread", "process"), "thread", structural=True),
        Param.choice("behaviour", BEHAVIOURS, "ok", structural=True),
        Param("after_chunks", 0, 10**6, 0, int, structural=True),
        Param("sleep_ms", 0.0, 10000.0, 0.0, structural=True),
        Param.text("marker", ""),
    ]
    prepare_does_io = True

    def __init__(self):
        super().__init__()
        self.worker = None
        self.request = None

    def prepare(self, ctx):
        if self.worker is not None:      # prepared again (the compiler's feedback passes)
            self.worker.close()
        p = self.param_values
        spec = ctx.in_specs.get("in")
        channels = spec.channels if spec is not None else 1
        config = {"behaviour": p["behaviour"], "after_chunks": p["after_chunks"],
                  "sleep_ms": p["sleep_ms"], "marker": p["marker"]}
        self.worker = LaneWorker(FACTORY, config, kind=p["worker"])
        ctx.lane = self.request = LaneRequest(self.worker, p["chunk"], ctx.block_size,
                                              inputs={"in": ("audio", channels)},
                                              outputs={"out": ("audio", channels)}, model_delay=0)
        self.latency_samples = ctx.lane.buffer_latency

    def process(self, ins, outs, n):
        raise RuntimeError("test.lane_gain runs in the inference lane; the engine calls its lane")


def make_registry() -> Registry:
    """The built-in nodes plus ``test.lane_gain``."""
    reg = Registry()
    reg.register_many(default_registry().classes())
    reg.register(LaneGain)
    return reg
