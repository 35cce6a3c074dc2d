import numpy as np
import pytest

from neuropatch.engine import (CompileError, CycleError, Edge, Graph, StreamTypeError, compile_graph,
                               new_node_spec, render)

from .helpers import chain, make_test_registry


def graph_with(nodes, edges, registry=None):
    g = Graph()
    for nid, t, params in nodes:
        g.nodes[nid] = new_node_spec(t, nid, registry, params)
    g.edges = [Edge(*e) for e in edges]
    return g


def test_type_error_names_both_ports_and_kinds():
    reg = make_test_registry()
    g = graph_with([("osc", "gen.oscillator", {}), ("lat", "test.latency", {})],
                   [("osc", "out", "osc", "freq")], reg)
    with pytest.raises(StreamTypeError) as exc:
        compile_graph(g, reg)
    msg = str(exc.value)
    assert "osc.out (audio)" in msg and "osc.freq (control)" in msg


def test_cycle_without_delay_is_an_error_naming_the_loop():
    g = graph_with([("a", "util.gain", {}), ("b", "util.gain", {}), ("c", "util.gain", {})],
                   [("a", "out", "b", "in"), ("b", "out", "c", "in"), ("c", "out", "a", "in")])
    with pytest.raises(CycleError) as exc:
        compile_graph(g)
    assert "a -> b -> c -> a" in str(exc.value)
    assert exc.value.loop == ["a", "b", "c"]


def test_feedback_through_delay_node_gives_a_decaying_echo():
    # impulse in -> mix -> out ; mix -> gain(-6 dB) -> delay(one block) -> mix.in2
    sr, bs = 48000, 256
    delay_ms = 512 / sr * 1000
    g = graph_with([("in", "io.audio_in", {}), ("mix", "util.mix", {}), ("fb", "util.gain", {"gain_db": -6.0}),
                    ("d", "util.delay", {"delay_ms": delay_ms}), ("out", "io.audio_out", {})],
                   [("in", "out", "mix", "in1"), ("mix", "out", "fb", "in"), ("fb", "out", "d", "in"),
                    ("d", "out", "mix", "in2"), ("mix", "out", "out", "in")])
    x = np.zeros((1, 4096), np.float32)
    x[0, 0] = 1.0
    y, sched = render(g, x, sr, bs)
    g6 = 10 ** (-6 / 20)
    for k in range(4):
        assert y[0, 512 * k] == pytest.approx(g6 ** k, rel=1e-6)
    assert np.count_nonzero(np.abs(y) > 1e-9) == 8


def test_unconnected_or_unknown_ports_are_reported():
    g = graph_with([("a", "util.gain", {}), ("b", "util.gain", {})], [("a", "nope", "b", "in")])
    with pytest.raises(CompileError, match="has no output 'nope'"):
        compile_graph(g)


def test_parallel_paths_of_different_latency_are_time_aligned():
    reg = make_test_registry()
    # in -> lat(300) -> mix.in1 ; in -> mix.in2 (dry) ; mix -> out
    g = graph_with([("in", "io.audio_in", {}), ("lat", "test.latency", {"samples": 300}),
                    ("mix", "util.mix", {"gain2_db": 0.0}), ("out", "io.audio_out", {})],
                   [("in", "out", "lat", "in"), ("lat", "out", "mix", "in1"), ("in", "out", "mix", "in2"),
                    ("mix", "out", "out", "in")], reg)
    x = np.random.default_rng(0).uniform(-0.4, 0.4, (1, 10000)).astype(np.float32)
    for bs in (1, 64, 256, 1000):
        y, sched = render(g, x, 48000, bs, registry=reg)
        assert sched.latency_samples == 300
        # both paths arrive aligned: the sum is exactly twice the (latency-compensated) input
        np.testing.assert_allclose(y, 2 * x, atol=1e-6)


def test_render_without_compensation_keeps_latency_at_start():
    reg = make_test_registry()
    g = chain([("in", "io.audio_in", {}), ("lat", "test.latency", {"samples": 100}), ("out", "io.audio_out", {})], reg)
    x = np.random.default_rng(1).uniform(-1, 1, (1, 2000)).astype(np.float32)
    y, _ = render(g, x, 48000, 64, registry=reg, compensate_latency=False)
    np.testing.assert_array_equal(y[:, 100:], x[:, :-100])
    assert not y[:, :100].any()


def test_unknown_node_type_compiles_as_silent_placeholder():
    g = chain([("in", "io.audio_in", {}), ("out", "io.audio_out", {})])
    from neuropatch.engine import NodeSpec
    g.nodes["mystery"] = NodeSpec("mystery", "thirdparty.fancy", raw={"id": "mystery", "type": "thirdparty.fancy"})
    g.edges = [Edge("in", "out", "mystery", "x"), Edge("mystery", "y", "out", "in")]
    sched = compile_graph(g)
    assert "mystery" in sched.errors and "thirdparty.fancy" in sched.errors["mystery"]
    y, _ = render(g, np.ones((1, 512), np.float32), 48000, 256)
    assert not y.any()


def test_failing_node_is_bypassed_and_reported_while_audio_continues():
    from neuropatch.engine import Runtime

    reg = make_test_registry()
    g = chain([("in", "io.audio_in", {}), ("r", "test.raiser", {"after": 2}), ("out", "io.audio_out", {})], reg)
    sched = compile_graph(g, reg, 48000, 64)
    rt = Runtime(sched)
    x = np.full((1, 64), 0.25, np.float32)
    outs = [rt.process(x).copy() for _ in range(5)]
    assert all(np.allclose(o, 0.25) for o in outs)  # bypass passes audio through
    assert rt.reports and rt.reports[0][0] == "r" and "boom" in rt.reports[0][1]


def test_param_changes_between_blocks_glide_without_steps():
    from neuropatch.engine import Runtime

    g = chain([("in", "io.audio_in", {}), ("g", "util.gain", {"gain_db": 0.0}), ("out", "io.audio_out", {})])
    rt = Runtime(compile_graph(g, None, 48000, 64))
    x = np.ones((1, 64), np.float32)
    rt.process(x)
    rt.set_param("g", "gain_db", -96.0)
    ys = np.concatenate([rt.process(x).copy() for _ in range(30)], axis=1)[0]
    assert ys[0] < 1.0 and ys[-1] == 0.0
    assert np.max(np.abs(np.diff(ys))) < 2.0 / 960 + 1e-6  # linear 20 ms glide: 960 samples
    assert np.all(np.diff(ys) <= 1e-7)


def test_schedule_swap_keeps_surviving_node_state():
    from neuropatch.engine import Runtime

    g = chain([("osc", "gen.oscillator", {"freq_hz": 1000.0}), ("out", "io.audio_out", {})])
    s1 = compile_graph(g, None, 48000, 64)
    rt = Runtime(s1)
    for _ in range(3):
        rt.process(None)
    phase = s1.nodes["osc"].phase
    g.nodes["g"] = new_node_spec("util.gain", "g")
    s2 = compile_graph(g, None, 48000, 64, reuse=s1)
    assert s2.nodes["osc"] is s1.nodes["osc"] and s2.nodes["osc"].phase == phase
    rt.swap(s2)
    rt.process(None)
    assert rt.schedule is s2


def test_a_render_leaves_out_nodes_whose_outputs_reach_no_output_and_sounds_the_same(tmp_path):
    """in -> gain -> out, plus a dangling chain in -> pitch and in -> gain2 -> delay, and a
    gain feeding a recorder. The dangling nodes are not prepared (a missing model there
    would otherwise be a bypassed node with an error) and the output is unchanged."""
    nodes = [("in", "io.audio_in", {}), ("g", "util.gain", {"gain_db": -6.0}), ("out", "io.audio_out", {}),
             ("pitch", "feature.pitch", {}), ("g2", "util.gain", {}), ("d", "util.delay", {}),
             ("amp", "amp.nam", {}), ("g3", "util.gain", {}), ("rec", "io.recorder", {})]
    edges = [("in", "out", "g", "in"), ("g", "out", "out", "in"), ("in", "out", "pitch", "in"),
             ("in", "out", "g2", "in"), ("g2", "out", "d", "in"), ("in", "out", "amp", "in"),
             ("in", "out", "g3", "in"), ("g3", "out", "rec", "in")]
    g = graph_with(nodes, edges)
    g.nodes["amp"].resources = {"model": {"path": str(tmp_path / "missing.nam")}}
    g.nodes["rec"].params["path"] = str(tmp_path / "rec.wav")
    x = np.random.default_rng(0).standard_normal((1, 4800)).astype(np.float32) * 0.1
    y, schedule = render(g, x)
    assert sorted(nid for nid, _ in schedule.skipped) == ["amp", "d", "g2", "pitch"]
    assert set(schedule.node_ids()) == {"in", "g", "out", "g3", "rec"} and not schedule.errors
    lean = graph_with(nodes[:3], edges[:2])
    y_lean, _ = render(lean, x)
    assert np.array_equal(y, y_lean)
    full = compile_graph(g)          # outside a render every node is compiled (the editor taps them)
    assert "pitch" in full.node_ids() and "amp" in full.errors


def test_a_graph_with_no_sink_leaves_nothing_out():
    g = graph_with([("osc", "gen.oscillator", {}), ("g", "util.gain", {})], [("osc", "out", "g", "in")])
    assert compile_graph(g, skip_unused=True).skipped == []
