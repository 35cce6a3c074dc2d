"""Engine meters: block load, xruns, per-node CPU, latency.

The audio callback only bumps numbers in a preallocated float64 array
(:class:`BlockStats`); the control side turns them into a JSON-safe snapshot once per
window (:class:`MeterWindow`) and publishes it to shared memory.
"""
from __future__ import annotations

import time

import numpy as np

# BlockStats slots
XRUNS, IN_OVERFLOWS, OUT_UNDERFLOWS, BLOCKS, LOAD_SUM, LOAD_PEAK, SAMPLES = range(7)


class BlockStats:
    """Counters written by the audio callback (one writer; readers tolerate torn values).

    load = callback time / block duration (fraction; 1.0 = the whole block).
    """

    def __init__(self):
        self.values = np.zeros(8, np.float64)

    def record(self, load: float, n: int, in_overflow: bool, out_underflow: bool) -> None:
        v = self.values
        v[BLOCKS] += 1.0
        v[SAMPLES] += n
        v[LOAD_SUM] += load
        if load > v[LOAD_PEAK]:
            v[LOAD_PEAK] = load
        if in_overflow or out_underflow:
            v[XRUNS] += 1.0
            if in_overflow:
                v[IN_OVERFLOWS] += 1.0
            if out_underflow:
                v[OUT_UNDERFLOWS] += 1.0


class MeterWindow:
    """Averages over windows of ``seconds`` (default 1 s) of audio-side counters."""

    def __init__(self, seconds: float = 1.0):
        self.seconds = seconds
        self._t = time.perf_counter()
        self._blocks = 0.0
        self._load_sum = 0.0
        self._node_ns = None
        self._node_ref = None
        self.load_avg = 0.0
        self.load_peak = 0.0
        self.node_cpu: dict = {}

    def due(self) -> bool:
        return time.perf_counter() - self._t >= self.seconds

    def update(self, stats: BlockStats, schedule, node_time_ns: np.ndarray, block_seconds: float) -> None:
        """Close the current window. node_time_ns: the runtime's per-step accumulated ns."""
        v = stats.values
        blocks, load_sum = float(v[BLOCKS]), float(v[LOAD_SUM])
        nb = blocks - self._blocks
        self.load_avg = (load_sum - self._load_sum) / nb if nb > 0 else 0.0
        self.load_peak = float(v[LOAD_PEAK])
        v[LOAD_PEAK] = 0.0
        times = node_time_ns.copy()
        cpu = {}
        if schedule is not None and nb > 0:
            same = self._node_ref is node_time_ns and self._node_ns is not None
            base = self._node_ns if same else np.zeros_like(times)
            for step in schedule.node_steps:
                if step.index < len(times):
                    cpu[step.node_id] = float(times[step.index] - base[step.index]) * 1e-9 / (nb * block_seconds)
        self.node_cpu = cpu
        self._node_ns, self._node_ref = times, node_time_ns
        self._blocks, self._load_sum = blocks, load_sum
        self._t = time.perf_counter()
