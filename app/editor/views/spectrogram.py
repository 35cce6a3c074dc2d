"""The spectrogram display: frequency (Hz; linear, log or mel spacing) over time (s),
colour = level in dB from ``floor_db`` to 0 dB, with a colour bar."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from .axes import format_number, image_from_rgb, nice_ticks, time_ticks
from .base import ColumnHistory, Display

LOG_FMIN_HZ = 20.0
LOG_TICKS_HZ = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)
MEL_TICKS_HZ = (100, 250, 500, 1000, 2000, 4000, 8000, 16000)
LUT = pg.colormap.get("inferno").getLookupTable(nPts=256)[:, :3].astype(np.uint8)


def hz_to_mel(f):
    """HTK mel scale (Hz -> mel)."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, np.float64) / 2595.0) - 1.0)


def axis_fraction(freq_hz, nyquist: float, scale: str):
    """Height fraction (0 bottom, 1 top) of a frequency on a linear, log or mel axis."""
    f = np.asarray(freq_hz, np.float64)
    if scale == "log":
        return np.log(np.maximum(f, LOG_FMIN_HZ) / LOG_FMIN_HZ) / math.log(nyquist / LOG_FMIN_HZ)
    if scale == "mel":
        return hz_to_mel(f) / hz_to_mel(nyquist)
    return f / nyquist


def axis_frequency(fraction, nyquist: float, scale: str):
    """The inverse of :func:`axis_fraction`: Hz at height fractions."""
    u = np.asarray(fraction, np.float64)
    if scale == "log":
        return LOG_FMIN_HZ * (nyquist / LOG_FMIN_HZ) ** u
    if scale == "mel":
        return mel_to_hz(u * hz_to_mel(nyquist))
    return u * nyquist


def to_db(x: np.ndarray) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(np.abs(x), 1e-7))


class SpectrogramDisplay(Display):
    name = "spectrogram"
    has_colour_bar = True
    restart_on = {"n_fft", "history_s"}

    def reset(self) -> None:
        self.n_fft = int(self.params.get("n_fft", 1024))
        self._pending = np.zeros(0, np.float32)
        self._window = np.hanning(self.n_fft).astype(np.float32)
        self.items_fed = 0
        self._make_history(self.n_fft // 2 + 1)

    def _make_history(self, bins: int) -> None:
        hop = self.column_hop()
        cols = int(math.ceil(float(self.params.get("history_s", 5.0)) * self.sample_rate / max(hop, 1)))
        self.history = ColumnHistory(min(max(cols, 2), 4096), bins, self.floor_db)

    @property
    def floor_db(self) -> float:
        return float(self.params.get("floor_db", -100.0))

    def column_hop(self) -> int:
        """Samples per column: n_fft / 2 for audio, the stream's hop for frames."""
        return self.hop if self.hop > 0 else max(self.n_fft // 2, 1)

    def feed(self, data: np.ndarray) -> None:
        if self.params.get("freeze"):
            return
        data = np.asarray(data, np.float32)
        if data.ndim == 3:                       # frames [n, channels, bins]: channel 0
            if data.shape[0] == 0:
                return
            if self.hop <= 0:
                self.hop = max(self.n_fft // 2, 1)
            columns = to_db(data[:, 0, :])
            self.items_fed += data.shape[0]
        elif data.ndim == 2 and data.shape[1] > 0:   # audio [channels, samples]
            self.hop = 0
            self.items_fed += data.shape[1]
            columns = self._analyse(data[0])
            if columns is None:
                return
        else:
            return
        if columns.shape[1] != self.history.width:
            self._make_history(columns.shape[1])
        self.history.push(columns)

    def _analyse(self, x: np.ndarray):
        """Hann STFT (n_fft, hop n_fft/2) of the new samples -> dB columns [n, n_fft/2+1]."""
        x = np.concatenate([self._pending, x])
        n_fft, hop = self.n_fft, max(self.n_fft // 2, 1)
        count = (x.shape[0] - n_fft) // hop + 1 if x.shape[0] >= n_fft else 0
        if count <= 0:
            self._pending = x
            return None
        idx = np.arange(n_fft)[None, :] + hop * np.arange(count)[:, None]
        spectra = np.abs(np.fft.rfft(x[idx] * self._window, axis=1)) / (n_fft / 4.0)
        self._pending = x[count * hop:]
        return to_db(spectra).astype(np.float32)

    # ---- drawing ----------------------------------------------------------------------------

    def nyquist(self) -> float:
        return self.sample_rate / 2.0

    def draw(self, painter, plot: QRectF, axes) -> None:
        scale = str(self.params.get("scale", "log"))
        rows = max(int(plot.height()), 2)
        columns = self.history.ordered()                      # [cols, bins], oldest first
        bins = columns.shape[1]
        hz = self.bins_are_hz and bins > 1
        if hz:
            freqs = axis_frequency((np.arange(rows)[::-1] + 0.5) / rows, self.nyquist(), scale)
            index = np.clip(np.rint(freqs / self.nyquist() * (bins - 1)), 0, bins - 1).astype(np.intp)
        else:
            index = np.clip(((np.arange(rows)[::-1] + 0.5) / rows * bins).astype(np.intp), 0, bins - 1)
        floor = self.floor_db
        level = (columns[:, index].T - floor) / max(-floor, 1e-6)    # [rows, cols], top row first
        codes = np.clip(level * 255.0, 0, 255).astype(np.uint8)
        self._rgb = np.ascontiguousarray(LUT[codes])
        painter.drawImage(plot, image_from_rgb(self._rgb))
        span = self.history.capacity * self.column_hop() / self.sample_rate
        axes.x_ticks(time_ticks(span), "s")
        if hz:
            nyq = self.nyquist()
            values = {"log": LOG_TICKS_HZ, "mel": MEL_TICKS_HZ}.get(scale) or nice_ticks(0.0, nyq, 4)
            ticks = [(float(axis_fraction(v, nyq, scale)), format_number(v)) for v in values if v <= nyq]
            axes.y_ticks(ticks, "Hz")
        else:
            axes.y_ticks([(v / bins, format_number(v)) for v in nice_ticks(0, bins, 4)], "band")
        axes.colour_bar(LUT, floor, 0.0, "dB")
