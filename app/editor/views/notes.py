"""Displays on a note grid: the pitch curve (f0 frames in Hz) and the piano roll (events).
Rows are MIDI notes from ``low_note`` to ``high_note``, the C rows labelled with their
names; the time axis is in seconds."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QPen, QPolygonF

from neuropatch.engine.streams import KIND_COLOURS

from .axes import note_name, time_ticks
from .base import ColumnHistory, Display

DEFAULT_HOP = 256


def hz_to_midi(f0_hz) -> np.ndarray:
    """f0 in Hz -> MIDI note number (float); 0 Hz (unvoiced) -> NaN."""
    f = np.asarray(f0_hz, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f > 0, 69.0 + 12.0 * np.log2(f / 440.0), np.nan)


def note_range(params: dict, default_low: int, default_high: int) -> tuple[int, int]:
    lo = int(params.get("low_note", default_low))
    hi = int(params.get("high_note", default_high))
    return (lo, hi) if hi > lo else (lo, lo + 12)


def note_ticks(lo: int, hi: int) -> list:
    """Tick per C (every octave; every note name when the range is under an octave)."""
    span = hi - lo
    notes = range(lo, hi + 1) if span <= 12 else [n for n in range(lo, hi + 1) if n % 12 == 0]
    return [((n - lo) / span, note_name(n)) for n in notes]


class PitchDisplay(Display):
    name = "pitch"
    restart_on = {"history_s"}

    def reset(self) -> None:
        hop = self.hop if self.hop > 0 else DEFAULT_HOP
        frames = int(math.ceil(float(self.params.get("history_s", 5.0)) * self.sample_rate / hop))
        self.history = ColumnHistory(min(max(frames, 2), 1 << 16), 1, np.nan)
        self.items_fed = 0

    def feed(self, data: np.ndarray) -> None:
        data = np.asarray(data, np.float32)
        if data.ndim == 3:
            f0 = data[:, 0, 0]
        elif data.ndim == 2:
            f0 = data[:, 0]
        else:
            f0 = data.ravel()
        if f0.shape[0] == 0:
            return
        self.history.push(f0[:, None])
        self.items_fed += f0.shape[0]

    def draw(self, painter, plot: QRectF, axes) -> None:
        lo, hi = note_range(self.params, 36, 84)
        hop = self.hop if self.hop > 0 else DEFAULT_HOP
        span = self.history.capacity * hop / self.sample_rate
        axes.x_ticks(time_ticks(span), "s")
        axes.y_ticks(note_ticks(lo, hi), "note")
        midi = hz_to_midi(self.history.ordered()[:, 0])
        n = midi.shape[0]
        xs = plot.left() + (np.arange(n) + 0.5) / n * plot.width()
        ys = plot.bottom() - (midi - lo) / (hi - lo) * plot.height()
        ok = np.isfinite(ys) & (midi >= lo) & (midi <= hi)
        painter.setPen(QPen(QColor(KIND_COLOURS["frames"]).lighter(140), 2))
        start = None
        for i in range(n + 1):   # one polyline per voiced run
            if i < n and ok[i]:
                start = i if start is None else start
                continue
            if start is not None:
                pts = [QPointF(float(xs[j]), float(ys[j])) for j in range(start, i)]
                if len(pts) == 1:
                    painter.drawPoint(pts[0])
                else:
                    painter.drawPolyline(QPolygonF(pts))
                start = None


class PianoRollDisplay(Display):
    name = "piano_roll"

    def reset(self) -> None:
        self.open: dict = {}     # (channel, note) -> (start s, velocity)
        self.notes: list = []    # (start s, end s, note, velocity, channel)
        self.now = 0.0
        self.items_fed = 0

    def feed(self, data: np.ndarray) -> None:
        from neuropatch.engine.events import NOTE_OFF, NOTE_ON

        rows = np.asarray(data, np.float32).reshape(-1, 6)
        for t, typ, ch, note, vel, _ in rows:
            key = (int(ch), int(note))
            self.now = max(self.now, float(t))
            if int(typ) == NOTE_ON and vel > 0:
                self.open[key] = (float(t), int(vel))
            elif int(typ) in (NOTE_ON, NOTE_OFF) and key in self.open:
                start, v = self.open.pop(key)
                self.notes.append((start, float(t), int(note), v, int(ch)))
        self.items_fed += rows.shape[0]
        window = float(self.params.get("window_s", 8.0))
        self.notes = [n for n in self.notes if n[1] >= self.now - window]

    def shown_notes(self) -> list:
        """(start s, end s, note, velocity, channel) of finished and sounding notes."""
        return self.notes + [(s, self.now, k[1], v, k[0]) for k, (s, v) in self.open.items()]

    def draw(self, painter, plot: QRectF, axes) -> None:
        lo, hi = note_range(self.params, 36, 96)
        window = float(self.params.get("window_s", 8.0))
        t0 = self.now - window
        axes.x_ticks(time_ticks(window), "s")
        axes.y_ticks(note_ticks(lo, hi), "note")
        row = plot.height() / (hi - lo + 1)
        for start, end, note, vel, ch in self.shown_notes():
            if not lo <= note <= hi:
                continue
            colour = QColor.fromHsvF((0.02 + 0.13 * ch) % 1.0, 0.8, 0.35 + 0.65 * vel / 127)
            x0 = plot.left() + max(start - t0, 0.0) / window * plot.width()
            x1 = plot.left() + max(end - t0, 0.0) / window * plot.width()
            y = plot.bottom() - (note - lo + 1) * row
            painter.fillRect(QRectF(x0, y, max(x1 - x0, 2.0), max(row - 1, 1.0)), colour)
