"""Reported vs measured round-trip latency of the live engine on a JACK dummy server.

For each block size a JACK dummy server runs with that period; a JACK client plays
noise into the engine's PortAudio input (patch in -> util.gain -> out) and records its
output. Measured = cross-correlation lag (samples); reported = meters()["latency_samples"]
(device input + output latency as PortAudio reports it + graph latency).

    python bench/latency.py
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.jack_dummy import JackDummy  # noqa: E402


def gain_patch():
    from neuropatch.engine import AddNode, Connect, Edge, Graph, new_node_spec

    g = Graph()
    for t, i in [("io.audio_in", "in"), ("util.gain", "gain"), ("io.audio_out", "out")]:
        g.apply(AddNode(new_node_spec(t, i)))
    g.apply(Connect(Edge("in", "out", "gain", "in")))
    g.apply(Connect(Edge("gain", "out", "out", "in")))
    return g


def measure(block: int) -> dict:
    from neuropatch.engine.live import EngineClient
    from tests.engine.conftest import JackProbe, measured_lag
    import tests.engine.conftest as rig

    rig.JACK_PERIOD = block
    with JackDummy(f"np_bench_lat{os.getpid()}_{block}", period=block) as server:
        with EngineClient(mode="process", block_size=block, in_channels=1, out_channels=1) as client:
            client.load(gain_patch())
            client.start()
            client.sync()
            probe = JackProbe(server.name, "np_bench_probe")
            probe.wire()
            sig = (np.random.default_rng(0).standard_normal(48000) * 0.1).astype(np.float32)
            rec = probe.play(sig, 1.3)
            probe.close()
            m = client.meters()
            return {"block": block, "reported": m["latency_samples"], "measured": measured_lag(rec, sig),
                    "io_ms": m["io_latency_ms"], "xruns": m["xruns"]}


def main() -> int:
    rows = [measure(b) for b in (64, 128, 256, 512)]
    print("| block | JACK period | reported (samples) | measured (samples) | reported ms | xruns |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['block']} | {r['block']} | {r['reported']} | {r['measured']} | "
              f"{r['reported'] / 48:.2f} | {r['xruns']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
