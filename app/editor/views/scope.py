"""The scope display: channel 0 over a window of ``time_ms`` milliseconds, started where
the signal rises through ``trigger_level`` (or the newest samples, ``trigger`` free).
Time axis in ms, amplitude in full scale (FS)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QPen, QPolygonF

from neuropatch.engine.streams import KIND_COLOURS

from .axes import format_number, nice_ticks
from .base import Display

MAX_WINDOW_S = 1.0


class ScopeDisplay(Display):
    name = "scope"

    def reset(self) -> None:
        self.ring = np.zeros(int(2.2 * MAX_WINDOW_S * self.sample_rate), np.float32)
        self.items_fed = 0
        self.sweep = np.zeros(0, np.float32)   # the samples drawn by the last paint
        self.triggered = False

    def feed(self, data: np.ndarray) -> None:
        x = np.asarray(data, np.float32)
        x = x[0] if x.ndim == 2 else x.ravel()
        n = x.shape[0]
        if n == 0:
            return
        cap = self.ring.shape[0]
        if n >= cap:
            self.ring[:] = x[-cap:]
        else:
            self.ring[:-n] = self.ring[n:]
            self.ring[-n:] = x
        self.items_fed += n

    def window_samples(self) -> int:
        return max(int(round(float(self.params.get("time_ms", 20.0)) * 1e-3 * self.sample_rate)), 2)

    def current_sweep(self) -> np.ndarray:
        """The samples to draw: ``window_samples()`` of them, from the newest rising crossing
        that still leaves a whole window after it (free: the newest window)."""
        n = self.window_samples()
        fed = min(self.items_fed, self.ring.shape[0])
        recent = self.ring[-min(fed, 2 * n):] if fed else self.ring[:0]
        self.triggered = False
        if self.params.get("trigger", "rising") == "rising" and recent.shape[0] > n:
            level = float(self.params.get("trigger_level", 0.0))
            search = recent[:recent.shape[0] - n + 1]
            rising = np.flatnonzero((search[:-1] < level) & (search[1:] >= level))
            if rising.size:
                start = int(rising[-1]) + 1
                self.triggered = True
                return recent[start:start + n]
        return recent[-n:]

    def draw(self, painter, plot: QRectF, axes) -> None:
        time_ms = float(self.params.get("time_ms", 20.0))
        amp = float(self.params.get("amplitude", 1.0))
        axes.x_ticks([(v / time_ms, format_number(v)) for v in nice_ticks(0.0, time_ms, 5)], "ms")
        axes.y_ticks([((v + amp) / (2 * amp), format_number(v)) for v in nice_ticks(-amp, amp, 4)], "FS")
        sweep = self.sweep = self.current_sweep()
        n = self.window_samples()
        if sweep.shape[0] < 2:
            return
        step = max(1, sweep.shape[0] // max(int(plot.width() * 2), 1))
        shown = sweep[::step]
        xs = plot.left() + np.arange(shown.shape[0]) * step / (n - 1) * plot.width()
        ys = plot.center().y() - np.clip(shown / amp, -1.0, 1.0) * plot.height() / 2
        painter.setPen(QPen(QColor(KIND_COLOURS["audio"]), 1.2))
        painter.drawPolyline(QPolygonF([QPointF(float(a), float(b)) for a, b in zip(xs, ys)]))
