"""Single-writer ring buffers and snapshot boards in shared memory (``multiprocessing.shared_memory``).

The audio side writes, the control side (editor, CLI) reads at GUI rate. No locks:
the writer copies the data first and publishes the write count afterwards (an aligned
8-byte store); the reader copies what it needs, then re-reads the count and drops
whatever the writer may have overwritten meanwhile. The writer never waits.

Ring layout: an int64 header of :data:`HEADER_WORDS` words, then float32 data.

=====  ===========================================================================
word   meaning
=====  ===========================================================================
0      layout generation (bumped whenever the item shape changes; 0 = not bound yet)
1      kind: 0 none, 1 audio, 2 frames, 3 latent, 4 control, 5 events
2, 3   item shape: audio (channels, 1); frames (channels, bins); latent (dims, 1);
       control (1, 1); events (6, 1): time s, type, channel, data1, data2, value
4      capacity in items
5      items written so far (monotonic; published after the data)
=====  ===========================================================================

Audio is stored channel-planar ``[channels, capacity]``; frames ``[capacity, channels, bins]``;
latent and events ``[capacity, dims]``; control ``[capacity]``.
"""
from __future__ import annotations

import json
import sys
import time
from multiprocessing import shared_memory

import numpy as np

HEADER_WORDS = 8
HEADER_BYTES = HEADER_WORDS * 8
KINDS = {0: "none", 1: "audio", 2: "frames", 3: "latent", 4: "control", 5: "events"}
KIND_CODES = {v: k for k, v in KINDS.items()}

_GEN, _KIND, _D0, _D1, _CAP, _COUNT = range(6)


def create_shm(nbytes: int) -> shared_memory.SharedMemory:
    """Create a new shared-memory block of ``nbytes`` bytes (owned by the caller)."""
    return shared_memory.SharedMemory(create=True, size=int(nbytes))


def attach_shm(name: str) -> shared_memory.SharedMemory:
    """Attach to an existing block without registering it with this process's resource
    tracker (the creator owns and unlinks it; a second registration would unlink it early
    or warn about a leak when this side exits)."""
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, track=False)
    from multiprocessing import resource_tracker

    original = resource_tracker.register
    resource_tracker.register = lambda *a, **k: None
    try:
        return shared_memory.SharedMemory(name=name)
    finally:
        resource_tracker.register = original


# ---- tap rings --------------------------------------------------------------------------


class RingWriter:
    """Audio-side writer of one tap ring. ``bind`` (rare, may allocate) sets the item shape;
    ``write_*`` (per block) copy into preallocated shared memory without allocating arrays."""

    def __init__(self, shm: shared_memory.SharedMemory):
        self.shm = shm
        self.header = np.ndarray((HEADER_WORDS,), np.int64, shm.buf, 0)
        self.floats = (shm.size - HEADER_BYTES) // 4
        self.data = None
        self.cap = 0
        self.kind = "none"

    def bind(self, kind: str, d0: int, d1: int = 1) -> None:
        """Lay the ring out for items of ``kind`` and shape (d0, d1); restarts the stream."""
        item = max(1, d0 * d1)
        cap = max(1, self.floats // item)
        buf = self.shm.buf
        if kind == "audio":
            self.data = np.ndarray((d0, cap), np.float32, buf, HEADER_BYTES)
        elif kind == "frames":
            self.data = np.ndarray((cap, d0, d1), np.float32, buf, HEADER_BYTES)
        elif kind in ("latent", "events"):
            self.data = np.ndarray((cap, d0), np.float32, buf, HEADER_BYTES)
        else:
            self.data = np.ndarray((cap,), np.float32, buf, HEADER_BYTES)
        self.cap, self.kind = cap, kind
        h = self.header
        h[_COUNT] = 0
        h[_KIND], h[_D0], h[_D1], h[_CAP] = KIND_CODES[kind], d0, d1, cap
        h[_GEN] += 1           # published last: readers re-read the layout

    def write_audio(self, block: np.ndarray, n: int) -> None:
        """block: float32 [channels, >= n] (samples); appends n samples."""
        data, cap = self.data, self.cap
        count = int(self.header[_COUNT])
        pos = count % cap
        first = min(n, cap - pos)
        c = min(block.shape[0], data.shape[0])
        data[:c, pos:pos + first] = block[:c, :first]
        if first < n:
            data[:c, :n - first] = block[:c, first:n]
        self.header[_COUNT] = count + n

    def write_items(self, items: np.ndarray, k: int) -> None:
        """items: float32 [>= k, ...] frames/latent rows; appends k items (k <= capacity)."""
        if k <= 0:
            return
        data, cap = self.data, self.cap
        k = min(k, cap)
        count = int(self.header[_COUNT])
        pos = count % cap
        first = min(k, cap - pos)
        data[pos:pos + first] = items[:first]
        if first < k:
            data[:k - first] = items[first:k]
        self.header[_COUNT] = count + k

    def write_value(self, value: float) -> None:
        """Appends one control value (one item per block)."""
        count = int(self.header[_COUNT])
        self.data[count % self.cap] = value
        self.header[_COUNT] = count + 1

    def close(self) -> None:
        self.data = None
        self.header = None
        self.shm.close()


class TapReader:
    """Control-side reader of a tap ring; never blocks the writer.

    ``read()`` returns what arrived since the previous read: audio float32
    ``[channels, samples]``, frames ``[n, channels, bins]``, latent ``[n, dims]``,
    control ``[blocks]``. Items overwritten before they were read are lost (counted in
    ``dropped``). An unbound ring (the port has not run yet) reads as empty.
    """

    def __init__(self, shm: shared_memory.SharedMemory, node_id: str = "", port: str = "",
                 owner=None):
        self.shm = shm
        self.node_id, self.port = node_id, port
        self._owner = owner   # keeps the creating client alive while the reader is used
        self.header = np.ndarray((HEADER_WORDS,), np.int64, shm.buf, 0)
        self._gen = -1
        self._read = 0
        self.dropped = 0
        self.kind = "none"
        self.shape = (0, 0)
        self._data = None

    def _layout(self) -> bool:
        gen = int(self.header[_GEN])
        if gen == self._gen:
            return self._data is not None
        kind = KINDS.get(int(self.header[_KIND]), "none")
        d0, d1, cap = (int(self.header[i]) for i in (_D0, _D1, _CAP))
        if gen == 0 or kind == "none" or cap <= 0:
            return False
        buf = self.shm.buf
        if kind == "audio":
            self._data = np.ndarray((d0, cap), np.float32, buf, HEADER_BYTES)
        elif kind == "frames":
            self._data = np.ndarray((cap, d0, d1), np.float32, buf, HEADER_BYTES)
        elif kind in ("latent", "events"):
            self._data = np.ndarray((cap, d0), np.float32, buf, HEADER_BYTES)
        else:
            self._data = np.ndarray((cap,), np.float32, buf, HEADER_BYTES)
        self._gen, self.kind, self.shape, self._cap = gen, kind, (d0, d1), cap
        self._read = 0
        return True

    def _empty(self) -> np.ndarray:
        d0, d1 = self.shape
        if self.kind == "audio":
            return np.zeros((max(d0, 1), 0), np.float32)
        if self.kind == "frames":
            return np.zeros((0, max(d0, 1), max(d1, 1)), np.float32)
        if self.kind in ("latent", "events"):
            return np.zeros((0, max(d0, 1)), np.float32)
        return np.zeros(0, np.float32)

    def _copy(self, start: int, stop: int) -> np.ndarray:
        cap, data = self._cap, self._data
        idx = np.arange(start, stop) % cap
        if self.kind == "audio":
            return data[:, idx]
        return data[idx]

    def _fetch(self, start: int, stop: int) -> tuple[np.ndarray, int]:
        out = self._copy(start, stop)
        after = int(self.header[_COUNT])
        if int(self.header[_GEN]) != self._gen:
            return self._empty(), stop
        lost = max(0, after - self._cap - start)   # overwritten while we copied
        if lost:
            out = out[:, lost:] if self.kind == "audio" else out[lost:]
        return out, stop

    def read(self, max_items: int | None = None) -> np.ndarray:
        """Newest items since the last read (at most ``max_items``, the newest ones)."""
        if not self._layout():
            return self._empty()
        count = int(self.header[_COUNT])
        start = max(self._read, count - self._cap)
        if max_items is not None:
            start = max(start, count - int(max_items))
        self.dropped += max(0, start - self._read)
        if count <= start:
            self._read = count
            return self._empty()
        out, self._read = self._fetch(start, count)
        return out

    def latest(self, n: int) -> np.ndarray:
        """The last ``n`` items (fewer if fewer were written), regardless of reads."""
        if not self._layout():
            return self._empty()
        count = int(self.header[_COUNT])
        start = max(0, count - min(int(n), self._cap))
        out, _ = self._fetch(start, count)
        return out

    @property
    def total(self) -> int:
        """Items written since the ring was bound."""
        return int(self.header[_COUNT]) if self._layout() else 0

    def close(self) -> None:
        self._data = None
        self.header = None


# ---- snapshot board (meters) ------------------------------------------------------------


class SnapshotBoard:
    """A JSON snapshot in shared memory under a sequence lock (one writer, many readers).

    Layout: int64 [sequence, length], then UTF-8 JSON bytes. The writer makes the sequence
    odd while it writes; a reader retries when it saw an odd or changed sequence.
    """

    def __init__(self, shm: shared_memory.SharedMemory):
        self.shm = shm
        self.words = np.ndarray((2,), np.int64, shm.buf, 0)
        self.bytes = np.ndarray((shm.size - 16,), np.uint8, shm.buf, 16)

    def publish(self, snapshot: dict) -> None:
        raw = json.dumps(snapshot, separators=(",", ":")).encode()
        if len(raw) > self.bytes.shape[0]:
            raw = json.dumps({"truncated": True, "running": snapshot.get("running", False)}).encode()
        seq = int(self.words[0])
        self.words[0] = seq + 1
        self.bytes[:len(raw)] = np.frombuffer(raw, np.uint8)
        self.words[1] = len(raw)
        self.words[0] = seq + 2

    def read(self, timeout: float = 0.05) -> dict | None:
        """The latest snapshot, or None when none was published (or the writer kept
        rewriting it for ``timeout`` seconds)."""
        deadline = time.perf_counter() + timeout
        while True:
            s1 = int(self.words[0])
            if not s1 & 1:
                length = int(self.words[1])
                raw = self.bytes[:length].tobytes()
                if int(self.words[0]) == s1:
                    return json.loads(raw) if length else None
            if time.perf_counter() > deadline:
                return None
            time.sleep(0.0002)

    def close(self) -> None:
        self.words = None
        self.bytes = None
        self.shm.close()
