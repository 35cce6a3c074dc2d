"""Stream kinds, port declarations and the buffers that flow along cables.

Buffers per kind (one per output port, preallocated by the compiler):

- ``audio``:   ``np.ndarray`` float32 ``[channels, block_size]``; nodes get views
               ``[channels, n]`` of the valid part of the block.
- ``frames``:  :class:`FrameBuffer` with ``data`` float32 ``[max_frames, channels, bins]``
               and ``count`` valid frames this block (0..max_frames).
- ``latent``:  :class:`FrameBuffer` with ``data`` float32 ``[max_frames, dims]``.
- ``control``: ``np.ndarray`` float32 ``[1]``: one value per block.
- ``events``:  :class:`~.events.EventBuffer`: preallocated arrays of MIDI-like records sorted by offset.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

STREAM_KINDS = ("audio", "frames", "control", "latent", "events")

#: Colours the editor uses per kind (kept here so every front end agrees).
KIND_COLOURS = {
    "audio": "#4caf50",
    "frames": "#2196f3",
    "control": "#ff9800",
    "latent": "#9c27b0",
    "events": "#f44336",
    "any": "#9e9e9e",
}


@dataclass(frozen=True)
class Port:
    """A node's input or output.

    ``channels`` None means "decided in prepare" (audio outputs default to the
    channel count of the node's audio inputs). For frames ports ``bins`` and ``hop``
    are decided by the producing node in prepare.
    """

    name: str
    kind: str
    channels: int | None = None
    doc: str = ""
    default: float = 0.0  # value of an unconnected control input

    def __post_init__(self):
        if self.kind not in STREAM_KINDS + ("any",):
            raise ValueError(f"port {self.name!r}: unknown stream kind {self.kind!r}")


@dataclass(frozen=True)
class StreamSpec:
    """The concrete shape of a stream, fixed at compile time.

    audio: channels. frames: channels, bins, hop (samples per frame).
    latent: dims (as ``bins``), hop. control/events: nothing else.
    ``lookahead`` (frames): samples of input newer than a frame's time (the time its
    producer's latency refers to) that went into the frame; an analysis window centred
    on the frame's time reaches ``n_fft // 2`` ahead. 0: none, or not known.
    ``known`` False: a check-only compile could not learn the shape without a prepare that
    does I/O (the nodes downstream are not checked).
    """

    kind: str
    channels: int = 1
    bins: int = 0
    hop: int = 0
    known: bool = True
    lookahead: int = 0

    def max_frames(self, block_size: int) -> int:
        """Upper bound of frames per block for frames/latent streams."""
        if self.hop <= 0:
            return 1
        return math.ceil(block_size / self.hop) + 1

    def with_(self, **kw) -> "StreamSpec":
        return replace(self, **kw)


class FrameBuffer:
    """Frames for one block: ``data[:count]`` is valid.

    data: float32 ``[max_frames, channels, bins]`` (frames) or ``[max_frames, dims]`` (latent).
    """

    __slots__ = ("data", "count")

    def __init__(self, data: np.ndarray):
        self.data = data
        self.count = 0

    @property
    def valid(self) -> np.ndarray:
        return self.data[: self.count]

    def clear(self) -> None:
        self.count = 0


def allocate_buffer(spec: StreamSpec, block_size: int):
    """A zeroed buffer for a stream of `spec` at `block_size`."""
    if spec.kind == "audio":
        return np.zeros((spec.channels, block_size), dtype=np.float32)
    if spec.kind == "frames":
        return FrameBuffer(np.zeros((spec.max_frames(block_size), spec.channels, spec.bins), np.float32))
    if spec.kind == "latent":
        return FrameBuffer(np.zeros((spec.max_frames(block_size), spec.bins), np.float32))
    if spec.kind == "control":
        return np.zeros(1, dtype=np.float32)
    if spec.kind == "events":
        return EventBuffer()
    raise ValueError(f"no buffer for stream kind {spec.kind!r}")


def kinds_compatible(src_kind: str, dst_kind: str) -> bool:
    return src_kind == dst_kind or "any" in (src_kind, dst_kind)


from .events import EventBuffer  # noqa: E402  (re-exported: the events stream's buffer)
