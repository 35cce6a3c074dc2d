"""Live engine end to end through PortAudio on a JACK dummy server (no sound card).

A JACK client plays a known signal into the engine's PortAudio input port and records
its output port. Without realtime scheduling xruns can happen in CI; no test asserts
zero xruns.
"""
import random
import time

import numpy as np
import pytest

from neuropatch.engine import AddNode, Connect, Disconnect, Edge, Graph, RemoveNode, SetParam, new_node_spec
from neuropatch.engine.live import EngineClient

from .conftest import JACK_RATE, measured_lag
from .helpers import make_test_registry

GAIN_6DB = np.float32(10 ** (-6 / 20))   # 0.5012
REGISTRY = "tests.engine.helpers:make_test_registry"


def gain_patch(extra=(), registry=None) -> Graph:
    g = Graph()
    for type_id, nid in [("io.audio_in", "in"), *extra, ("util.gain", "gain"), ("io.audio_out", "out")]:
        g.apply(AddNode(new_node_spec(type_id, nid, registry)))
    ids = ["in", *[nid for _, nid in extra], "gain", "out"]
    for a, b in zip(ids, ids[1:]):
        g.apply(Connect(Edge(a, "out", b, "in")))
    g.nodes["gain"].params["gain_db"] = -6.0
    return g


def noise(seconds: float, seed: int = 0, level: float = 0.2) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * JACK_RATE)) * level).astype(np.float32)


def start(client, probe, graph):
    client.load(graph)
    client.start()
    client.sync()
    probe.wire()


def wait_meters(client, predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    m = client.meters()
    while not predicate(m) and time.monotonic() < deadline:
        time.sleep(0.02)
        m = client.meters()
    return m


@pytest.fixture
def process_client(jack_server):
    client = EngineClient(mode="process", block_size=256, in_channels=1, out_channels=1)
    yield client
    client.close()


def test_gain_patch_output_is_input_times_gain_after_the_reported_latency(process_client, jack_probe):
    start(process_client, jack_probe, gain_patch())
    sig = noise(1.0)
    rec = jack_probe.play(sig, 1.3)
    m = process_client.meters()
    lag = measured_lag(rec, sig)
    assert lag == m["latency_samples"], (lag, m)
    assert m["latency_ms"] == pytest.approx(m["latency_samples"] * 1e3 / JACK_RATE)
    assert m["graph_latency_samples"] == 0
    aligned = rec[m["latency_samples"]:m["latency_samples"] + sig.size]
    np.testing.assert_allclose(aligned, sig[:aligned.size] * GAIN_6DB, atol=1e-5, rtol=0)
    assert m["running"] and m["sample_rate"] == JACK_RATE and m["block_size"] == 256


def test_node_that_raises_mid_stream_is_bypassed_and_audio_continues(jack_server, jack_probe):
    graph = gain_patch(extra=[("test.raiser", "bad")], registry=make_test_registry())
    graph.nodes["bad"].params["after"] = 40      # raises ~0.2 s after start
    with EngineClient(mode="thread", block_size=256, in_channels=1, out_channels=1,
                      registry=REGISTRY) as client:
        start(client, jack_probe, graph)
        sig = noise(1.0, seed=1)
        rec = jack_probe.play(sig, 1.3)
        m = wait_meters(client, lambda m: "bad" in m["errors"])
        assert "boom" in m["errors"]["bad"] and "bypassed" in m["errors"]["bad"]
        lat = m["latency_samples"]
        tail = rec[lat + sig.size // 2: lat + sig.size - 256]
        # the bypassed node passes audio through: the end of the signal is still there (an xrun
        # without realtime scheduling drops whole periods to silence: tolerated, a wrong sample not)
        want = sig[sig.size // 2: sig.size - 256] * GAIN_6DB
        close = np.isclose(tail, want, atol=1e-5, rtol=0)
        assert np.all(close | (tail == 0.0)), "a wrong (not silent) sample after the bypass"
        assert np.mean(close) > 0.8, np.mean(close)


def test_200_random_edits_during_playback_all_take_effect_without_nan(process_client, jack_probe):
    graph = gain_patch()
    start(process_client, jack_probe, graph)
    rng = random.Random(7)
    added = []
    sig = noise(4.0, seed=2)
    jack_probe.signal = sig
    jack_probe.recorded = np.zeros(sig.size + JACK_RATE, np.float32)
    jack_probe._t0 = jack_probe.start_time()
    kinds = ["util.gain", "gen.oscillator", "util.mix", "util.delay"]
    for i in range(200):
        choice = rng.random()
        if choice < 0.45 or len(added) < 2:
            nid = f"n{i}"
            type_id = rng.choice(kinds)
            command = AddNode(new_node_spec(type_id, nid))
            added.append((nid, type_id))
        elif choice < 0.75:
            # connect an earlier node's output to a later node's audio input: never a cycle
            a, b = sorted(rng.sample(range(len(added)), 2))
            (src, _), (dst, dst_type) = added[a], added[b]
            port = {"util.gain": "in", "util.mix": "in2", "util.delay": "in"}.get(dst_type)
            edge = Edge(src, "out", dst, port) if port else Edge(src, "out", "out", "in")
            command = Disconnect(edge) if edge in graph.edges else Connect(edge)
        elif choice < 0.9:
            nid, type_id = added.pop(rng.randrange(len(added)))
            command = RemoveNode(nid)
        else:
            command = SetParam("gain", "gain_db", rng.uniform(-12.0, 0.0))
        graph.apply(command)
        process_client.apply(command)
    process_client.sync()
    m = wait_meters(process_client, lambda m: m["nodes"] and set(m["nodes"]) == set(graph.nodes))
    assert m["compile_error"] is None
    assert set(m["nodes"]) == set(graph.nodes)
    assert m["edges"] == len(graph.edges)
    assert m["running"]
    jack_probe.wait_until_recorded()
    rec = jack_probe.recorded
    assert np.all(np.isfinite(rec))
    assert np.max(np.abs(rec)) <= 10 ** (-0.3 / 20) + 1e-6     # the safety limiter holds
    assert np.count_nonzero(rec) > JACK_RATE                     # audio kept flowing


def test_process_and_thread_mode_give_identical_output_for_the_same_input(jack_server, jack_probe):
    graph = gain_patch(extra=[("util.delay", "dly")])
    graph.nodes["dly"].params["delay_ms"] = 3.0
    sig = noise(0.6, seed=3)
    outputs = {}
    for mode in ("process", "thread"):
        with EngineClient(mode=mode, block_size=256, in_channels=1, out_channels=1) as client:
            start(client, jack_probe, graph)
            for attempt in range(3):   # an xrun is a dropout: compare clean takes only
                xruns_before = client.meters()["xruns"]
                rec = jack_probe.play(sig, 0.9)
                m = client.meters()
                if m["xruns"] == xruns_before:
                    outputs[mode] = rec[m["latency_samples"]:m["latency_samples"] + sig.size].copy()
                    break
    if len(outputs) < 2:
        pytest.skip("an xrun hit every take in one mode (machine too loaded to compare over JACK); "
                    "the offline thread/process comparison still ran")
    assert np.array_equal(outputs["process"], outputs["thread"])
    delay = int(round(0.003 * JACK_RATE))
    np.testing.assert_allclose(outputs["thread"][delay:], sig[:sig.size - delay] * GAIN_6DB, atol=1e-5)


def _sine_through_unrelated_edits(client, probe):
    """Plays a steady sine, edits a branch that does not reach the output; returns
    (residual against the ideal output, xruns during the run)."""
    t = np.arange(288 * 256)           # 1.536 s, whole JACK periods
    sig = (0.5 * np.sin(2 * np.pi * 441.0 * t / JACK_RATE)).astype(np.float32)
    xruns_before = client.meters()["xruns"]
    probe.signal = sig
    probe.recorded = np.zeros(sig.size, np.float32)
    probe._t0 = probe.start_time()
    time.sleep(0.4)
    client.apply(AddNode(new_node_spec("gen.oscillator", "osc")))
    client.apply(AddNode(new_node_spec("util.gain", "g2")))
    client.apply(Connect(Edge("osc", "out", "g2", "in")))
    client.apply(Connect(Edge("in", "out", "g2", "in")))
    client.sync()
    time.sleep(0.2)
    client.apply(RemoveNode("osc"))
    client.apply(RemoveNode("g2"))
    client.sync()
    probe.wait_until_recorded()
    m = wait_meters(client, lambda m: "g2" not in m["nodes"])
    assert m["generation"] >= 6 and m["nodes"] == ["in", "gain", "out"]
    lat = m["latency_samples"]
    out = probe.recorded[lat:]
    return out - sig[:out.size] * GAIN_6DB, m["xruns"] - xruns_before


def test_unrelated_edit_does_not_click_a_steady_sine_on_an_unchanged_path(process_client, jack_probe):
    start(process_client, jack_probe, gain_patch())
    for attempt in range(3):
        residual, xruns = _sine_through_unrelated_edits(process_client, jack_probe)
        if xruns == 0:     # an xrun is a dropout, not a crossfade click: judge only clean runs
            assert np.max(np.abs(residual)) < 10 ** (-60 / 20), np.max(np.abs(residual))
            return
    pytest.skip("an xrun hit every attempt (machine too loaded to judge clicks over JACK); "
                "the offline crossfade tests still ran")


def _cli(*args, timeout=60):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "neuropatch.app.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=dict(os.environ))


def test_cli_lists_devices_and_runs_a_patch_printing_status_lines(jack_server, tmp_path):
    from neuropatch.engine import save_patch

    devices = _cli("devices")
    assert devices.returncode == 0 and "JACK Audio Connection Kit" in devices.stdout
    save_patch(gain_patch(), tmp_path / "gain.json")
    run = _cli("run", tmp_path / "gain.json", "--seconds", "2.2", "--in-channels", "1", "--block", "256")
    assert run.returncode == 0, run.stderr
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("load")]
    assert len(lines) >= 2 and "xruns" in lines[0] and "latency" in lines[0]
    bad_rate = _cli("run", tmp_path / "gain.json", "--seconds", "1", "--sr", "44100")
    assert bad_rate.returncode == 2
    assert "sample-rate mismatch" in bad_rate.stderr and "48000" in bad_rate.stderr
