"""Xruns per minute with a busy 60 fps GUI-like load in the controlling process.

The controlling process runs a 60 fps loop that spends ``--gui-ms`` (default 12 ms) of
every 16.7 ms frame in pure Python (holding the GIL, like pyqtgraph redraws) and reads
meters and a tap each frame. The engine runs on a JACK dummy server (48 kHz, period =
block) with a light patch (oscillator + in -> gain -> out), once in its own process and
once as a thread of the controlling process.

    python bench/xruns_under_gui_load.py [--seconds 30] [--blocks 256 64]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.jack_dummy import JackDummy  # noqa: E402


def patch():
    from neuropatch.engine import AddNode, Connect, Edge, Graph, new_node_spec

    g = Graph()
    for t, i in [("io.audio_in", "in"), ("gen.oscillator", "osc"), ("util.mix", "mix"),
                 ("util.gain", "gain"), ("io.audio_out", "out")]:
        g.apply(AddNode(new_node_spec(t, i)))
    for e in [("in", "out", "mix", "in1"), ("osc", "out", "mix", "in2"), ("mix", "out", "gain", "in"),
              ("gain", "out", "out", "in")]:
        g.apply(Connect(Edge(*e)))
    return g


def gui_frame(busy_s: float) -> None:
    """Pure-Python work holding the GIL for busy_s seconds (a redraw stand-in)."""
    end = time.perf_counter() + busy_s
    acc = 0
    while time.perf_counter() < end:
        for i in range(200):
            acc += i * i


def run(mode: str, block: int, seconds: float, gui_ms: float) -> dict:
    from neuropatch.engine.live import EngineClient

    with JackDummy(f"np_bench_x{os.getpid()}_{mode}_{block}", period=block):
        with EngineClient(mode=mode, block_size=block, in_channels=1, out_channels=1) as client:
            client.load(patch())
            client.start()
            client.sync()
            tap = client.tap("gain", "out")
            time.sleep(1.0)
            x0 = client.meters()["xruns"]
            t_end = time.perf_counter() + seconds
            frame = 1 / 60
            next_t = time.perf_counter()
            loads, peaks = [], []
            while time.perf_counter() < t_end:
                gui_frame(gui_ms * 1e-3)
                m = client.meters()
                tap.read()
                loads.append(m["load_avg"])
                peaks.append(m["load_peak"])
                next_t += frame
                delay = next_t - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                else:
                    next_t = time.perf_counter()
            xruns = client.meters()["xruns"] - x0
    return {"mode": mode, "block": block, "xruns": xruns, "per_min": xruns * 60 / seconds,
            "load_avg": sum(loads) / max(1, len(loads)), "load_peak": max(peaks or [0])}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--blocks", type=int, nargs="+", default=[256, 64])
    ap.add_argument("--gui-ms", type=float, default=12.0)
    args = ap.parse_args()
    rows = [run(mode, b, args.seconds, args.gui_ms) for b in args.blocks for mode in ("process", "thread")]
    print(f"| block | mode | xruns in {args.seconds:.0f} s | xruns/min | engine load avg | load peak |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['block']} | {r['mode']} | {r['xruns']} | {r['per_min']:.1f} | "
              f"{r['load_avg'] * 100:.1f}% | {r['load_peak'] * 100:.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
