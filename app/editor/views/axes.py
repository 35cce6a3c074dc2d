"""Axes for the view displays: tick positions, tick labels with units, colour bars.

Every display paints into a plot rectangle inside its own rectangle; the helpers here
draw the frame, the ticks and their labels, and record each label they draw in
``labels`` (a list of strings), so callers (and tests) can read what an axis says.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPen

BACKGROUND = QColor("#15171a")
GRID = QColor(255, 255, 255, 28)
TEXT = QColor("#b8bcc4")
FRAME = QColor("#3a3d43")
LEFT, BOTTOM, TOP, RIGHT = 38.0, 15.0, 13.0, 8.0
COLOUR_BAR = 34.0          # extra right margin of displays with a colour bar
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(midi: int) -> str:
    """MIDI note number -> name with octave (60 -> 'C4')."""
    return f"{NOTE_NAMES[int(midi) % 12]}{int(midi) // 12 - 1}"


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values covering [lo, hi], about `target` of them (steps 1, 2, 5 x 10^k)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(target, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1.0, 2.0, 5.0, 10.0) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step + 1e-9) + 1)]


def format_number(value: float) -> str:
    """Compact tick text: 1000 -> '1k', 0.5 -> '0.5', -60 -> '-60'."""
    if abs(value) >= 1000 and value == int(value):
        k = value / 1000.0
        return f"{k:g}k"
    return f"{value:g}"


def plot_rect(rect: QRectF, colour_bar: bool = False) -> QRectF:
    """The rectangle the data is drawn in, leaving room for the axes (and a colour bar)."""
    right = RIGHT + (COLOUR_BAR if colour_bar else 0.0)
    return QRectF(rect.left() + LEFT, rect.top() + TOP, max(rect.width() - LEFT - right, 4.0),
                  max(rect.height() - TOP - BOTTOM, 4.0))


def small_font(painter, size: float = 7.0) -> None:
    font = QFont(painter.font())
    font.setPointSizeF(size)
    painter.setFont(font)


class AxisPainter:
    """Draws frames, ticks and labels around one plot rectangle; records the labels."""

    def __init__(self, painter, plot: QRectF):
        self.painter = painter
        self.plot = plot
        self.labels: list[str] = []
        small_font(painter)

    def frame(self) -> None:
        p = self.painter
        p.setPen(QPen(FRAME, 1))
        p.setBrush(Qt.NoBrush)
        p.drawRect(self.plot)

    def x_ticks(self, ticks, unit: str, grid: bool = True) -> None:
        """ticks: [(fraction 0..1 from the left, text)]; the unit is written at the right end."""
        p, r = self.painter, self.plot
        for frac, text in ticks:
            x = r.left() + frac * r.width()
            if grid:
                p.setPen(QPen(GRID, 1))
                p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
            p.setPen(TEXT)
            p.drawText(QRectF(x - 20, r.bottom() + 1, 40, 12), Qt.AlignHCenter | Qt.AlignTop, text)
            self.labels.append(text)
        self._unit(QRectF(r.left() - LEFT, r.bottom() + 1, LEFT - 3, 12), Qt.AlignRight | Qt.AlignTop, unit)

    def y_ticks(self, ticks, unit: str, grid: bool = True) -> None:
        """ticks: [(fraction 0..1 from the bottom, text)]; the unit is written at the top."""
        p, r = self.painter, self.plot
        for frac, text in ticks:
            y = r.bottom() - frac * r.height()
            if grid:
                p.setPen(QPen(GRID, 1))
                p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
            p.setPen(TEXT)
            p.drawText(QRectF(r.left() - LEFT, y - 6, LEFT - 3, 12), Qt.AlignRight | Qt.AlignVCenter, text)
            self.labels.append(text)
        self._unit(QRectF(r.left() - LEFT, r.top() - TOP, LEFT - 3, 12), Qt.AlignRight | Qt.AlignTop, unit)

    def _unit(self, where: QRectF, align, unit: str) -> None:
        if not unit:
            return
        p = self.painter
        p.setPen(QColor("#e8c46a"))
        p.drawText(where, align, unit)
        self.labels.append(unit)

    def colour_bar(self, lut: np.ndarray, lo: float, hi: float, unit: str) -> None:
        """A vertical bar of `lut` (uint8 [256, 3]) right of the plot, lo at the bottom."""
        p, r = self.painter, self.plot
        bar = QRectF(r.right() + 5, r.top(), 7, r.height())
        column = np.ascontiguousarray(lut[::-1][:, None, :].repeat(2, axis=1))
        image = QImage(column.data, 2, column.shape[0], 6, QImage.Format_RGB888)
        p.drawImage(bar, image)
        for frac, value in ((0.0, lo), (1.0, hi)):
            y = bar.bottom() - frac * bar.height()
            text = format_number(round(value, 1))
            p.setPen(TEXT)
            p.drawText(QRectF(bar.right() + 2, y - 6, 30, 12), Qt.AlignLeft | Qt.AlignVCenter, text)
            self.labels.append(text)
        self._unit(QRectF(bar.left() - 2, r.top() - TOP, 30, 12), Qt.AlignLeft | Qt.AlignTop, unit)


def time_ticks(span: float, unit_scale: float = 1.0) -> list:
    """Ticks for the last `span` seconds ending now: [(fraction, text)], 0 at the right.
    Labels are negative ages in seconds (``unit_scale`` 1e3 writes milliseconds)."""
    values = nice_ticks(-span * unit_scale, 0.0, 4)
    return [(1.0 + v / (span * unit_scale), format_number(v)) for v in values]


def image_from_rgb(rgb: np.ndarray) -> QImage:
    """rgb: uint8 [rows, columns, 3], C-contiguous, row 0 at the top. The QImage shares
    the array's memory: keep the array alive while the image is drawn."""
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888)
