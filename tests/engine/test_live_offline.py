"""Live engine on the offline backend (no sound card): swaps, crossfades, safety, taps, meters."""
import queue
import time
import tracemalloc

import numpy as np
import pytest

from neuropatch.engine import AddNode, Connect, Edge, Graph, RemoveNode, SetParam, new_node_spec
from neuropatch.engine.live import EngineClient, SafetyLimiter
from neuropatch.engine.live.server import EngineConfig, EngineServer
from neuropatch.engine.live.shm_ring import create_shm
from neuropatch.engine.patch import graph_to_dict

SR, BS = 48000, 256
CEILING = 10 ** (-0.3 / 20)


def chain(*specs) -> Graph:
    g = Graph()
    for type_id, nid, params in specs:
        g.apply(AddNode(new_node_spec(type_id, nid, params=params)))
    ids = [nid for _, nid, _ in specs]
    for a, b in zip(ids, ids[1:]):
        g.apply(Connect(Edge(a, "out", b, "in")))
    return g


def sine_patch() -> Graph:
    g = chain(("gen.oscillator", "osc", {"freq_hz": 441.0}), ("util.gain", "gain", {"gain_db": -6.0}),
              ("io.audio_out", "out", {}))
    return g


@pytest.fixture
def offline():
    client = EngineClient(mode="thread", backend="offline", block_size=BS, in_channels=1, out_channels=1)
    yield client
    client.close()


def test_steady_sine_through_unchanged_path_is_sample_identical_across_edits(offline):
    offline.load(sine_patch())
    offline.sync()
    parts = [offline.pump(20)]
    for i in range(8):
        offline.apply(AddNode(new_node_spec("gen.noise", f"nz{i}")))
        offline.apply(AddNode(new_node_spec("util.gain", f"g{i}")))
        offline.apply(Connect(Edge(f"nz{i}", "out", f"g{i}", "in")))
        parts.append(offline.pump(5))
        offline.apply(RemoveNode(f"nz{i}"))
        parts.append(offline.pump(5))
    edited = np.concatenate(parts, axis=1)
    assert offline.meters()["nodes"] == ["osc", "gain", "out"] + [f"g{i}" for i in range(8)]
    with EngineClient(mode="thread", backend="offline", block_size=BS, in_channels=1,
                      out_channels=1) as reference:
        reference.load(sine_patch())
        clean = reference.pump(100)
    # the oscillator survives every edit with its phase: not a sample differs audibly
    assert np.max(np.abs(edited - clean)) < 10 ** (-60 / 20)


def test_changed_path_crossfades_linearly_over_about_ten_ms(offline):
    g = chain(("io.audio_in", "in", {}), ("util.gain", "gain", {"gain_db": 0.0}), ("io.audio_out", "out", {}))
    offline.load(g)
    offline.sync()
    x = np.ones((1, BS * 8), np.float32) * 0.5
    offline.pump(2, x[:, :2 * BS])
    offline.apply(RemoveNode("gain"))                  # in and out now unconnected: silence
    y = offline.pump(6, x[:, :6 * BS])[0]
    fade = int(round(0.010 * SR))
    assert y[0] < 0.5 and y[0] > 0.49                   # the fade starts at the old level
    assert np.all(np.diff(y[:fade]) <= 1e-7)            # monotonic, no jump
    assert np.max(np.abs(np.diff(y[:fade]))) < 0.5 / fade * 1.01
    assert np.all(y[fade:] == 0.0)


def test_limiter_holds_the_ceiling_and_can_be_turned_off(offline):
    g = chain(("io.audio_in", "in", {}), ("util.gain", "gain", {"gain_db": 20.0}), ("io.audio_out", "out", {}))
    offline.load(g)
    offline.sync()
    t = np.arange(BS * 40)
    x = (0.5 * np.sin(2 * np.pi * 300 * t / SR)).astype(np.float32)[None]
    y = offline.pump(40, x)
    assert np.max(np.abs(y)) <= CEILING + 1e-7
    assert np.max(np.abs(y)) > 0.9
    offline.set_limiter(False)
    y = offline.pump(40, x)
    assert np.max(np.abs(y)) == pytest.approx(5.0, rel=1e-3)


def test_nan_and_inf_are_zeroed_on_the_output(offline):
    offline.load(chain(("io.audio_in", "in", {}), ("io.audio_out", "out", {})))
    offline.sync()
    x = np.full((1, BS * 2), 0.25, np.float32)
    x[0, 10] = np.nan
    x[0, 300] = np.inf
    y = offline.pump(2, x)
    assert np.all(np.isfinite(y))
    assert y[0, 10] == 0.0 and y[0, 300] == 0.0 and y[0, 11] == pytest.approx(0.25)
    time.sleep(0.15)
    assert offline.meters()["nonfinite_samples"] == 2


def test_limiter_passes_signals_below_the_ceiling_bit_exactly():
    lim = SafetyLimiter(SR)
    x = (np.random.default_rng(0).standard_normal((2, 512)) * 0.2).astype(np.float32)
    x = np.clip(x, -0.9, 0.9)
    y = x.copy()
    lim.process(y, 512)
    assert np.array_equal(x, y)


def test_taps_read_audio_and_control_streams_without_blocking(offline):
    g = chain(("io.audio_in", "in", {}), ("util.gain", "gain", {"gain_db": -6.0}), ("io.audio_out", "out", {}))
    g.apply(AddNode(new_node_spec("util.follower", "fol")))
    g.apply(Connect(Edge("gain", "out", "fol", "in")))
    offline.load(g)
    audio = offline.tap("gain", "out")
    control = offline.tap("fol", "out")
    offline.sync()
    assert audio.read().size == 0                       # nothing ran yet
    x = np.random.default_rng(1).standard_normal((1, BS * 4)).astype(np.float32) * 0.1
    offline.pump(4, x)
    got = audio.read()
    assert got.shape == (1, BS * 4)
    np.testing.assert_allclose(got, x * np.float32(10 ** (-6 / 20)), atol=1e-7)
    assert audio.read().shape == (1, 0)                 # read() returns only new data
    assert audio.latest(100).shape == (1, 100)
    np.testing.assert_array_equal(audio.latest(100), got[:, -100:])
    assert control.read().shape == (4,)
    offline.pump(2, x[:, :2 * BS])
    assert audio.read(max_items=10).shape == (1, 10)    # only the newest 10 samples


def test_meters_report_load_node_cpu_latency_and_running_state(offline):
    offline.load(sine_patch())
    offline.start()
    time.sleep(1.4)
    m = offline.meters()
    assert m["running"] and m["sample_rate"] == SR and m["block_size"] == BS
    assert 0.0 < m["load_avg"] <= m["load_peak"]
    assert set(m["node_cpu"]) == {"osc", "gain", "out"}
    assert all(v >= 0.0 for v in m["node_cpu"].values())
    assert m["latency_samples"] == m["graph_latency_samples"] == 0
    assert m["errors"] == {} and m["compile_error"] is None
    offline.stop()
    assert offline.meters()["running"] is False


def test_bad_command_is_reported_and_leaves_the_engine_running(offline):
    offline.load(sine_patch())
    offline.apply(Connect(Edge("gain", "out", "osc", "freq")))   # audio into a control input
    offline.sync()
    m = offline.meters()
    assert "cannot connect" in (m["compile_error"] or "")
    assert m["nodes"] == ["osc", "gain", "out"]
    assert np.max(np.abs(offline.pump(4))) > 0.1


def test_param_fast_path_glides_without_recompiling(offline):
    offline.load(sine_patch())
    offline.sync()
    gen = offline.meters()["generation"]
    offline.set_param("gain", "gain_db", -96.0)
    offline.apply(SetParam("gain", "gain_db", -96.0))
    offline.sync()
    y = offline.pump(20)
    assert np.max(np.abs(y[:, -BS:])) == 0.0
    assert offline.meters()["generation"] == gen + 1    # the SetParam command, no compile


def test_sample_rate_mismatch_between_patch_and_engine_is_reported(offline):
    g = sine_patch()
    g.settings["sample_rate"] = 44100
    offline.load(g)
    offline.sync()
    warnings = offline.meters()["warnings"]
    assert any("44100" in w and "48000" in w for w in warnings)


def test_audio_callback_allocates_no_block_sized_memory_in_steady_state():
    """tracemalloc over 2000 callbacks (numpy data buffers are traced too): no net growth
    and a peak far below one block of audio (8 KiB here), so nothing block-sized is
    allocated per block — only transient Python views of a few hundred bytes."""
    shm = create_shm(1 << 16)
    shm.buf[:16] = bytes(16)
    bs = 1024
    config = EngineConfig(sample_rate=SR, block_size=bs, backend="offline", in_channels=2, out_channels=2)
    server = EngineServer(config, queue.Queue(), queue.Queue(), shm.name)
    g = chain(("io.audio_in", "in", {}), ("util.gain", "gain", {"gain_db": -6.0}),
              ("util.delay", "dly", {"delay_ms": 5.0}), ("io.audio_out", "out", {}))
    tap_shm = create_shm(64 + 4 * 65536)
    tap_shm.buf[:64] = bytes(64)
    try:
        server._cmd_load(graph_to_dict(g))
        server._cmd_tap(1, "gain", "out", tap_shm.name)
        indata = (np.random.default_rng(0).standard_normal((bs, 2)) * 0.1).astype(np.float32)
        outdata = np.zeros((bs, 2), np.float32)
        flags = server.stream.flags
        for _ in range(200):
            server._callback(indata, outdata, bs, None, flags)
        tracemalloc.start()
        try:
            base, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            for _ in range(2000):
                server._callback(indata, outdata, bs, None, flags)
            now, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert now - base < 1024, now - base
        assert peak - base < 4096, peak - base      # one block of stereo audio is 8192 bytes
        assert np.max(np.abs(outdata)) > 0
    finally:
        for w in server._tap_writers.values():
            w.ring.close()
        server.board.close()
        shm.unlink()
        tap_shm.close()
        tap_shm.unlink()


def test_process_mode_engine_collects_garbage_explicitly_and_keeps_running():
    """Process mode turns automatic GC off in the engine process (explicit, cheap
    collections in the control loop) and reports it; audio keeps flowing through edits."""
    with EngineClient(mode="process", backend="offline", block_size=BS, in_channels=1,
                      out_channels=1) as client:
        client.load(sine_patch())
        client.sync()
        for i in range(20):
            client.apply(AddNode(new_node_spec("util.gain", f"g{i}")))
            client.apply(RemoveNode(f"g{i}"))
        client.sync()
        out = client.pump(20)
        m = client.meters()
        assert np.max(np.abs(out)) > 0.1
        assert m["gc_collections"] >= 0 and m["gc_max_ms"] < 50.0   # none slow while running
        assert m["audio_thread"] == "not started"      # the offline backend's thread stays as it is
        assert m["nodes"] == ["osc", "gain", "out"]


def test_process_and_thread_mode_engines_give_identical_output_for_the_same_input():
    """The same patch (gain and a 3 ms delay) and input through an engine in its own process
    and in a thread of this one, block by block on the offline backend: the same samples."""
    g = chain(("io.audio_in", "in", {}), ("util.gain", "gain", {"gain_db": -6.0}),
              ("util.delay", "dly", {"delay_ms": 3.0}), ("io.audio_out", "out", {}))
    x = (0.2 * np.random.default_rng(3).standard_normal((1, BS * 30))).astype(np.float32)
    outputs = {}
    for mode in ("process", "thread"):
        with EngineClient(mode=mode, backend="offline", block_size=BS, in_channels=1, out_channels=1,
                          limiter=False) as client:
            client.load(g)
            client.sync()
            outputs[mode] = client.pump(30, x)
    assert np.max(np.abs(outputs["thread"])) > 0.05
    assert np.array_equal(outputs["process"], outputs["thread"])
