"""The state and per-block call behind ddx7.decoder: queued (f0, loudness) frames through
the numba TCN, one output frame per input pair, no latency."""
from __future__ import annotations

import numpy as np

from neuropatch.engine.streams import StreamSpec

from ..ddsp.decoder_kernels import push_pending
from .kernels import decode_block, hist_size
from .model import DDX7Model, N_OPERATORS


class DDX7Processor:
    def __init__(self, model: DDX7Model, block_size: int, hop: int):
        cfg = model.config
        self.model = model
        blocks, ch, k = int(cfg["blocks"]), int(cfg["channels"]), int(cfg["kernel_size"])
        self.theta = model.kernel_weights()
        self.dims = np.array([blocks, ch, k], np.int64)
        self.hist = np.zeros(hist_size(blocks, ch, k))
        self.pos = np.zeros(2 * blocks, np.int64)
        self.max_level = float(cfg["max_level"])
        width = max(ch, 2)
        self.x, self.h, self.y = np.zeros(width), np.zeros(width), np.zeros(width)
        self.levels = np.zeros(N_OPERATORS)
        cap = 2 * StreamSpec("frames", 1, 1, hop).max_frames(block_size) + 4
        self.queue = np.zeros((2, cap))
        self.qstate = np.zeros((2, 3), np.int64)
        self.held_f0 = np.zeros(1)

    def reset(self) -> None:
        for arr in (self.hist, self.pos, self.queue, self.qstate, self.held_f0):
            arr.fill(0)

    def process(self, f0, f0_count, loud, loud_count, f0_ratio, loud_offset_db, out_f0, out_levels) -> int:
        """Frames float32 [max_frames, 1, bins] in and out; returns the output frames made."""
        push_pending(self.queue, self.qstate, 0, f0, f0_count)
        push_pending(self.queue, self.qstate, 1, loud, loud_count)
        return decode_block(self.queue, self.qstate, self.held_f0, self.theta, self.dims, self.hist, self.pos,
                            self.max_level, f0_ratio, loud_offset_db, self.x, self.h, self.y, self.levels, out_f0,
                            out_levels)
