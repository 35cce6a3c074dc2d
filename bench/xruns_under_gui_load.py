"""Xruns per minute of the live engine, with and without a busy 60 fps GUI-like load.

The controlling process runs a 60 fps loop that spends ``--gui-ms`` (default 12 ms; 0 =
a quiet baseline) of every 16.7 ms frame in pure Python (holding the GIL, like pyqtgraph
redraws) and reads meters and a tap each frame. The engine runs on a JACK dummy server
(48 kHz, period = block) with a light patch (oscillator + in -> mix -> gain -> out), in
its own process or as a thread of the controlling process.

jackd runs realtime (``-R``, jackd2's default: SCHED_FIFO for its driver and, through
libjack, for every client's process thread) or not (``-r``). Counted: the engine's xruns
(PortAudio's input-overflow / output-underflow callback flags, which JACK raises for
every xrun of the server) and jackd's own reports, split by the late client (the engine's
PortAudio client, or another one).

    python bench/xruns_under_gui_load.py [--seconds 30] [--blocks 256 64]
        [--modes process thread] [--gui-ms 12 0] [--jack rt nort] [--repeat 2]
"""
from __future__ import annotations

import argparse
import itertools
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


def engine_ports(server: str) -> set:
    """Names of the JACK clients that own the engine's ports (PortAudio, PortAudio-01, ...)."""
    import jack

    c = jack.Client("np_bench_lister", servername=server, no_start_server=True)
    try:
        return {p.name.split(":")[0] for p in c.get_ports() if p.name.startswith("PortAudio")}
    finally:
        c.close()


def run(mode: str, block: int, seconds: float, gui_ms: float, jack_rt: bool) -> dict:
    from neuropatch.engine.live import EngineClient

    name = f"np_bench_x{os.getpid()}_{mode}_{block}"
    load0 = os.getloadavg()[0]
    with JackDummy(name, period=block, realtime=jack_rt) as server:
        with EngineClient(mode=mode, block_size=block, in_channels=1, out_channels=1) as client:
            client.load(patch())
            client.start()
            client.sync()
            tap = client.tap("gain", "out")
            time.sleep(1.0)
            ours = engine_ports(server.name)
            log0 = server.log_offset()
            x0 = client.meters()["xruns"]
            t_end = time.perf_counter() + seconds
            frame = 1 / 60
            next_t = time.perf_counter()
            loads, peaks = [], []
            while time.perf_counter() < t_end:
                if gui_ms > 0:
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
            m = client.meters()
            xruns = m["xruns"] - x0
        reports = server.xruns(log0)
    late_engine = sum(v for (c, _), v in reports.items() if c in ours)
    return {"mode": mode, "block": block, "gui_ms": gui_ms, "jack": "-R" if jack_rt else "-r",
            "xruns": xruns, "per_min": xruns * 60 / seconds,
            "jackd_engine": late_engine, "jackd_other": sum(reports.values()) - late_engine,
            "load_avg": sum(loads) / max(1, len(loads)), "load_peak": max(peaks or [0]),
            "machine_load": (load0 + os.getloadavg()[0]) / 2,
            "audio_thread": m.get("audio_thread", "?"), "gc_max_ms": m.get("gc_max_ms", 0.0)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--blocks", type=int, nargs="+", default=[256, 64])
    ap.add_argument("--modes", nargs="+", default=["process", "thread"])
    ap.add_argument("--gui-ms", type=float, nargs="+", default=[12.0, 0.0])
    ap.add_argument("--jack", nargs="+", default=["rt", "nort"], choices=["rt", "nort"])
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration; the best is reported")
    args = ap.parse_args()
    print(f"| block | mode | GUI ms/frame | jackd | xruns in {args.seconds:.0f} s (runs) | best xruns/min | "
          f"jackd: engine late / other late | engine load avg | load peak | machine load | audio thread |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for block, mode, gui, jk in itertools.product(args.blocks, args.modes, args.gui_ms, args.jack):
        runs = [run(mode, block, args.seconds, gui, jk == "rt") for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["xruns"])
        all_x = ", ".join(str(r["xruns"]) for r in runs)
        print(f"| {block} | {mode} | {gui:g} | {best['jack']} | {all_x} | {best['per_min']:.1f} | "
              f"{best['jackd_engine']} / {best['jackd_other']} | {best['load_avg'] * 100:.1f}% | "
              f"{best['load_peak'] * 100:.1f}% | {best['machine_load']:.1f} | {best['audio_thread']} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
