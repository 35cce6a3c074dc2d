"""Compiler edge cases: feedback with fan-in and stereo, output alignment, frames compensation."""
import numpy as np
import pytest

from neuropatch.engine import Edge, Graph, compile_graph, new_node_spec, render

from .helpers import make_test_registry

SR = 48000


def graph_with(nodes, edges, registry=None, block=256):
    g = Graph(settings={"sample_rate": SR, "block_size": block})
    for nid, t, params in nodes:
        g.nodes[nid] = new_node_spec(t, nid, registry, params)
    g.edges = [Edge(*e) for e in edges]
    return g


def impulses(channels, length, at):
    x = np.zeros((channels, length), np.float32)
    for c, k in enumerate(at):
        x[c, k] = 1.0
    return x


def echo_loop(extra_nodes=(), extra_edges=()):
    """in -> mix.in1 -> out; mix -> gain(-6.02 dB) -> delay(512 samples) -> mix.in2."""
    nodes = [("in", "io.audio_in", {}), ("mix", "util.mix", {}),
             ("fb", "util.gain", {"gain_db": 20 * np.log10(0.5)}),
             ("echo", "util.delay", {"delay_ms": 512 / SR * 1000}), ("out", "io.audio_out", {})]
    edges = [("in", "out", "mix", "in1"), ("mix", "out", "fb", "in"), ("fb", "out", "echo", "in"),
             ("echo", "out", "mix", "in2"), ("mix", "out", "out", "in")]
    return graph_with(nodes + list(extra_nodes), edges + list(extra_edges))


class TestFeedback:
    def test_echo_period_is_the_delay_when_the_delay_input_also_has_a_forward_cable(self):
        # a second (silent) forward cable into the delay makes its input a fan-in sum; the
        # feedback part must still arrive in the block it was produced
        g = echo_loop([("quiet", "gen.oscillator", {"level_db": -96.0})], [("quiet", "out", "echo", "in")])
        y, _ = render(g, impulses(1, 2048, [10]))
        peaks = np.flatnonzero(np.abs(y[0]) > 1e-3).tolist()
        assert peaks == [10, 522, 1034, 1546]
        np.testing.assert_allclose(y[0, peaks], [1.0, 0.5, 0.25, 0.125], rtol=1e-4)

    def test_forward_cable_into_a_feedback_delay_is_delayed_by_the_delay(self):
        # in -> delay directly (and the loop): the input is heard once directly and once after
        # 512 samples from the forward cable plus the loop's own echo of it
        g = echo_loop([], [("in", "out", "echo", "in")])
        y, _ = render(g, impulses(1, 1200, [10]))
        np.testing.assert_allclose(y[0, [10, 522]], [1.0, 1.5], rtol=1e-4)
        assert np.count_nonzero(np.abs(y[0, :1034]) > 1e-3) == 2

    def test_stereo_feedback_loop_keeps_both_channels(self):
        g = echo_loop()
        y, sched = render(g, impulses(2, 1200, [10, 20]))
        assert y.shape[0] == 2
        np.testing.assert_allclose(y[0, [10, 522, 1034]], [1.0, 0.5, 0.25], rtol=1e-4)
        np.testing.assert_allclose(y[1, [20, 532, 1044]], [1.0, 0.5, 0.25], rtol=1e-4)
        assert abs(y[1, 522]) < 1e-6 and abs(y[0, 532]) < 1e-6  # channels do not leak
        assert sched.in_specs["echo"]["in"].channels == 2

    @pytest.mark.parametrize("block", [1, 17, 64, 512])
    def test_echo_loop_is_block_size_invariant_while_the_delay_is_at_least_a_block(self, block):
        g = echo_loop()
        ref, _ = render(g, impulses(2, 2000, [10, 20]), block_size=512)
        y, _ = render(g, impulses(2, 2000, [10, 20]), block_size=block)
        np.testing.assert_allclose(y, ref, atol=1e-6)


class TestOutputAlignment:
    @pytest.mark.parametrize("block", [1, 17, 64, 256, 1024])
    @pytest.mark.parametrize("latency", [5, 300, 1500])
    def test_several_outputs_with_different_path_latency_are_time_aligned(self, block, latency):
        reg = make_test_registry()
        g = graph_with([("in", "io.audio_in", {}), ("lat", "test.latency", {"samples": latency}),
                        ("o1", "io.audio_out", {}), ("o2", "io.audio_out", {"first_channel": 2})],
                       [("in", "out", "lat", "in"), ("lat", "out", "o1", "in"), ("in", "out", "o2", "in")],
                       reg, block)
        x = np.random.default_rng(4).standard_normal((2, 3000)).astype(np.float32)
        y, sched = render(g, x, registry=reg)
        assert sched.latency_samples == latency and y.shape == (4, 3000)
        np.testing.assert_array_equal(y[:2], x)   # through the latency node, compensated
        np.testing.assert_array_equal(y[2:], x)   # direct path, delayed to line up

    def test_aligned_output_allocates_nothing_per_block(self):
        import tracemalloc

        from neuropatch.engine.testing import prepare_node
        from neuropatch.nodes.audio_io import AudioOut

        node = AudioOut()
        x = np.random.default_rng(0).standard_normal((2, 1024)).astype(np.float32)
        ctx = prepare_node(node, {"in": x}, SR, 1024)
        node.set_alignment_delay(700)
        ctx.host.output = ctx.host.output_buffer
        for _ in range(3):
            node.process({"in": x}, {}, 1024)
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            base, _ = tracemalloc.get_traced_memory()
            for _ in range(20):
                node.process({"in": x}, {}, 1024)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak - base < 2048


class TestResources:
    @pytest.fixture
    def player(self, tmp_path):
        import hashlib

        import soundfile as sf

        (tmp_path / "snd").mkdir()
        wav = tmp_path / "snd" / "a.wav"
        sf.write(wav, np.full(480, 0.25, np.float32), SR, subtype="FLOAT")
        g = graph_with([("p", "io.file_player", {}), ("out", "io.audio_out", {})], [("p", "out", "out", "in")])
        g.nodes["p"].resources = {"file": {"path": "snd/a.wav",
                                           "sha256": hashlib.sha256(wav.read_bytes()).hexdigest()}}
        return g, wav

    def test_relative_resource_paths_resolve_against_the_patch_folder(self, player, tmp_path, monkeypatch):
        g, wav = player
        monkeypatch.chdir("/")
        sched = compile_graph(g, base_dir=tmp_path)
        assert not sched.errors and sched.nodes["p"].resource_paths["file"] == tmp_path / "snd" / "a.wav"

    def test_matching_sha256_gives_no_note(self, player, tmp_path):
        g, _ = player
        assert not [n for n in compile_graph(g, base_dir=tmp_path).notes if "sha256" in n]

    def test_a_file_that_changed_since_the_patch_was_saved_is_noted(self, player, tmp_path):
        import soundfile as sf

        g, wav = player
        sf.write(wav, np.full(480, 0.5, np.float32), SR, subtype="FLOAT")
        sched = compile_graph(g, base_dir=tmp_path)
        notes = [n for n in sched.notes if "sha256" in n]
        assert len(notes) == 1 and "node 'p'" in notes[0] and "a.wav" in notes[0]
        assert not sched.errors  # still plays the file it found

    def test_recompiling_does_not_hash_an_unchanged_file_again(self, player, tmp_path, monkeypatch):
        from neuropatch.engine import resources

        g, wav = player
        compile_graph(g, base_dir=tmp_path)
        calls = []
        real = resources.sha256_file
        monkeypatch.setattr(resources, "sha256_file", lambda p: calls.append(p) or real(p))
        compile_graph(g, base_dir=tmp_path)
        assert calls == []
        wav.write_bytes(wav.read_bytes() + b"\0")  # size changes: hashed again
        compile_graph(g, base_dir=tmp_path)
        assert len(calls) == 1

    def test_missing_resource_file_bypasses_the_node_with_its_path(self, player, tmp_path):
        g, wav = player
        wav.unlink()
        sched = compile_graph(g, base_dir=tmp_path)
        assert "a.wav" in sched.errors["p"]
        y, _ = render(g, None, seconds=0.01, base_dir=tmp_path)
        assert not np.any(y)


def test_capture_uses_the_spare_chunk_prepared_off_the_audio_path():
    import tracemalloc

    import numpy as np

    from neuropatch.engine.capture import Capture

    cap = Capture((2,), chunk_rows=1024)
    block = np.ones((256, 2), np.float32)
    tracemalloc.start()
    try:
        for k in range(12):          # 3 chunk boundaries
            rows = block * k
            base, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            cap.append(rows)
            _, peak = tracemalloc.get_traced_memory()
            assert peak - base < 2048, f"append allocated {peak - base} bytes at block {k}"
            cap.refill()             # what the control loop does between blocks
    finally:
        tracemalloc.stop()
    out = cap.result()
    assert out.shape == (12 * 256, 2)
    np.testing.assert_array_equal(out[::256, 0], np.arange(12, dtype=np.float32))
