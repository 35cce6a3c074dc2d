"""A cold warm-up compiles the heavier node types' kernels in child processes at the same time
(engine/warm_parallel.py)."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from neuropatch.engine import AddNode, Connect, Edge, Graph, new_node_spec
from neuropatch.engine import warm_parallel
from neuropatch.engine.compiler import compile_graph

# gate -> tone, both declared heavy: the gate's type stays here, the tone stack's goes to a child
SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from neuropatch.engine import AddNode, Connect, Edge, Graph, new_node_spec
    from neuropatch.engine.render import render
    from neuropatch.engine.warm import watch_compiles
    from neuropatch.nodes.effects import NoiseGate, ToneStack
    from neuropatch.engine import warm_parallel

    NoiseGate.compile_seconds = ToneStack.compile_seconds = 5.0
    g = Graph()
    for spec in (new_node_spec("io.audio_in", "in"), new_node_spec("fx.noise_gate", "gate"),
                 new_node_spec("fx.eq3", "tone", params={"bass_db": 3.0}), new_node_spec("io.audio_out", "out")):
        g.apply(AddNode(spec))
    for a, b in (("in", "gate"), ("gate", "tone"), ("tone", "out")):
        g.apply(Connect(Edge(a, "out", b, "in")))
    import neuropatch.engine.runtime as runtime
    children = []   # per render: the children its warm-up started

    def counted(*args, **kwargs):
        children.append(warm_parallel.warm_steps(*args, **kwargs))
        return children[-1]

    runtime.warm_steps = counted
    x = (np.random.default_rng(1).standard_normal((1, 4800)) * 0.3).astype(np.float32)
    runs = []
    for _ in range(2):
        compiled = []
        with watch_compiles(compiled.append):
            y, _ = render(g, x)
        runs.append({"compiled": compiled, "y": y[0].tolist()})
    print(json.dumps({"children": children, "runs": runs}))
""")


def run_script(cache, workers):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), NEUROPATCH_COMPILE_WORKERS=str(workers))
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_cold_render_compiles_a_heavy_node_type_in_a_child_and_renders_the_same(tmp_path):
    spread = run_script(tmp_path / "spread", 1)
    alone = run_script(tmp_path / "alone", 0)
    first, second = spread["runs"]
    assert spread["children"][0] == 1
    # this process compiled the gate; the tone stack's kernel came from the child's cache
    assert "neuropatch.nodes.effects.gate_block" in first["compiled"]
    assert "neuropatch.nodes.effects.biquad_cascade" not in first["compiled"]
    assert "neuropatch.nodes.effects.biquad_cascade" in alone["runs"][0]["compiled"]
    assert alone["children"][0] == 0
    assert np.array_equal(first["y"], alone["runs"][0]["y"])
    # once warmed, the same patch starts no child and compiles nothing
    assert spread["children"][1] == 0 and second["compiled"] == []
    assert np.array_equal(second["y"], first["y"])


def graph_gate_tone():
    g = Graph()
    for spec in (new_node_spec("io.audio_in", "in"), new_node_spec("fx.noise_gate", "gate"),
                 new_node_spec("fx.eq3", "tone"), new_node_spec("io.audio_out", "out")):
        g.apply(AddNode(spec))
    for a, b in (("in", "gate"), ("gate", "tone"), ("tone", "out")):
        g.apply(Connect(Edge(a, "out", b, "in")))
    return g


@pytest.fixture
def heavy_gate_and_tone(monkeypatch, tmp_path):
    from neuropatch.nodes.effects import NoiseGate, ToneStack

    monkeypatch.setattr(NoiseGate, "compile_seconds", 5.0)
    monkeypatch.setattr(ToneStack, "compile_seconds", 5.0)
    monkeypatch.setattr(warm_parallel, "_marker_folder", lambda: tmp_path)


def test_when_no_child_can_start_every_node_is_warmed_here(monkeypatch, heavy_gate_and_tone):
    def refuse(*args, **kwargs):
        raise OSError("no processes left")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    schedule = compile_graph(graph_gate_tone())
    warmed = []
    assert warm_parallel.warm_steps(schedule, schedule.node_steps, lambda s: warmed.append(s.node_id), workers=1) == 0
    assert warmed == [s.node_id for s in schedule.node_steps]


def test_children_are_killed_when_this_process_stops_waiting(monkeypatch, heavy_gate_and_tone):
    started = []
    real_start = warm_parallel._start_children

    def start(*args):
        procs = real_start(*args)
        started.extend(procs)
        return procs

    def interrupted(step):
        if type(step.node).__name__ == "NoiseGate":
            raise KeyboardInterrupt

    monkeypatch.setattr(warm_parallel, "_start_children", start)
    schedule = compile_graph(graph_gate_tone())
    with pytest.raises(KeyboardInterrupt):
        warm_parallel.warm_steps(schedule, schedule.node_steps, interrupted, workers=1)
    assert len(started) == 1
    assert started[0].poll() is not None          # killed and reaped, not left running


def test_a_child_task_rebuilds_buffers_of_the_same_types(heavy_gate_and_tone):
    schedule = compile_graph(graph_gate_tone())
    step = next(s for s in schedule.node_steps if s.node_id == "tone")
    task = warm_parallel._task(schedule, step)
    json.dumps(task)
    for port, buf in step.in_bufs.items():
        rebuilt = warm_parallel._rebuild(task["ins"][port])
        assert rebuilt.shape == buf.shape and rebuilt.dtype == buf.dtype
        assert rebuilt.flags.writeable == buf.flags.writeable


def test_the_default_leaves_a_loaded_machine_to_this_process(monkeypatch):
    monkeypatch.delenv("NEUROPATCH_COMPILE_WORKERS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    assert warm_parallel.default_workers() == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 1.5, 1.5))
    assert warm_parallel.default_workers() == 0
    monkeypatch.setenv("NEUROPATCH_COMPILE_WORKERS", "2")
    assert warm_parallel.default_workers() == 2


@pytest.mark.parametrize("taps, kept_here", [(900, "gate"), (3000, "cab")])
def test_the_plan_weighs_a_node_by_what_its_prepared_instance_declares(tmp_path, heavy_gate_and_tone, taps,
                                                                       kept_here):
    """fx.ir declares its cost in prepare: a cabinet-length response (direct form) is light, a
    longer one (FFT convolution) heavy. The heaviest type stays in this process."""
    import soundfile as sf

    ir = np.random.default_rng(2).standard_normal(taps).astype(np.float32)
    sf.write(str(tmp_path / "ir.wav"), ir, 48000, subtype="FLOAT")
    g = Graph()
    cab = new_node_spec("fx.ir", "cab")
    cab.resources["ir"] = {"path": str(tmp_path / "ir.wav")}
    for spec in (new_node_spec("io.audio_in", "in"), new_node_spec("fx.noise_gate", "gate"), cab,
                 new_node_spec("io.audio_out", "out")):
        g.apply(AddNode(spec))
    for a, b in (("in", "gate"), ("gate", "cab"), ("cab", "out")):
        g.apply(Connect(Edge(a, "out", b, "in")))
    schedule = compile_graph(g)
    local, remote, _ = warm_parallel._plan(schedule, schedule.node_steps, workers=1)
    here = {s.node_id for s in schedule.node_steps if type(s.node) in local and s.node_id in ("gate", "cab")}
    assert here == {kept_here}
    assert len(remote) == 1 and len(remote[0]) == 1
