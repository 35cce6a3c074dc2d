"""The base of the view displays: state fed from a tap at screen rate, painted into any
rectangle (a node's body on the canvas or a window of its own).

A display never touches the audio side: the editor reads the view node's input tap and
calls :meth:`Display.feed` with what arrived since the last read (shapes as
:class:`~neuropatch.engine.live.TapReader` returns them: audio float32 [channels, samples],
frames [n, channels, bins], latent [n, dims], events [n, 6] rows of (time s, type,
channel, data1, data2, value)).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF

from .axes import BACKGROUND, AxisPainter, plot_rect


class Display:
    """One view's state and drawing. ``params`` are the view node's params (size and
    settings); ``labels`` lists the axis texts drawn by the last :meth:`paint`."""

    #: the view nodes' ``display`` capability this class draws
    name = ""
    has_colour_bar = False

    def __init__(self, params: dict, sample_rate: int = 48000):
        self.params = dict(params)
        self.sample_rate = int(sample_rate)
        self.hop = 0                # samples per frame of a frames/latent input (0: unknown)
        self.bins_are_hz = True     # frames bins are STFT bins (False: bands without a Hz scale)
        self.labels: list[str] = []
        self.items_fed = 0          # samples (audio) or frames/events fed since the last reset
        self.reset()

    # ---- settings -------------------------------------------------------------------------

    def configure(self, params: dict) -> None:
        """New param values (the node's params changed); restarts the picture when a
        setting that shapes the history changed."""
        changed = {k for k, v in params.items() if self.params.get(k) != v}
        self.params.update(params)
        if changed & self.restart_on:
            self.reset()

    #: params whose change restarts the history
    restart_on: set = set()

    def set_stream(self, sample_rate: int, hop: int = 0, bins_are_hz: bool = True) -> None:
        """What the engine runs: its sample rate and, for frames inputs, the hop (samples)."""
        if (int(sample_rate), int(hop), bool(bins_are_hz)) != (self.sample_rate, self.hop, self.bins_are_hz):
            self.sample_rate, self.hop, self.bins_are_hz = int(sample_rate), int(hop), bool(bins_are_hz)
            self.reset()

    # ---- data -----------------------------------------------------------------------------

    def feed(self, data: np.ndarray) -> None:
        """Take what the tap delivered since the last call (shapes in the module doc)."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget everything fed (a stopped transport starts from an empty view)."""

    # ---- drawing --------------------------------------------------------------------------

    def paint(self, painter, rect: QRectF) -> None:
        painter.save()
        painter.fillRect(rect, BACKGROUND)
        plot = plot_rect(rect, self.has_colour_bar)
        axes = AxisPainter(painter, plot)
        painter.setClipRect(rect)
        self.draw(painter, plot, axes)
        axes.frame()
        self.labels = axes.labels
        painter.restore()

    def draw(self, painter, plot: QRectF, axes: AxisPainter) -> None:
        """Draw the data into `plot` and the axes through `axes`."""
        raise NotImplementedError


class ColumnHistory:
    """The newest ``capacity`` columns (rows of a [capacity, width] float32 array) in a ring.

    ``ordered()`` returns them oldest first, padded with ``fill`` where nothing arrived yet.
    """

    def __init__(self, capacity: int, width: int, fill: float):
        self.fill = float(fill)
        self.data = np.full((max(int(capacity), 1), max(int(width), 1)), self.fill, np.float32)
        self.count = 0

    @property
    def capacity(self) -> int:
        return self.data.shape[0]

    @property
    def width(self) -> int:
        return self.data.shape[1]

    def push(self, columns: np.ndarray) -> None:
        """columns: [n, width]; only the newest `capacity` are kept."""
        n = columns.shape[0]
        if n == 0:
            return
        cap = self.capacity
        if n > cap:
            columns, n = columns[-cap:], cap
        pos = self.count % cap
        first = min(n, cap - pos)
        self.data[pos:pos + first] = columns[:first]
        if first < n:
            self.data[:n - first] = columns[first:]
        self.count += n

    def ordered(self) -> np.ndarray:
        pos = self.count % self.capacity
        if self.count < self.capacity:
            return self.data if pos == 0 and self.count == 0 else np.concatenate(
                [np.full((self.capacity - self.count, self.width), self.fill, np.float32), self.data[:pos]])
        return np.concatenate([self.data[pos:], self.data[:pos]])
