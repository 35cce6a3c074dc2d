"""Timing helpers shared by the chain benchmarks (bench/ddsp.py, bench/fm.py): the test
signal, patch-building shorthands and render timing at 48 kHz, block 256."""
from __future__ import annotations

import time

import numpy as np

from neuropatch.engine import render
from neuropatch.engine.patch import graph_from_dict

SR = 48000
BLOCK = 256

PASSTHROUGH = {"format": "neuropatch", "version": 1, "settings": {"sample_rate": SR, "block_size": BLOCK},
               "nodes": [{"id": "in", "type": "io.audio_in"}, {"id": "out", "type": "io.audio_out"}],
               "edges": [{"from": ["in", "out"], "to": ["out", "in"]}]}


def test_audio(seconds: float, noise: float = 0.0) -> np.ndarray:
    """float32 [1, samples]: a gliding harmonic tone with vibrato and a moving level, plus
    ``noise`` times white Gaussian noise (seeded) when nonzero."""
    t = np.arange(int(SR * seconds)) / SR
    f = 330.0 * 2 ** (0.5 * np.sin(2 * np.pi * 0.1 * t) + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f) / SR
    env = 0.5 + 0.4 * np.sin(2 * np.pi * 0.3 * t)
    x = env * (0.3 * np.sin(phase) + 0.1 * np.sin(2 * phase))
    if noise:
        x = x + noise * np.random.default_rng(0).standard_normal(t.size)
    return x.astype(np.float32)[None]


def node(node_id: str, type_id: str, **kw) -> dict:
    """A patch-file node entry."""
    return {"id": node_id, "type": type_id, **kw}


def edge(a, b) -> dict:
    """A patch-file edge from output (node, port) ``a`` to input ``b``."""
    return {"from": list(a), "to": list(b)}


def feature_nodes(features: dict) -> list:
    """feature.pitch ("pitch") and feature.loudness ("loud") with the model's feature settings."""
    return [node("pitch", "feature.pitch", params={"frame_length": features["n_fft"],
                                                   "hop": features["hop"], "fmin": features["fmin"]}),
            node("loud", "feature.loudness", params={"n_fft": features["n_fft"], "hop": features["hop"]})]


def render_seconds(patch: dict, x: np.ndarray) -> tuple:
    graph = graph_from_dict(patch)
    t0 = time.perf_counter()
    _, sched = render(graph, x, compensate_latency=False)
    return time.perf_counter() - t0, sched.latency_samples


def per_render_rtf(patch: dict, long_x, short_x, repeats: int) -> tuple:
    """(best RTF of long render minus short render, reported latency in samples)."""
    best = float("inf")
    latency = 0
    for _ in range(repeats):
        t_long, latency = render_seconds(patch, long_x)
        t_short, _ = render_seconds(patch, short_x)
        best = min(best, (t_long - t_short) / ((long_x.shape[1] - short_x.shape[1]) / SR))
    return best, latency
