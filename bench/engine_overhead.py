"""Engine overhead per block: a chain of 50 util.gain nodes at block 64 and 256.

overhead = (wall time of Runtime.process) - (time spent inside the nodes' process()),
reported in microseconds per block and as a fraction of the block period at 48 kHz.
Node time is measured by rendering the same chain with the nodes called directly in
a tight loop (no engine), in the same run. Best of N.

    python bench/engine_overhead.py
"""
from __future__ import annotations

import time

import numpy as np

from neuropatch.engine import Edge, Graph, Runtime, compile_graph, new_node_spec

SR = 48000
N_NODES = 50
BLOCKS = 4000
REPEATS = 7


def chain_graph(n_nodes: int) -> Graph:
    g = Graph()
    g.nodes["in"] = new_node_spec("io.audio_in", "in")
    prev = "in"
    for i in range(n_nodes):
        nid = f"g{i}"
        g.nodes[nid] = new_node_spec("util.gain", nid, params={"gain_db": -0.01})
        g.edges.append(Edge(prev, "out", nid, "in"))
        prev = nid
    g.nodes["out"] = new_node_spec("io.audio_out", "out")
    g.edges.append(Edge(prev, "out", "out", "in"))
    return g


def time_engine(block: int, timing: bool) -> float:
    sched = compile_graph(chain_graph(N_NODES), sample_rate=SR, block_size=block)
    rt = Runtime(sched, timing=timing)
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (1, block)).astype(np.float32)
    for _ in range(50):
        rt.process(x)
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for _ in range(BLOCKS):
            rt.process(x)
        best = min(best, time.perf_counter() - t0)
    return best / BLOCKS


def time_nodes_alone(block: int) -> float:
    """The same node work with no engine: each gain's process() called directly."""
    sched = compile_graph(chain_graph(N_NODES), sample_rate=SR, block_size=block)
    calls = []
    for step in sched.node_steps:
        ins, outs = step.views(block)
        calls.append((step.node.process, ins, outs))
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (1, block)).astype(np.float32)
    sched.host.input = x
    sched.host.output = sched.host.output_buffer[:, :block]
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for _ in range(BLOCKS):
            for proc, ins, outs in calls:
                proc(ins, outs, block)
        best = min(best, time.perf_counter() - t0)
    return best / BLOCKS


def main() -> None:
    print(f"{N_NODES}-node util.gain chain, {SR} Hz, best of {REPEATS} x {BLOCKS} blocks")
    print(f"{'block':>6} {'period us':>10} {'engine us':>10} {'nodes us':>9} {'overhead us':>12} "
          f"{'overhead %':>11} {'no-timing ovh %':>16}")
    for block in (64, 256):
        period = block / SR
        engine = time_engine(block, timing=True)
        engine_nt = time_engine(block, timing=False)
        nodes = time_nodes_alone(block)
        ovh, ovh_nt = engine - nodes, engine_nt - nodes
        print(f"{block:>6} {period * 1e6:>10.0f} {engine * 1e6:>10.1f} {nodes * 1e6:>9.1f} {ovh * 1e6:>12.1f} "
              f"{100 * ovh / period:>10.2f}% {100 * ovh_nt / period:>15.2f}%")


if __name__ == "__main__":
    main()
