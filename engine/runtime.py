"""Runs a :class:`Schedule` block by block.

Message-only control (so the same code serves a thread or a separate process): edits
arrive through :meth:`Runtime.post` on a deque (append/popleft are atomic in CPython,
no lock) and are drained once per block, before the graph runs.
"""
from __future__ import annotations

import time
from collections import deque

import numpy as np

from .compiler import NodeStep, Schedule
from .node import zero_outputs

_perf_ns = time.perf_counter_ns


class Runtime:
    """Process blocks of a schedule; apply param changes between blocks; swap schedules.

    Meters (read from any thread; plain numbers, torn reads are harmless):
    ``node_time_ns`` accumulated process() time per node step, ``blocks`` processed,
    ``reports`` a deque of (node_id, message) for nodes that raised and were bypassed.
    """

    def __init__(self, schedule: Schedule, timing: bool = True):
        self.timing = timing
        self.messages: deque = deque()
        self.reports: deque = deque(maxlen=256)
        self.blocks = 0
        self._install(schedule)

    def _install(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.node_time_ns = np.zeros(len(schedule.node_steps), np.int64)
        self._in_views: dict = {}

    # ---- control (any thread) --------------------------------------------------------------

    def post(self, message: tuple) -> None:
        """Queue ('param', node_id, name, value) | ('swap', schedule) | ('reset',)."""
        self.messages.append(message)

    def set_param(self, node_id: str, name: str, value) -> None:
        self.post(("param", node_id, name, value))

    def swap(self, schedule: Schedule) -> None:
        self.post(("swap", schedule))

    def reset(self) -> None:
        self.post(("reset",))

    def node_times(self) -> dict:
        """node id -> accumulated process() seconds."""
        return {s.node_id: self.node_time_ns[s.index] * 1e-9 for s in self.schedule.node_steps}

    # ---- audio side ------------------------------------------------------------------------

    def _drain(self) -> None:
        msgs = self.messages
        while msgs:
            msg = msgs.popleft()
            kind = msg[0]
            if kind == "param":
                node = self.schedule.nodes.get(msg[1])
                if node is not None:
                    try:
                        node.set_param(msg[2], msg[3])
                    except (KeyError, ValueError) as exc:
                        self.reports.append((msg[1], f"param {msg[2]!r}: {exc}"))
            elif kind == "swap":
                self._install(msg[1])
            elif kind == "reset":
                self._reset_now()

    def _reset_now(self) -> None:
        for step in self.schedule.steps:
            if isinstance(step, NodeStep):
                step.node.reset()
            elif hasattr(step, "reset"):
                step.reset()

    def process(self, host_in: np.ndarray | None, n: int | None = None) -> np.ndarray:
        """Run one block. host_in: float32 [channels, n] (or None for silence).

        Returns the host output view float32 [out_channels, n], valid until the next call.
        """
        if self.messages:
            self._drain()
        sched = self.schedule
        host = sched.host
        if n is None:
            n = host_in.shape[1] if host_in is not None else sched.block_size
        views = self._in_views.get(n)
        if views is None:
            views = (host.input_buffer[:, :n], host.output_buffer[:, :n])
            self._in_views[n] = views
        host.input, host.output = views
        if host_in is None:
            host.input.fill(0.0)
        else:
            c = min(host_in.shape[0], host.in_channels)
            host.input[:c] = host_in[:c, :n]
            if c < host.in_channels:
                host.input[c:] = 0.0
        host.output.fill(0.0)
        timing = self.timing
        times = self.node_time_ns
        for step in sched.steps:
            if type(step) is NodeStep:
                ins, outs = step.views(n)
                if step.bypassed:
                    _bypass(step, ins, outs, n)
                    continue
                if timing:
                    t0 = _perf_ns()
                try:
                    if step.fb_mode:
                        step.node.process_feedback_read(outs, n)
                    else:
                        step.node.process(ins, outs, n)
                except Exception as exc:  # isolate the fault: bypass the node, keep running
                    step.bypassed = True
                    step.node.error = f"raised {exc!r}; bypassed"
                    self.reports.append((step.node_id, step.node.error))
                    _bypass(step, ins, outs, n)
                if timing:
                    times[step.index] += _perf_ns() - t0
            else:
                step.run(n)
        for step in sched.feedback_steps:
            ins, _ = step.views(n)
            step.node.process_feedback_write(ins, n)
        self.blocks += 1
        return host.output


def _bypass(step: NodeStep, ins: dict, outs: dict, n: int) -> None:
    """A bypassed node passes its first audio input to its first audio output, else silence."""
    zero_outputs(outs, n)
    if not step.node.passthrough_on_error:
        return
    src = next((b for b in ins.values() if isinstance(b, np.ndarray) and b.ndim == 2), None)
    dst = next((b for b in outs.values() if isinstance(b, np.ndarray) and b.ndim == 2), None)
    if src is not None and dst is not None:
        c = min(src.shape[0], dst.shape[0])
        dst[:c] = src[:c]
