"""Visualizers fed from engine taps at GUI rate (the live controller's frame timer calls
``feed``); they never touch the audio side.

Input shapes (as the engine's TapReader returns them):
audio float32 [channels, samples]; frames [n, channels, bins]; latent [n, dims];
control [blocks]; events [n, 6] (time s, type, channel, data1, data2, value).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QDockWidget, QGraphicsItem, QWidget

from neuropatch.engine.streams import KIND_COLOURS

HISTORY = 256          # columns kept by scrolling views
SCOPE_SAMPLES = 2048
FLOOR_DB = -100.0


def to_db(x: np.ndarray) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(np.abs(x), 1e-5))


class _Rolling:
    """A [rows, HISTORY] image that scrolls left as columns arrive."""

    def __init__(self, rows: int):
        self.image = np.full((HISTORY, max(rows, 1)), FLOOR_DB, np.float32)

    def push(self, columns: np.ndarray) -> None:
        """columns: [n, rows]."""
        n = min(columns.shape[0], HISTORY)
        if n == 0:
            return
        if columns.shape[1] != self.image.shape[1]:
            self.image = np.full((HISTORY, columns.shape[1]), FLOOR_DB, np.float32)
        self.image = np.roll(self.image, -n, axis=0)
        self.image[-n:] = columns[-n:]


class ScopeView(pg.PlotWidget):
    """Oscilloscope of the first channel; x in samples, y in [-1, 1]."""

    title = "scope"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.buffer = np.zeros(SCOPE_SAMPLES, np.float32)
        self.setYRange(-1.0, 1.0)
        self.setMouseEnabled(False, False)
        self.curve = self.plot(self.buffer, pen=pg.mkPen(KIND_COLOURS["audio"], width=1))

    def feed(self, audio: np.ndarray) -> None:
        x = np.asarray(audio, np.float32)
        x = x[0] if x.ndim == 2 else x.ravel()
        n = min(x.shape[0], SCOPE_SAMPLES)
        if n:
            self.buffer = np.roll(self.buffer, -n)
            self.buffer[-n:] = x[-n:]
            self.curve.setData(self.buffer)


class LevelMeter(QWidget):
    """Peak and RMS per channel in dBFS, peaks decaying at 20 dB/s of fed audio."""

    title = "levels"

    def __init__(self, parent=None, sample_rate: int = 48000):
        super().__init__(parent)
        self.sample_rate = sample_rate
        self.peak_db = np.full(1, FLOOR_DB)
        self.rms_db = np.full(1, FLOOR_DB)
        self.setMinimumSize(60, 120)

    def feed(self, audio: np.ndarray) -> None:
        x = np.asarray(audio, np.float32)
        if x.ndim == 1:
            x = x[None]
        if x.shape[1] == 0:
            return
        peak = to_db(np.max(np.abs(x), axis=1))
        rms = to_db(np.sqrt(np.mean(np.square(x), axis=1)))
        if self.peak_db.shape != peak.shape:
            self.peak_db = np.full(peak.shape, FLOOR_DB)
        decay = 20.0 * x.shape[1] / self.sample_rate
        self.peak_db = np.maximum(peak, self.peak_db - decay)
        self.rms_db = rms
        self.update()

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#1e1f22"))
        n = len(self.peak_db)
        w = self.width() / max(n, 1)
        h = self.height()
        for i in range(n):
            frac = lambda db: min(max((db - FLOOR_DB) / -FLOOR_DB, 0.0), 1.0)
            rms_h = frac(self.rms_db[i]) * h
            p.fillRect(QRectF(i * w + 3, h - rms_h, w - 6, rms_h), QColor(KIND_COLOURS["audio"]))
            y = h - frac(self.peak_db[i]) * h
            p.setPen(QPen(QColor("#ff5050") if self.peak_db[i] > -0.5 else QColor("#f0f0f0"), 2))
            p.drawLine(QPointF(i * w + 3, y), QPointF((i + 1) * w - 3, y))
        p.end()


class SpectrogramView(pg.PlotWidget):
    """Scrolling spectrogram. Audio is analysed here (Hann STFT, 1024/512); frames
    streams (STFT, mel) are shown as they arrive, channel 0, in dB."""

    title = "spectrogram"
    N_FFT, HOP = 1024, 512

    def __init__(self, parent=None):
        super().__init__(parent)
        self.image_item = pg.ImageItem()
        self.addItem(self.image_item)
        self.image_item.setLookupTable(pg.colormap.get("inferno").getLookupTable(nPts=256))
        self.setMouseEnabled(False, False)
        self.rolling = _Rolling(self.N_FFT // 2 + 1)
        self._pending = np.zeros(0, np.float32)
        self._window = np.hanning(self.N_FFT).astype(np.float32)

    def feed(self, data: np.ndarray) -> None:
        data = np.asarray(data, np.float32)
        if data.ndim == 3:              # frames [n, channels, bins]
            cols = to_db(data[:, 0, :])
        elif data.ndim == 2 and data.shape[0] <= 16 and data.shape[1] > 16:  # audio
            x = np.concatenate([self._pending, data[0]])
            starts = range(0, x.shape[0] - self.N_FFT + 1, self.HOP)
            frames = [np.abs(np.fft.rfft(x[s:s + self.N_FFT] * self._window)) / (self.N_FFT / 4) for s in starts]
            self._pending = x[len(frames) * self.HOP:] if frames else x[-self.N_FFT:]
            if not frames:
                return
            cols = to_db(np.stack(frames))
        else:
            return
        self.rolling.push(cols)
        self.image_item.setImage(self.rolling.image, autoLevels=False, levels=(FLOOR_DB, 0.0))


class CurveView(pg.PlotWidget):
    """A scrolling curve: control values per block, or one value per frame (pitch, loudness)."""

    title = "curve"

    def __init__(self, parent=None, points: int = 512):
        super().__init__(parent)
        self.values = np.full(points, np.nan, np.float32)
        self.setMouseEnabled(False, False)
        self.curve = self.plot(pen=pg.mkPen(KIND_COLOURS["control"], width=2), connect="finite")

    def feed(self, data: np.ndarray) -> None:
        data = np.asarray(data, np.float32)
        v = data[:, 0, 0] if data.ndim == 3 else data[:, 0] if data.ndim == 2 else data.ravel()
        n = min(v.shape[0], self.values.shape[0])
        if n:
            self.values = np.roll(self.values, -n)
            self.values[-n:] = v[-n:]
            self.curve.setData(self.values)


class LatentPlot(pg.PlotWidget):
    """Latent vectors over time: dims (rows) x frames (columns)."""

    title = "latent"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.image_item = pg.ImageItem()
        self.addItem(self.image_item)
        self.image_item.setLookupTable(pg.colormap.get("viridis").getLookupTable(nPts=256))
        self.setMouseEnabled(False, False)
        self.rolling = _Rolling(8)

    def feed(self, data: np.ndarray) -> None:
        data = np.asarray(data, np.float32)
        if data.ndim == 3:
            data = data[:, 0, :]
        if data.ndim != 2 or data.shape[0] == 0:
            return
        self.rolling.push(data)
        img = self.rolling.image
        lim = float(np.max(np.abs(img[img > FLOOR_DB]))) if np.any(img > FLOOR_DB) else 1.0
        self.image_item.setImage(np.where(img > FLOOR_DB, img, 0.0), autoLevels=False, levels=(-lim, lim))


class PianoRollView(pg.PlotWidget):
    """Recent notes of an events stream: x time in seconds (the last ``WINDOW_S``), y MIDI
    note number, one bar per note (brightness = velocity), channels in different hues.

    Input rows (a tap of an events port): [time s, type, channel, data1, data2, value]."""

    title = "piano roll"
    WINDOW_S = 8.0

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMouseEnabled(False, False)
        self.setLabel("bottom", "time", units="s")
        self.setLabel("left", "MIDI note")
        self.setYRange(36, 96)
        self.open: dict = {}     # (channel, note) -> (start s, velocity)
        self.notes: list = []    # (start s, end s, note, velocity, channel)
        self.now = 0.0
        self.bars = pg.BarGraphItem(x0=[], x1=[], y0=[], y1=[])
        self.addItem(self.bars)

    def feed(self, data: np.ndarray) -> None:
        from neuropatch.engine.events import NOTE_OFF, NOTE_ON

        data = np.asarray(data, np.float32).reshape(-1, 6)
        for t, typ, ch, note, vel, _ in data:
            key = (int(ch), int(note))
            self.now = max(self.now, float(t))
            if int(typ) == NOTE_ON and vel > 0:
                self.open[key] = (float(t), int(vel))
            elif int(typ) in (NOTE_ON, NOTE_OFF) and key in self.open:
                start, v = self.open.pop(key)
                self.notes.append((start, float(t), int(note), v, int(ch)))
        self.redraw()

    def redraw(self) -> None:
        lo = self.now - self.WINDOW_S
        self.notes = [n for n in self.notes if n[1] >= lo]
        shown = self.notes + [(s, self.now, k[1], v, k[0]) for k, (s, v) in self.open.items()]
        if not shown:
            self.bars.setOpts(x0=[], x1=[], y0=[], y1=[])
            return
        brushes = [pg.mkBrush(pg.hsvColor((0.02 + 0.13 * ch) % 1.0, 0.8, 0.35 + 0.65 * v / 127))
                   for _, _, _, v, ch in shown]
        self.bars.setOpts(x0=[n[0] for n in shown], x1=[max(n[1], n[0] + 0.01) for n in shown],
                          y0=[n[2] - 0.4 for n in shown], y1=[n[2] + 0.4 for n in shown], brushes=brushes)
        self.setXRange(lo, self.now, padding=0)
        notes = [n[2] for n in shown]
        self.setYRange(min(notes) - 3, max(notes) + 3)


class LatentSpaceView(pg.GraphicsLayoutWidget):
    """Latent frames [n, dims] in two plots: left, the path of (z0, z1) over the last
    ``TRAIL`` frames, older points fading, the newest ringed; right, one bar per dimension
    of the latest frame around a zero line. A one-dimensional stream is drawn with z1 = 0."""

    title = "latent space"
    TRAIL = 200

    def __init__(self, parent=None):
        super().__init__(parent)
        colour = QColor(KIND_COLOURS["latent"])
        self.trail = np.full((self.TRAIL, 2), np.nan, np.float32)   # oldest first: (z0, z1)
        self.latest = np.zeros(0, np.float32)                        # the newest frame [dims]
        self.path_plot = self.addPlot(row=0, col=0)
        self.path_plot.setLabel("bottom", "z0")
        self.path_plot.setLabel("left", "z1")
        self.path_plot.showGrid(x=True, y=True, alpha=0.2)
        self.path_plot.setMouseEnabled(False, False)
        faint = QColor(colour)
        faint.setAlpha(90)
        self.path_line = self.path_plot.plot(pen=pg.mkPen(faint, width=1), connect="finite")
        self.path_points = pg.ScatterPlotItem(pen=None)
        self.path_plot.addItem(self.path_points)
        self.head = pg.ScatterPlotItem(size=11, pen=pg.mkPen("#f0f0f0", width=2), brush=pg.mkBrush(colour))
        self.path_plot.addItem(self.head)
        # oldest -> newest: alpha and size grow along the trail
        ramp = np.linspace(0.05, 1.0, self.TRAIL)
        self._brushes = [pg.mkBrush(colour.red(), colour.green(), colour.blue(), int(255 * a)) for a in ramp]
        self._sizes = 3.0 + 4.0 * ramp
        self.bar_plot = self.addPlot(row=0, col=1)
        self.bar_plot.setLabel("bottom", "dimension")
        self.bar_plot.setLabel("left", "z")
        self.bar_plot.setMouseEnabled(False, False)
        self.bars = pg.BarGraphItem(x=np.zeros(0), height=np.zeros(0), width=0.8, brush=pg.mkBrush(colour), pen=None)
        self.bar_plot.addItem(self.bars)
        self.zero_line = pg.InfiniteLine(pos=0.0, angle=0, pen=pg.mkPen("#c8c8c8", width=1))
        self.bar_plot.addItem(self.zero_line)

    def feed(self, data: np.ndarray) -> None:
        data = np.asarray(data, np.float32)
        if data.ndim == 3:              # frames [n, channels, bins]: channel 0
            data = data[:, 0, :]
        if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
            return
        n = min(data.shape[0], self.TRAIL)
        self.trail = np.roll(self.trail, -n, axis=0)
        self.trail[-n:, 0] = data[-n:, 0]
        self.trail[-n:, 1] = data[-n:, 1] if data.shape[1] > 1 else 0.0
        self.latest = data[-1].copy()
        shown = self.trail[~np.isnan(self.trail[:, 0])]
        k = shown.shape[0]
        self.path_line.setData(shown[:, 0], shown[:, 1])
        self.path_points.setData(x=shown[:, 0], y=shown[:, 1], brush=self._brushes[-k:], size=self._sizes[-k:])
        self.head.setData(x=shown[-1:, 0], y=shown[-1:, 1])
        self.bars.setOpts(x=np.arange(self.latest.shape[0]), height=self.latest, width=0.8)

    def bar_heights(self) -> np.ndarray:
        """The heights the bars are drawn with (one per dimension of the latest frame)."""
        return np.asarray(self.bars.opts["height"], np.float32)


VIEWS = {"scope": ScopeView, "levels": LevelMeter, "spectrogram": SpectrogramView,
         "curve": CurveView, "latent": LatentPlot, "latent space": LatentSpaceView,
         "piano roll": PianoRollView}


def views_for_kind(kind: str) -> list[str]:
    """Visualizers that make sense for a stream kind, the default first."""
    return {"audio": ["scope", "spectrogram", "levels"], "frames": ["spectrogram", "curve"],
            "control": ["curve"], "latent": ["latent", "latent space", "curve"], "events": ["piano roll"]}.get(kind, ["scope", "curve"])


class VisualizerDock(QDockWidget):
    """A dock bound to one port; the live controller feeds it while audio plays."""

    def __init__(self, node_id: str, port: str, view: str, parent=None):
        super().__init__(f"{node_id}.{port} — {view}", parent)
        self.node_id, self.port, self.view_name = node_id, port, view
        self.setObjectName(f"viz:{node_id}.{port}:{view}")
        self.view = VIEWS[view]()
        self.setWidget(self.view)
        self.setAttribute(Qt.WA_DeleteOnClose)
        self.on_close = None

    def closeEvent(self, event):
        if self.on_close is not None:
            self.on_close(self)
        super().closeEvent(event)

    def feed(self, data: np.ndarray) -> None:
        self.view.feed(data)


class InlineScope(QGraphicsItem):
    """A small scope drawn in a node's body (cheap: a polyline, no widget)."""

    WIDTH, HEIGHT = 150.0, 50.0

    def __init__(self, node_item, port: str):
        super().__init__(node_item)
        self.node_item = node_item
        self.node_id, self.port = node_item.node_id, port
        self.samples = np.zeros(256, np.float32)
        self.setPos(9, node_item.height() + 2)

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.WIDTH, self.HEIGHT)

    def feed(self, data: np.ndarray) -> None:
        x = np.asarray(data, np.float32)
        x = x[0] if x.ndim == 2 else x[:, 0, :].mean(axis=1) if x.ndim == 3 else x.ravel()
        n = min(x.shape[0], 4096)
        if n == 0:
            return
        chunk = x[-n:]
        idx = np.linspace(0, n - 1, self.samples.shape[0]).astype(int)
        self.samples = chunk[idx]
        self.update()

    def paint(self, painter, option, widget=None):
        painter.fillRect(self.boundingRect(), QColor("#15171a"))
        mid, amp = self.HEIGHT / 2, self.HEIGHT / 2 - 2
        step = self.WIDTH / (self.samples.shape[0] - 1)
        poly = QPolygonF([QPointF(i * step, mid - float(np.clip(v, -1, 1)) * amp)
                          for i, v in enumerate(self.samples)])
        painter.setPen(QPen(QColor(KIND_COLOURS["audio"]), 1))
        painter.drawPolyline(poly)
