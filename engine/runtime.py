"""Runs a :class:`Schedule` block by block.

Message-only control (so the same code serves a thread or a separate process): edits
arrive through :meth:`Runtime.post` on a deque (append/popleft are atomic in CPython,
no lock) and are drained once per block, before the graph runs.

Live edits swap schedules with a short linear crossfade on the host output
(:class:`Transition`, built off the audio thread): for the length of the fade the old
schedule keeps running beside the new one. Node instances that both schedules share
(surviving nodes) run once, in the new schedule; the old schedule reads their outputs
from the new one, so an unchanged path sounds exactly as before the edit. Schedules
that leave the audio side are queued in ``retired`` so their memory is released by the
control side, not in the audio callback.
"""
from __future__ import annotations

import time
from collections import deque

import numpy as np

from .compiler import NodeStep, Schedule
from .node import zero_outputs
from .streams import FrameBuffer
from .warm_parallel import warm_steps

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
        self.retired: deque = deque()   # schedules no longer used by the audio side
        self.blocks = 0
        self.schedule = None
        self.transition: Transition | None = None
        self._install(schedule)

    def _install(self, schedule: Schedule, node_time_ns: np.ndarray | None = None) -> None:
        if self.schedule is not None and self.schedule is not schedule:
            self.retired.append(self.schedule)
            schedule.host.transport.follow(self.schedule.host.transport)  # an edit keeps the position
        self.schedule = schedule
        self.node_time_ns = (node_time_ns if node_time_ns is not None
                             else np.zeros(len(schedule.node_steps), np.int64))

    # ---- control (any thread) --------------------------------------------------------------

    def post(self, message: tuple) -> None:
        """Queue ('param', node_id, name, value) | ('swap', schedule) |
        ('crossfade', Transition) | ('reset',)."""
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
                if node is not None and node.error is None:
                    try:
                        node.set_param(msg[2], msg[3])
                    except (KeyError, ValueError) as exc:
                        self.reports.append((msg[1], f"param {msg[2]!r}: {exc}"))
            elif kind == "swap":
                self._end_transition()
                self._install(msg[1])
            elif kind == "crossfade":
                tr = msg[1]
                self._end_transition()
                # a transition built against a schedule that never got installed (edits
                # faster than blocks) swaps without a fade
                fade = tr.old is self.schedule
                self._install(tr.new, tr.node_time_ns)
                if fade:
                    self.transition = tr
            elif kind == "reset":
                self._reset_now()

    def _end_transition(self) -> None:
        tr = self.transition
        if tr is not None:
            self.transition = None
            self.retired.append(tr)

    def warm_up(self, blocks: int = 1) -> None:
        """Run `blocks` blocks of silence, then reset every node and the meters: first calls
        (numba dispatch and compilation, lazy caches) happen here, not in the first real
        block. With a cold kernel cache the nodes are first warmed one by one, the heavier
        node types in child processes at the same time (:mod:`.warm_parallel`). Not for the
        audio thread."""
        bs = self.schedule.block_size
        if blocks > 0:
            warm_nodes(self.schedule)
        for _ in range(blocks):
            self.process(None, bs)
        self._reset_now()
        self.blocks = 0
        self.node_time_ns[:] = 0

    def _reset_now(self) -> None:
        self.schedule.host.transport.reset()
        for step in self.schedule.steps:
            if isinstance(step, NodeStep):
                if step.bypassed and not step.switched_off:  # failed prepare or raised: never again
                    continue
                step.node.reset()     # resets the node's lane too
            elif hasattr(step, "reset"):
                step.reset()

    def process(self, host_in: np.ndarray | None, n: int | None = None) -> np.ndarray:
        """Run one block. host_in: float32 [channels, n] (or None for silence).

        Returns the host output view float32 [out_channels, n], valid until the next call.
        """
        if self.messages:
            self._drain()
        sched = self.schedule
        if n is None:
            n = host_in.shape[1] if host_in is not None else sched.block_size
        out = self._run(sched, sched.steps, sched.feedback_steps, host_in, n,
                        self.node_time_ns if self.timing else None)
        tr = self.transition
        if tr is not None:
            old = tr.old
            old_out = self._run(old, tr.old_steps, tr.old_feedback_steps, host_in, n, None)
            if tr.mix(out, old_out, n):
                self.transition = None
                self.retired.append(tr)
        sched.host.transport.advance(n)
        self.blocks += 1
        return out

    def _run(self, sched: Schedule, steps: list, feedback_steps: list, host_in, n: int, times):
        host = sched.host
        if host.input.shape[1] != n:      # re-slice only when the block length changes
            host.input = host.input_buffer[:, :n]
        if host.output.shape[1] != n:
            host.output = host.output_buffer[:, :n]
        if host_in is None:
            host.input.fill(0.0)
        else:
            c = min(host_in.shape[0], host.in_channels)
            host.input[:c] = host_in[:c, :n]
            if c < host.in_channels:
                host.input[c:] = 0.0
        host.output.fill(0.0)
        for step in steps:
            if type(step) is NodeStep:
                ins, outs = step.views(n)
                if step.bypassed:
                    _bypass(step, ins, outs, n)
                    continue
                if times is not None:
                    t0 = _perf_ns()
                try:
                    step.call(ins, outs, n)
                except Exception as exc:  # isolate the fault: bypass the node, keep running
                    step.bypassed = True
                    step.node.error = f"raised {exc!r}; bypassed"
                    self.reports.append((step.node_id, step.node.error))
                    _bypass(step, ins, outs, n)
                if times is not None:
                    times[step.index] += _perf_ns() - t0
            else:
                step.run(n)
        for step in feedback_steps:
            if not step.bypassed:
                ins, _ = step.views(n)
                step.node.process_feedback_write(ins, n)
        return host.output


class CopyOutputs:
    """Stands in for a node both schedules share during a crossfade: the old schedule
    takes the node's outputs from the new schedule instead of running it twice."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list):
        self.pairs = pairs  # [(src buffer in the new schedule, dest buffer in the old one)]

    def run(self, n: int) -> None:
        for src, dst in self.pairs:
            if isinstance(src, np.ndarray):
                if src.ndim == 2:
                    c = min(src.shape[0], dst.shape[0])
                    dst[:c, :n] = src[:c, :n]
                else:
                    dst[:] = src
            elif hasattr(src, "count"):
                k = min(src.count, dst.data.shape[0])
                if src.data.shape[1:] == dst.data.shape[1:]:
                    dst.data[:k] = src.data[:k]
                dst.count = k
            else:
                dst.events[:] = src.events


class Transition:
    """A prepared schedule swap with a linear crossfade of ``fade_samples`` on the host output.

    Built on the control side (it allocates); the audio side only runs it. Linear (not
    equal-power) because the two outputs are mostly the same signal: a linear fade of
    identical signals is exact, equal-power would swell by up to +3 dB.
    """

    def __init__(self, old: Schedule, new: Schedule, fade_samples: int):
        self.old, self.new = old, new
        self.fade_samples = max(1, int(fade_samples))
        shared = {id(node) for node in new.nodes.values()}
        new_index = {s.node_id: s for s in new.node_steps}
        self.old_steps = []
        for step in old.steps:
            if type(step) is NodeStep and id(step.node) in shared:
                twin = new_index.get(step.node_id)
                pairs = [(twin.out_bufs[p], b) for p, b in step.out_bufs.items()
                         if twin is not None and p in twin.out_bufs]
                self.old_steps.append(CopyOutputs(pairs))
            else:
                self.old_steps.append(step)
        self.old_feedback_steps = [s for s in old.feedback_steps if id(s.node) not in shared]
        # fade-in gain per sample (the fade-out is its complement)
        self.ramp = ((np.arange(self.fade_samples, dtype=np.float64) + 1.0)
                     / (self.fade_samples + 1.0)).astype(np.float32)
        self.pos = 0
        self.node_time_ns = np.zeros(len(new.node_steps), np.int64)

    def mix(self, out: np.ndarray, old_out: np.ndarray, n: int) -> bool:
        """out <- old_out + (out - old_out) * ramp, in place. Returns True when the fade is done.

        out, old_out: float32 [channels, n] host outputs of the new and old schedule.
        """
        k = min(n, self.fade_samples - self.pos)
        c = min(out.shape[0], old_out.shape[0])
        r = self.ramp[self.pos:self.pos + k]
        a, b = out[:c, :k], old_out[:c, :k]
        a -= b
        a *= r
        a += b
        if out.shape[0] > c:
            out[c:, :k] *= r
        self.pos += k
        return self.pos >= self.fade_samples


def _bypass(step: NodeStep, ins: dict, outs: dict, n: int) -> None:
    """A bypassed node passes its declared ``bypass_routes`` on; other outputs are silent."""
    zero_outputs(outs, n)
    for src, dst in step.routes:
        if isinstance(src, FrameBuffer):
            k = min(src.count, dst.data.shape[0])
            dst.data[:k] = src.data[:k]
            dst.count = k
        else:
            c = min(src.shape[0], dst.shape[0])
            dst[:c, :n] = src[:c, :n]


def warm_nodes(schedule: Schedule) -> int:
    """When the kernels of several heavier node types of `schedule` are not cached yet, call
    every node once on its (silent) buffers, in order, with children compiling those types'
    kernels meanwhile (:func:`.warm_parallel.warm_steps`); otherwise do nothing. Returns the
    number of children. Lane nodes, feedback delays and bypassed nodes are left to the first
    block; a node that raises here raises again there, where the runtime bypasses it. Nodes
    are not reset (the caller does)."""
    bs = schedule.block_size
    host = schedule.host
    host.input = host.input_buffer[:, :bs]
    host.output = host.output_buffer[:, :bs]
    steps = [s for s in schedule.node_steps if s.lane is None and not s.fb_mode and not s.bypassed]

    def warm_one(step) -> None:
        ins, outs = step.views(bs)
        try:
            step.call(ins, outs, bs)
        except Exception:
            pass

    n = warm_steps(schedule, steps, warm_one, always=False)   # nothing to spread: the block does it
    host.output.fill(0.0)
    return n
