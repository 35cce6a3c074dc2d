"""The number editor of the inspector: slider, typed field and reset, with the range shown
and out-of-range input refused visibly (red field, a message saying why; the value stays).

A slider drag becomes one undo step: every value of the drag carries the same merge token.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (QDoubleSpinBox, QHBoxLayout, QLabel, QSizePolicy, QSlider, QSpinBox,
                               QToolButton, QVBoxLayout, QWidget)

from .document import new_merge_token
from .param_labels import param_unit, range_text

SLIDER_STEPS = 1000
ERROR_STYLE = "background: #4a1c1c; border: 1px solid #e53935;"


class _RangeChecked:
    """Mixin for QSpinBox/QDoubleSpinBox: a typed number outside the range is not silently
    cut to fit (Qt drops the key that leaves the range: 99 in −96..24 became 9); the field
    keeps it while typing, and on Enter or leaving the field it is refused: `refused` gets
    the number, the field shows the value again."""

    def _typed_number(self, text: str):
        body = text.strip()
        if self.suffix() and body.endswith(self.suffix().strip()):
            body = body[: -len(self.suffix().strip())].strip()
        try:
            return float(body.replace("−", "-").replace(",", "."))
        except ValueError:
            return None

    def validate(self, text, pos):
        state, text, pos = super().validate(text, pos)
        if state == QValidator.Invalid and self._typed_number(text) is not None:
            state = QValidator.Intermediate          # out of range: keep it, refuse on Enter
        return state, text, pos

    def fixup(self, text):
        number = self._typed_number(text)
        if number is not None and not (self.minimum() <= number <= self.maximum()):
            self.refused.emit(number)
            return self.textFromValue(self.value())
        return super().fixup(text)


class CheckedSpinBox(_RangeChecked, QSpinBox):
    refused = Signal(float)


class CheckedDoubleSpinBox(_RangeChecked, QDoubleSpinBox):
    refused = Signal(float)


class NumberParamEditor(QWidget):
    """Slider + typed field + reset for a float/int param (log mapping when the spec asks for
    it); under them the range, or why the last typed value was refused."""

    committed = Signal(object, object)   # value, merge token (None: its own undo step)

    def __init__(self, spec, value, parent=None):
        super().__init__(parent)
        self.spec = spec
        self.log = bool(spec.log) and spec.min > 0
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setMinimumWidth(50)
        if spec.type is int:
            self.spin = CheckedSpinBox()
            self.spin.setRange(int(spec.min), int(min(spec.max, 2**31 - 1)))
        else:
            self.spin = CheckedDoubleSpinBox()
            span = spec.max - spec.min
            self.spin.setDecimals(3 if span <= 10 else 2 if span <= 1000 else 1)
            self.spin.setRange(spec.min, spec.max)
            self.spin.setSingleStep(max(span / 100.0, 10 ** -self.spin.decimals()))
        self.spin.setKeyboardTracking(False)
        unit = param_unit(spec)
        if unit:
            self.spin.setSuffix(f" {unit}")
        self.spin.setToolTip(f"range {range_text(spec)}; type a value and press Enter")
        self.reset = QToolButton(text="↺", toolTip=f"reset to default ({spec.default})")
        self.hint = QLabel(range_text(spec))
        self.hint.setObjectName("range")
        self.hint.setStyleSheet("color: #8a8f98; font-size: 9pt;")
        self.hint.setWordWrap(True)
        self.hint.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)
        row.addWidget(self.reset)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(1)
        lay.addLayout(row)
        lay.addWidget(self.hint)
        self.error: str = ""
        self._token = None
        self.set_value(value)
        self.slider.sliderPressed.connect(self._drag_start)
        self.slider.sliderReleased.connect(self._drag_end)
        self.slider.valueChanged.connect(self._slider_moved)
        self.spin.valueChanged.connect(lambda v: self._commit(self._coerce(v)))
        self.spin.refused.connect(self.refuse)
        self.reset.clicked.connect(lambda: self._commit(spec.default))
        self.slider.installEventFilter(self)

    def _coerce(self, v):
        return int(round(v)) if self.spec.type is int else float(v)

    def _commit(self, value, token=None) -> None:
        self.show_error("")
        self.committed.emit(value, token)

    def refuse(self, number: float) -> None:
        """Say why `number` (typed) was not taken; the value stays as it was."""
        unit = param_unit(self.spec)
        shown = f"{number:g}" + (f" {unit}" if unit else "")
        self.show_error(f"{shown} is outside {range_text(self.spec)}; the value stays "
                        f"{self.spin.textFromValue(self.spin.value())}" + (f" {unit}" if unit else ""))

    def show_error(self, message: str) -> None:
        self.error = message
        self.spin.setStyleSheet(ERROR_STYLE if message else "")
        self.hint.setText(message or range_text(self.spec))
        self.hint.setStyleSheet("color: #ef5350; font-size: 9pt;" if message
                                else "color: #8a8f98; font-size: 9pt;")

    def to_slider(self, value) -> int:
        lo, hi = self.spec.min, self.spec.max
        if hi <= lo:
            return 0
        if self.log:
            t = (math.log(max(value, lo)) - math.log(lo)) / (math.log(hi) - math.log(lo))
        else:
            t = (value - lo) / (hi - lo)
        return int(round(min(max(t, 0.0), 1.0) * SLIDER_STEPS))

    def from_slider(self, pos: int):
        lo, hi = self.spec.min, self.spec.max
        t = pos / SLIDER_STEPS
        v = math.exp(math.log(lo) + t * (math.log(hi) - math.log(lo))) if self.log else lo + t * (hi - lo)
        return self.spec.clamp(v)

    def set_value(self, value) -> None:
        for w in (self.slider, self.spin):
            w.blockSignals(True)
        self.spin.setValue(value)
        self.slider.setValue(self.to_slider(value))
        for w in (self.slider, self.spin):
            w.blockSignals(False)

    def _drag_start(self):
        self._token = new_merge_token()

    def _drag_end(self):
        self._token = None

    def _slider_moved(self, pos):
        value = self.from_slider(pos)
        self.spin.blockSignals(True)
        self.spin.setValue(value)
        self.spin.blockSignals(False)
        self._commit(value, self._token)

    def eventFilter(self, obj, event):
        if obj is self.slider and event.type() == QEvent.MouseButtonDblClick:
            self.spin.setFocus()
            self.spin.selectAll()
            return True
        return super().eventFilter(obj, event)
