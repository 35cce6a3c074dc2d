"""The audio side while the transformer generates: per-block duration of the engine's
``process`` for ``patches/generative_chorale.json`` paced in real time (each block starts
at its deadline, as an audio callback would), the generator's worker running in its own
process, against the same patch with the generator bypassed, in the same run.

Reports the worst and 99.9th-percentile block time in microseconds next to the block
period, and the late chunks the lane counted (notes skipped because the worker was late).

    python bench/transformer_live.py [--seconds 20] [--block 256]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PATCH = REPO / "patches" / "generative_chorale.json"


def run(seconds: float, block: int, bypass: bool) -> tuple[np.ndarray, int]:
    from neuropatch.engine import compile_graph, load_patch
    from neuropatch.engine.lane import close_lanes, lanes_of, set_realtime
    from neuropatch.engine.runtime import Runtime

    graph = load_patch(PATCH)
    sched = compile_graph(graph, block_size=block, base_dir=PATCH.parent)
    if bypass:
        for step in sched.node_steps:
            if step.node.uses_lane:
                step.bypassed = True
    rt = Runtime(sched, timing=False)
    rt.warm_up()
    set_realtime(sched, True)
    sr = sched.sample_rate
    n_blocks = int(seconds * sr / block)
    times = np.zeros(n_blocks)
    period = block / sr
    start = time.perf_counter() + 0.5    # let the worker load its model
    for k in range(n_blocks):
        due = start + k * period
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        t0 = time.perf_counter()
        rt.process(None, block)
        times[k] = time.perf_counter() - t0
    late = sum(lane.late_chunks for lane in lanes_of(sched))
    close_lanes(sched)
    return times, late


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--block", type=int, default=256)
    args = ap.parse_args()
    period_us = args.block / 48000 * 1e6
    print(f"{PATCH.name}, block {args.block} ({period_us:.0f} us), {args.seconds:.0f} s paced in real time")
    for label, bypass in (("generator bypassed", True), ("generating", False)):
        t, late = run(args.seconds, args.block, bypass)
        us = t * 1e6
        print(f"{label:<20} worst {us.max():8.0f} us  p99.9 {np.percentile(us, 99.9):7.0f} us  "
              f"median {np.median(us):6.0f} us  late chunks {late}")


if __name__ == "__main__":
    main()
