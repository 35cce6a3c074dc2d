"""The latent display: one row per dimension, one column per frame (newest right),
coloured from -range (blue) through 0 (dark) to +range (red), with a colour bar."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF

from .axes import format_number, image_from_rgb, nice_ticks, time_ticks
from .base import ColumnHistory, Display


def diverging_lut() -> np.ndarray:
    """uint8 [256, 3]: blue -> near black -> red."""
    u = np.linspace(-1.0, 1.0, 256)
    r = np.clip(u, 0, 1) * 235 + 20
    b = np.clip(-u, 0, 1) * 235 + 20
    g = 20 + 60 * np.abs(u) ** 2
    return np.stack([r, g, b], axis=1).astype(np.uint8)


LUT = diverging_lut()


class LatentDisplay(Display):
    name = "latent"
    has_colour_bar = True
    restart_on = {"history_frames"}

    def reset(self) -> None:
        self.history = ColumnHistory(int(self.params.get("history_frames", 256)), 8, 0.0)
        self.items_fed = 0

    def feed(self, data: np.ndarray) -> None:
        data = np.asarray(data, np.float32)
        if data.ndim == 3:
            data = data[:, 0, :]
        if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
            return
        if data.shape[1] != self.history.width:
            self.history = ColumnHistory(self.history.capacity, data.shape[1], 0.0)
        self.history.push(data)
        self.items_fed += data.shape[0]

    def draw(self, painter, plot: QRectF, axes) -> None:
        rng = float(self.params.get("range", 3.0))
        values = self.history.ordered()                 # [frames, dims]
        dims = values.shape[1]
        codes = np.clip((values.T[::-1] / rng + 1.0) * 127.5, 0, 255).astype(np.uint8)  # dim 0 at the bottom
        self._rgb = np.ascontiguousarray(LUT[codes])
        painter.drawImage(plot, image_from_rgb(self._rgb))
        frames = self.history.capacity
        if self.hop > 0:
            axes.x_ticks(time_ticks(frames * self.hop / self.sample_rate), "s")
        else:
            axes.x_ticks([(1.0 + v / frames, format_number(v)) for v in nice_ticks(-frames, 0, 4)], "frames")
        axes.y_ticks([((v + 0.5) / dims, format_number(v)) for v in nice_ticks(0, dims - 1, 4)
                      if v == int(v)], "dim", grid=False)
        axes.colour_bar(LUT, -rng, rng, "z")
