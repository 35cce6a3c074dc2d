"""Event streams: preallocated, sorted, allocation-free buffers of MIDI-like records, and the
transport (tempo, play state, position) that players and generators follow.

One block's events live in an :class:`EventBuffer`: parallel arrays (structure of arrays,
so numba kernels take them directly) with a fixed capacity, sorted by sample offset
(events at the same offset keep the order they were pushed in). A push into a full buffer
is dropped and counted in ``overflow``; nothing is allocated on the audio path.

Record fields (one per array, index < ``count``):

=========  =======  =========================================================
offset     int32    sample offset in the block, 0 <= offset < block size
type       uint8    MIDI status high nibble: NOTE_ON, NOTE_OFF, CONTROL, ...
channel    uint8    MIDI channel 0..15
data1      uint8    note number / controller number
data2      uint8    velocity / controller value
value      float32  PITCH_BEND: -1..1 (semitones scale per receiver); otherwise 0
=========  =======  =========================================================
"""
from __future__ import annotations

import numpy as np

NOTE_OFF = 0x80
NOTE_ON = 0x90
POLY_PRESSURE = 0xA0
CONTROL = 0xB0
PROGRAM = 0xC0
PRESSURE = 0xD0
PITCH_BEND = 0xE0
DEFAULT_CAPACITY = 512
ALL_NOTES_OFF = 123  # controller number


class EventBuffer:
    """One block of events; see the module docstring for the fields."""

    __slots__ = ("offset", "type", "channel", "data1", "data2", "value", "count", "overflow")

    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        self.offset = np.zeros(capacity, np.int32)
        self.type = np.zeros(capacity, np.uint8)
        self.channel = np.zeros(capacity, np.uint8)
        self.data1 = np.zeros(capacity, np.uint8)
        self.data2 = np.zeros(capacity, np.uint8)
        self.value = np.zeros(capacity, np.float32)
        self.count = 0
        self.overflow = 0    # events dropped because the buffer was full (since creation)

    @property
    def capacity(self) -> int:
        return self.offset.shape[0]

    def __len__(self) -> int:
        return self.count

    def clear(self) -> None:
        self.count = 0

    def push(self, offset: int, type_: int, channel: int = 0, data1: int = 0, data2: int = 0,
             value: float = 0.0) -> bool:
        """Insert one event in offset order; False (and ``overflow`` += 1) when full."""
        n = self.count
        if n >= self.offset.shape[0]:
            self.overflow += 1
            return False
        i = n
        off = self.offset
        while i > 0 and off[i - 1] > offset:
            i -= 1
        if i < n:  # shift the later events up by one (rare: sources push in order)
            for arr in (self.offset, self.type, self.channel, self.data1, self.data2, self.value):
                arr[i + 1:n + 1] = arr[i:n]
        off[i] = offset
        self.type[i] = type_
        self.channel[i] = channel
        self.data1[i] = data1
        self.data2[i] = data2
        self.value[i] = value
        self.count = n + 1
        return True

    def extend_from(self, other: "EventBuffer", shift: int = 0, lo: int = 0, hi: int | None = None) -> None:
        """Push `other`'s events with offset in [lo, hi), moved by `shift` samples."""
        for k in range(other.count):
            o = int(other.offset[k])
            if o >= lo and (hi is None or o < hi):
                self.push(o + shift, other.type[k], other.channel[k], other.data1[k], other.data2[k],
                          other.value[k])

    def records(self) -> list:
        """(offset, type, channel, data1, data2, value) tuples (allocates: tests, GUI, files)."""
        return [(int(self.offset[k]), int(self.type[k]), int(self.channel[k]), int(self.data1[k]),
                 int(self.data2[k]), float(self.value[k])) for k in range(self.count)]


def note_on(offset: int, note: int, velocity: int, channel: int = 0) -> tuple:
    """An event record tuple as :meth:`EventBuffer.records` gives (for tests and players)."""
    return (offset, NOTE_ON, channel, note, velocity, 0.0)


def note_off(offset: int, note: int, channel: int = 0) -> tuple:
    return (offset, NOTE_OFF, channel, note, 0, 0.0)


def event_overflows(schedule) -> dict:
    """'node.port' -> events dropped because that output's buffer was full, and 'node (lane)'
    -> events that did not fit a chunk sent to the node's worker (non-zero only)."""
    out = {}
    for step in schedule.node_steps:
        for port, buf in step.out_bufs.items():
            if isinstance(buf, EventBuffer) and buf.overflow:
                out[f"{step.node_id}.{port}"] = buf.overflow
        dropped = getattr(step.lane, "dropped_events", 0)
        if dropped:
            out[f"{step.node_id} (lane)"] = dropped
    return out


class EventMergeStep:
    """Fan-in: several event cables into one input are merged in offset order."""

    __slots__ = ("sources", "dest")

    def __init__(self, sources, dest: EventBuffer):
        self.sources = sources
        self.dest = dest

    def run(self, n):
        self.dest.clear()
        for src in self.sources:
            self.dest.extend_from(src)


class EventDelayLine:
    """Latency compensation for events: every event leaves `lag` samples later."""

    __slots__ = ("src", "dest", "lag", "pending")

    def __init__(self, src: EventBuffer, dest: EventBuffer, lag: int, capacity: int = 4 * DEFAULT_CAPACITY):
        self.src, self.dest, self.lag = src, dest, int(lag)
        self.pending = EventBuffer(capacity)   # offsets relative to the current block's start

    def run(self, n):
        pending, dest = self.pending, self.dest
        pending.extend_from(self.src, shift=self.lag)
        dest.clear()
        dest.extend_from(pending, lo=0, hi=n)
        k = 0
        while k < pending.count and pending.offset[k] < n:
            k += 1
        if k:  # drop what left; the rest moves one block earlier
            m = pending.count - k
            for arr in (pending.offset, pending.type, pending.channel, pending.data1, pending.data2, pending.value):
                arr[:m] = arr[k:k + m]
            pending.count = m
        pending.offset[:pending.count] -= n

    def reset(self):
        self.pending.clear()


class Transport:
    """Tempo, play state and position, shared by every node of a schedule (``ctx.host.transport``).

    position: samples since the transport started (advanced by the runtime after each block).
    """

    __slots__ = ("tempo", "playing", "position", "sample_rate")

    def __init__(self, sample_rate: int, tempo: float = 120.0):
        self.sample_rate = int(sample_rate)
        self.tempo = float(tempo)
        self.playing = True
        self.position = 0

    @property
    def samples_per_beat(self) -> float:
        return 60.0 * self.sample_rate / self.tempo

    def follow(self, other: "Transport") -> None:
        """Continue from `other` (a new schedule after a live edit): position and play state."""
        self.position, self.playing = other.position, other.playing

    def advance(self, n: int) -> None:
        if self.playing:
            self.position += n

    def reset(self) -> None:
        self.position = 0
