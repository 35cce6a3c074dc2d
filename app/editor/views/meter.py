"""The level meter display: peak and RMS per channel in dBFS on a scale from ``floor_db``
to 0 dB, the highest peak held for ``hold_s`` seconds, a clip light once a sample reached
full scale. ``reset`` (the transport stopped) drops everything back to the floor."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPen

from neuropatch.engine.streams import KIND_COLOURS

from .axes import format_number
from .base import Display

PEAK_FALL_DB_PER_S = 20.0
SILENCE_DB = -200.0


def level_db(x) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(np.asarray(x, np.float64), 1e-10))


class MeterDisplay(Display):
    name = "meter"

    def reset(self) -> None:
        self.items_fed = 0
        self.peak_db = np.full(1, SILENCE_DB)   # per channel, falling at 20 dB/s
        self.rms_db = np.full(1, SILENCE_DB)
        self.hold_db = np.full(1, SILENCE_DB)
        self.hold_age_s = np.zeros(1)
        self.clipped = np.zeros(1, bool)

    def _channels(self, c: int) -> None:
        if self.peak_db.shape[0] != c:
            self.peak_db, self.rms_db, self.hold_db = (np.full(c, SILENCE_DB) for _ in range(3))
            self.hold_age_s = np.zeros(c)
            self.clipped = np.zeros(c, bool)

    def feed(self, data: np.ndarray) -> None:
        x = np.asarray(data, np.float32)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] == 0:
            return
        self._channels(x.shape[0])
        dt = x.shape[1] / self.sample_rate
        peak = np.max(np.abs(x), axis=1)
        now_db = level_db(peak)
        self.peak_db = np.maximum(now_db, self.peak_db - PEAK_FALL_DB_PER_S * dt)
        self.rms_db = level_db(np.sqrt(np.mean(np.square(x, dtype=np.float64), axis=1)))
        hold = float(self.params.get("hold_s", 1.5))
        self.hold_age_s += dt
        renew = (now_db >= self.hold_db) | (self.hold_age_s > hold)
        self.hold_db = np.where(renew, now_db, self.hold_db)
        self.hold_age_s[renew] = 0.0
        self.clipped |= peak >= 1.0
        self.items_fed += x.shape[1]

    def draw(self, painter, plot: QRectF, axes) -> None:
        floor = float(self.params.get("floor_db", -60.0))
        step = 6.0 if floor >= -48 else 12.0 if floor >= -96 else 24.0
        ticks = [(1.0 - v / floor, format_number(v)) for v in np.arange(0.0, floor - 1e-9, -step)]
        axes.y_ticks(ticks, "dBFS", grid=True)
        n = self.peak_db.shape[0]
        lane = plot.width() / n
        frac = lambda db: float(np.clip((db - floor) / -floor, 0.0, 1.0))  # noqa: E731
        light_h = 7.0
        for i in range(n):
            x0, w = plot.left() + i * lane + 3, max(lane - 6, 2.0)
            bottom, height = plot.bottom(), plot.height() - light_h - 3
            rms_h = frac(self.rms_db[i]) * height
            painter.fillRect(QRectF(x0, bottom - rms_h, w, rms_h), QColor(KIND_COLOURS["audio"]))
            y = bottom - frac(self.peak_db[i]) * height
            painter.setPen(QPen(QColor("#f0f0f0"), 2))
            painter.drawLine(QPointF(x0, y), QPointF(x0 + w, y))
            y = bottom - frac(self.hold_db[i]) * height
            painter.setPen(QPen(QColor("#ffb040"), 1.5))
            painter.drawLine(QPointF(x0, y), QPointF(x0 + w, y))
            light = QColor("#ff3030") if self.clipped[i] else QColor("#402020")
            painter.setPen(Qt.NoPen)
            painter.setBrush(light)
            painter.drawRoundedRect(QRectF(x0, plot.top() + 1, w, light_h), 2, 2)
        if self.hold_db.size and self.hold_db.max() > SILENCE_DB:
            text = f"{self.hold_db.max():.1f}"
            painter.setPen(QColor("#f0f0f0"))
            painter.drawText(QRectF(plot.left(), plot.top() + light_h + 2, plot.width(), 12),
                             Qt.AlignHCenter | Qt.AlignTop, text)
