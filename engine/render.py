"""Offline rendering: the same schedule as live, fed from arrays, as fast as possible."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .compiler import Schedule, compile_graph
from .graph import Graph
from .lane import close_lanes
from .runtime import Runtime


def render(graph: Graph, audio_in: np.ndarray | None, sample_rate: int | None = None,
           block_size: int | None = None, seconds: float | None = None, base_dir: str | Path | None = None,
           compensate_latency: bool = True, progress=None, registry=None,
           schedule: Schedule | None = None, warm_up: bool = True,
           finish: bool = True) -> tuple[np.ndarray, Schedule]:
    """Render `graph` offline. Nodes whose outputs reach no sink are left out
    (``Schedule.skipped``): nothing in a render reads them.

    audio_in: float32 [channels, samples] at the graph rate, or None (silence).
    seconds: output length (default: the input's length). With ``compensate_latency`` the
    graph latency is rendered past the end and trimmed from the start, so the output is
    time-aligned with the input.
    progress: optional callable(samples_done, samples_total); first called with 0 once the
    graph is warmed up.
    warm_up: run one block of silence and reset every node before rendering, so kernel
    compilation (numba, first run only) happens before the first reported progress.
    finish: end the render (nodes ``finish()``: recorders write; lanes stop). Without it the
    schedule stays ready for another render (batch: one schedule, many inputs).
    Returns (float32 [out_channels, samples], the schedule used).
    """
    if schedule is None:
        in_ch = audio_in.shape[0] if audio_in is not None else 1
        schedule = compile_graph(graph, registry, sample_rate, block_size, in_channels=in_ch,
                                 base_dir=base_dir, skip_unused=True)
    sr, bs = schedule.sample_rate, schedule.block_size
    if seconds is not None:
        if not (np.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"render length must be a finite number of seconds >= 0, got {seconds}")
        length = int(round(seconds * sr))
    elif audio_in is not None:
        length = audio_in.shape[1]
    else:
        raise ValueError("render needs an input or a length in seconds")
    lat = schedule.latency_samples if compensate_latency else 0
    total = length + lat
    in_ch = schedule.host.in_channels
    src = np.zeros((in_ch, total), np.float32)
    if audio_in is not None:
        k = min(length, audio_in.shape[1])
        c = min(in_ch, audio_in.shape[0])
        src[:c, :k] = audio_in[:c, :k]
    out = np.zeros((schedule.host.out_channels, total), np.float32)
    rt = Runtime(schedule, timing=False)
    if warm_up:
        rt.warm_up()
    if progress is not None:
        progress(0, total)
    pos = 0
    while pos < total:
        n = min(bs, total - pos)
        out[:, pos:pos + n] = rt.process(src[:, pos:pos + n], n)
        pos += n
        if progress is not None:
            progress(pos, total)
    if finish:
        finish_nodes(schedule)
    return out[:, lat:], schedule


def finish_nodes(schedule: Schedule, keep_lanes: bool = False) -> None:
    """End of a render or live session: ``finish()`` every node that prepared and was not
    bypassed (recorders write their files); stop the lanes' workers unless `keep_lanes`."""
    for step in schedule.node_steps:
        if not step.bypassed and step.node.error is None:
            step.node.finish()
    if not keep_lanes:
        close_lanes(schedule)
