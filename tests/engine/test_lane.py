"""The inference lane (engine/lane.py) end to end, with the test node ``test.lane_gain``
(tests/engine/lane_models.py: 0.5 x input, chunk by chunk in a thread or process worker,
misbehaving on request).

Offline renders wait for every chunk; live engines never wait: a late chunk is silence,
a worker that raises, dies or hangs is bypassed and reported while the rest of the
graph keeps playing, and restarting the node brings it back.
"""
import multiprocessing
import os
import queue
import signal
import threading
import time

import numpy as np
import pytest

from neuropatch.engine import AddNode, Connect, Edge, Graph, new_node_spec
from neuropatch.engine.compiler import compile_graph
from neuropatch.engine.lane import buffer_latency, lanes_of
from neuropatch.engine.live import EngineClient
from neuropatch.engine.live.server import EngineConfig, EngineServer
from neuropatch.engine.live.shm_ring import create_shm
from neuropatch.engine.patch import graph_to_dict
from neuropatch.engine.render import render

from .conftest import JACK_RATE
from .helpers import chain
from .lane_models import make_registry

SR = 48000
REGISTRY = "tests.engine.lane_models:make_registry"
HALF = np.float32(0.5)
GAIN_6DB = np.float32(10 ** (-6 / 20))
REG = make_registry()


# ---- helpers ---------------------------------------------------------------------------------


def lane_chain(block: int, **lane_params) -> Graph:
    """in -> lane -> out."""
    return chain([("in", "io.audio_in", {}), ("lane", "test.lane_gain", lane_params),
                  ("out", "io.audio_out", {})], REG, sr=SR, block=block)


def parallel_patch(source: str = "osc", **lane_params) -> Graph:
    """source -> lane -> out and, in parallel, source -> gain (-6 dB) -> out. The source is
    an oscillator ("osc", 441 Hz, -12 dB) or the host input ("in")."""
    g = Graph()
    if source == "osc":
        g.apply(AddNode(new_node_spec("gen.oscillator", "osc", REG, {"freq_hz": 441.0})))
    else:
        g.apply(AddNode(new_node_spec("io.audio_in", "in", REG)))
    g.apply(AddNode(new_node_spec("test.lane_gain", "lane", REG, lane_params)))
    g.apply(AddNode(new_node_spec("util.gain", "gain", REG, {"gain_db": -6.0})))
    g.apply(AddNode(new_node_spec("io.audio_out", "out", REG)))
    for a, b in ((source, "lane"), (source, "gain"), ("lane", "out"), ("gain", "out")):
        g.apply(Connect(Edge(a, "out", b, "in")))
    return g


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (/proc; psutil is not installed)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_for(predicate, timeout: float, step: float = 0.005):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def read_pid(marker: str, timeout: float = 30.0) -> int:
    path = marker + ".pid"
    assert wait_for(lambda: os.path.exists(path) and open(path).read(), timeout), "no worker pid file"
    return int(open(path).read())


def mapped_lane_files(pid: int) -> set:
    """Paths of the lane shared-memory files a process has mapped (from /proc/PID/maps; the
    worker drops the name once both sides have mapped it, so they usually read "(deleted)")."""
    with open(f"/proc/{pid}/maps") as f:
        return {line.split(None, 5)[5].strip().removesuffix(" (deleted)") for line in f
                if len(line.split(None, 5)) == 6 and "neuropatch-lane-" in line}


def lane_threads() -> list:
    return [t for t in threading.enumerate() if t.name == "neuropatch-lane" and t.is_alive()]


def matches_or_silent(y: np.ndarray, want: np.ndarray) -> tuple[bool, float]:
    """Every sample is either the expected value exactly or silence (a late chunk); returns
    (that holds, fraction of samples that are the expected value)."""
    hit = y == want
    return bool(np.all(hit | (y == 0.0))), float(np.mean(hit))


class TapLog:
    """Reads taps often enough that nothing is dropped; the logs of taps created before the
    stream started share one sample clock."""

    def __init__(self, client, ports):
        self.readers = {name: client.tap(node, port) for name, (node, port) in ports.items()}
        self.parts = {name: [] for name in ports}

    def poll(self):
        for name, r in self.readers.items():
            got = r.read()
            if got.ndim == 2:         # (an unbound ring reads as an empty 1-d array)
                self.parts[name].append(got[0])

    def get(self, name) -> np.ndarray:
        self.poll()
        return np.concatenate(self.parts[name])


def sleep_polling(log: TapLog, seconds: float, until=None) -> bool:
    """Sleep `seconds` reading the taps (or return True as soon as `until()` holds)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        log.poll()
        if until is not None and until():
            return True
        time.sleep(0.01)
    return False


def reported(client, node_id: str):
    """The engine's meters once they report `node_id` in their errors, else None."""
    m = client.meters()
    return m if node_id in m["errors"] else None


# ---- offline render --------------------------------------------------------------------------


@pytest.mark.parametrize("block", [64, 256, 1000])
@pytest.mark.parametrize("chunk", [2048, 512])
@pytest.mark.parametrize("worker", ["thread", "process"])
def test_render_through_the_lane_is_half_the_input_delayed_by_the_reported_latency(worker, chunk, block):
    x = (np.random.default_rng(chunk + block).standard_normal((2, SR // 2)) * 0.3).astype(np.float32)
    graph = lane_chain(block, chunk=chunk, worker=worker)
    y, sched = render(graph, x, SR, block, registry=REG, compensate_latency=False)
    lat = buffer_latency(chunk, block)       # chunk + chunk * ceil(block / chunk)
    assert sched.latency_samples == lat == sched.nodes["lane"].latency_samples
    assert y.shape == x.shape
    assert not np.any(y[:, :lat])
    np.testing.assert_array_equal(y[:, lat:], x[:, :-lat] * HALF)    # exact: 0.5 x is exact
    aligned, _ = render(graph, x, SR, block, registry=REG)            # latency compensated
    np.testing.assert_array_equal(aligned, x * HALF)


# ---- live: failures are bypassed and reported, the rest plays on, restart recovers -----------


FAILURES = [("raise_after", "thread"), ("raise_after", "process"), ("exit_after", "process"),
            ("sigkill", "process"), ("hang_after", "thread"), ("hang_after", "process")]


@pytest.mark.parametrize("failure,worker", FAILURES, ids=[f"{f}-{w}" for f, w in FAILURES])
def test_failed_worker_is_bypassed_and_reported_while_the_rest_of_the_graph_plays_on(tmp_path, failure, worker):
    bs, chunk = 256, 512
    lat = buffer_latency(chunk, bs)
    marker = str(tmp_path / "lane")
    behaviour = "ok" if failure == "sigkill" else failure
    graph = parallel_patch(chunk=chunk, worker=worker, behaviour=behaviour, after_chunks=60, marker=marker)
    with EngineClient(mode="thread", backend="offline", block_size=bs, in_channels=1, out_channels=1,
                      registry=REGISTRY) as client:
        client.load(graph)
        client.sync()
        assert client.meters()["errors"] == {}
        log = TapLog(client, {"osc": ("osc", "out"), "lane": ("lane", "out"), "gain": ("gain", "out")})
        client.start()
        if failure == "sigkill":
            pid = read_pid(marker)
            sleep_polling(log, 0.6)
            t_fail = time.time()
            os.kill(pid, signal.SIGKILL)
        else:
            failed = marker + ".failed"
            assert sleep_polling(log, 10.0, until=lambda: os.path.exists(failed) and open(failed).read())
            t_fail = float(open(failed).read())
        blocks_at_failure = client.meters()["blocks"]
        m = wait_for(lambda: reported(client, "lane"), 5.0)
        t_report = time.time()
        assert m, f"the failed worker was never reported: {client.meters()['errors']}"
        error = m["errors"]["lane"]
        delay = t_report - t_fail
        if failure == "hang_after":
            # hung = no result deadline_s (1 s) after the chunk was due (5.3 ms here)
            assert "hung" in error and 0.9 < delay < 2.0, (error, delay)
        else:
            assert delay < 1.0, (error, delay)
        assert error.endswith("bypassed")
        expected = {"raise_after": "lane test model raised after 60 chunks",
                    "exit_after": "exit code 9", "sigkill": "exit code -9"}.get(failure, "hung")
        assert expected in error, error
        assert set(m["errors"]) == {"lane"}
        sleep_polling(log, 0.5)
        blocks_bypassed = client.meters()["blocks"]
        idx_bypassed = blocks_bypassed * bs
        # the audio side kept running at its pace: about 0.5 s of blocks since the report
        assert blocks_bypassed - m["blocks"] > 0.25 * SR / bs
        assert blocks_bypassed > blocks_at_failure
        if failure == "exit_after":
            client.load(graph)                      # re-loading the patch recovers too
        else:
            client._request("restart", "lane")      # the server's restart command
        client.sync()
        t_restart = time.time()
        idx_restart = client.meters()["blocks"] * bs
        sleep_polling(log, 1.0)
        m = client.meters()
        assert "lane" not in m["errors"] and m["running"], m["errors"]
        client.stop()
        osc, lane, gain = log.get("osc"), log.get("lane"), log.get("gain")
    n = min(len(osc), len(lane), len(gain))
    osc, lane, gain = osc[:n], lane[:n], gain[:n]
    assert n > idx_restart + SR // 2
    want = np.zeros(n, np.float32)
    want[lat:] = osc[:-lat] * HALF
    # before the failure (after 60 chunks, 4 of them in the engine's warm-up; or the kill
    # 0.6 s in): 0.5 x the oscillator, `lat` behind (exact; a late chunk is silence)
    before = slice(2 * lat, 40 * chunk)
    ok, hit = matches_or_silent(lane[before], want[before])
    assert ok and hit > 0.8, hit
    # bypassed: silent (the node declares no bypass route) until the restart
    assert not np.any(lane[idx_bypassed:idx_restart])
    # restarted: 0.5 x the oscillator again
    start = idx_restart + 2 * lat + SR // 5   # (the meters' block count may be 0.1 s old)
    ok, hit = matches_or_silent(lane[start:], want[start:])
    assert ok and hit > 0.8, (hit, time.time() - t_restart)
    # the parallel path never stopped: every block of it carries the oscillator
    peaks = np.abs(gain[2 * lat: n - n % bs].reshape(-1, bs)).max(axis=1)
    assert peaks.min() > 0.1, peaks.min()


# ---- live: a late chunk is silence, never a blocked callback ---------------------------------


@pytest.mark.parametrize("worker", ["thread", "process"])
def test_late_chunk_is_silence_and_counted_and_the_callback_never_waits(worker):
    """A model that sleeps 50 ms per 256-sample chunk (5.3 ms of audio) at block 64: every
    chunk is late. The engine's callback, called at real-time pace, stays far below the
    model's time, plays silence for the lane and counts the late chunks; the slow (but
    working) worker is not reported as hung."""
    bs, chunk, sleep_ms = 64, 256, 50.0
    board = create_shm(1 << 16)
    board.buf[:16] = bytes(16)
    config = EngineConfig(sample_rate=SR, block_size=bs, backend="offline", in_channels=1, out_channels=1,
                          registry=REGISTRY)
    server = EngineServer(config, queue.Queue(), queue.Queue(), board.name)
    try:
        server._cmd_load(graph_to_dict(parallel_patch(chunk=chunk, worker=worker, behaviour="slow",
                                                      sleep_ms=sleep_ms)))
        server._warm_up()                     # as a start does: first calls happen here
        sched = server.runtime.schedule
        (lane,) = lanes_of(sched)
        assert lane.realtime
        lane_out = sched.out_buffers[("lane", "out")]
        gain_out = sched.out_buffers[("gain", "out")]
        indata = np.zeros((bs, 1), np.float32)
        outdata = np.zeros((bs, 1), np.float32)
        flags = server.stream.flags
        period = bs / SR
        blocks = int(1.5 / period)
        durations = np.zeros(blocks)
        lane_peak = gain_peak = 0.0
        next_t = time.perf_counter()
        next_housekeeping = next_t
        for b in range(blocks):
            now = time.perf_counter()
            if now < next_t:
                time.sleep(next_t - now)
            t0 = time.perf_counter()
            server._callback(indata, outdata, bs, None, flags)
            durations[b] = time.perf_counter() - t0
            lane_peak = max(lane_peak, float(np.abs(lane_out).max()))
            gain_peak = max(gain_peak, float(np.abs(gain_out).max()))
            next_t += period
            if t0 >= next_housekeeping:       # the control loop's check, every 50 ms
                server._housekeeping()
                next_housekeeping = t0 + 0.05
        lat = buffer_latency(chunk, bs)
        due = (blocks * bs - lat) // chunk    # chunks whose output was due
        assert lane_peak == 0.0                                   # late: silence
        assert 0.9 * due <= lane.late_chunks <= due + 1, (lane.late_chunks, due)
        assert gain_peak > 0.1                                    # the rest plays on
        assert durations.max() < 0.4 * sleep_ms * 1e-3, durations.max()
        assert np.median(durations) < 0.1 * sleep_ms * 1e-3
        server._housekeeping()
        assert server.errors() == {}                              # slow is not hung
    finally:
        server._shutdown()
        board.close()
        board.unlink()


# ---- JACK: killing a process worker never stops the stream -----------------------------------


@pytest.mark.jack
def test_jack_stream_keeps_running_while_a_process_worker_is_killed(jack_server, jack_probe, tmp_path):
    marker = str(tmp_path / "lane")
    graph = parallel_patch(source="in", chunk=512, worker="process", marker=marker)
    sig = (np.random.default_rng(5).standard_normal(3 * JACK_RATE) * 0.1).astype(np.float32)
    with EngineClient(mode="process", block_size=256, in_channels=1, out_channels=1,
                      registry=REGISTRY) as client:
        client.load(graph)
        client.start()
        client.sync()
        jack_probe.wire()
        pid = read_pid(marker)
        time.sleep(0.3)
        m0 = client.meters()
        t0 = time.monotonic()
        jack_probe.signal = sig
        jack_probe.recorded = np.zeros(sig.size, np.float32)
        jack_probe._t0 = jack_probe.start_time()
        time.sleep(1.2)
        t_kill = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        m = wait_for(lambda: reported(client, "lane"), 5.0)
        t_report = time.monotonic()
        jack_probe.wait_until_recorded()
        time.sleep(0.15)                  # one more meter publication
        m1 = client.meters()
        elapsed = time.monotonic() - t0
    print(f"xruns before the kill {m0['xruns']}, after {m1['xruns']}; blocks {m0['blocks']} -> "
          f"{m1['blocks']} in {elapsed:.2f} s; load peak {m1['load_peak']:.2f}")
    assert m, "the killed worker was never reported"
    assert "exit code -9" in m["errors"]["lane"] and "bypassed" in m["errors"]["lane"]
    assert t_report - t_kill < 1.0
    assert m1["running"] and not m1["stream_error"]
    # the callback kept running at the stream's pace through the kill
    assert m1["blocks"] - m0["blocks"] > 0.8 * (elapsed - 0.2) * JACK_RATE / 256
    lat = m1["latency_samples"]
    out = jack_probe.recorded[lat:]
    k = out.size
    # before the kill both paths play: (0.5 + 0.501) x the input, unless a chunk was late
    early = slice(JACK_RATE // 4, JACK_RATE)
    both = np.isclose(out[early], sig[:k][early] * (HALF + GAIN_6DB), atol=1e-5, rtol=0)
    assert np.mean(both) > 0.5, np.mean(both)
    # well after the kill only the parallel gain path is left, and it never stopped
    # (without realtime scheduling an xrun drops whole periods to silence: tolerated, never
    # a wrong sample; the probe's last periods may stop early: leave 4 out)
    tail = slice(int(2.4 * JACK_RATE), k - 4 * 256)
    want = sig[:k][tail] * GAIN_6DB
    close = np.isclose(out[tail], want, atol=1e-5, rtol=0)
    assert np.all(close | (out[tail] == 0.0)), "a wrong (not silent) sample after the kill"
    assert np.mean(close) > 0.5, np.mean(close)


# ---- nothing is left behind ------------------------------------------------------------------


def test_render_leaves_no_worker_process_thread_or_shared_memory_file():
    x = (np.random.default_rng(1).standard_normal((1, SR // 4)) * 0.3).astype(np.float32)
    g = Graph(settings={"sample_rate": SR, "block_size": 256})
    g.apply(AddNode(new_node_spec("io.audio_in", "in", REG)))
    for nid, worker in (("a", "process"), ("b", "thread")):
        g.apply(AddNode(new_node_spec("test.lane_gain", nid, REG, {"worker": worker})))
        g.apply(Connect(Edge("in", "out", nid, "in")))
    g.apply(AddNode(new_node_spec("io.audio_out", "out", REG)))
    g.apply(Connect(Edge("a", "out", "out", "in")))
    g.apply(Connect(Edge("b", "out", "out", "in")))
    threads_before = len(lane_threads())
    sched = compile_graph(g, REG, SR, 256, in_channels=1)
    (a, b) = (s.lane.worker for s in sched.node_steps if s.lane is not None)
    pid = a.pid
    files = wait_for(lambda: mapped_lane_files(pid), 30.0)
    assert files and all(f.startswith("/dev/shm/neuropatch-lane-") for f in files)
    assert len(lane_threads()) == threads_before + 1
    y, _ = render(g, x, registry=REG, schedule=sched)
    np.testing.assert_array_equal(y, x * HALF * 2)
    assert not alive(pid)
    assert pid not in [p.pid for p in multiprocessing.active_children()]
    assert not any(os.path.exists(f) for f in files)
    assert wait_for(lambda: len(lane_threads()) == threads_before, 2.0)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_closing_the_engine_leaves_no_worker_process_or_shared_memory_file(tmp_path, mode):
    """Engine in a thread (lane workers are our children) or in its own process (they are
    its children): after close, the worker is gone and so is its shared-memory file."""
    marker = str(tmp_path / "lane")
    client = EngineClient(mode=mode, backend="offline", block_size=256, in_channels=1, out_channels=1,
                          registry=REGISTRY)
    try:
        client.load(parallel_patch(chunk=512, worker="process", marker=marker))
        client.sync()
        pid = read_pid(marker)
        files = wait_for(lambda: mapped_lane_files(pid), 10.0)
        assert files
        out = client.pump(20)
        assert np.max(np.abs(out)) > 0.05
    finally:
        client.close()
    assert wait_for(lambda: not alive(pid), 5.0)
    assert not any(os.path.exists(f) for f in files)
    if mode == "thread":
        assert pid not in [p.pid for p in multiprocessing.active_children()]


def test_engine_process_killed_leaves_no_worker_process_or_shared_memory_file(tmp_path):
    """No orphans: the worker reads end-of-file on its wake-up pipe when the engine's process
    dies, and the shared-memory file has no name left once both sides mapped it."""
    marker = str(tmp_path / "lane")
    client = EngineClient(mode="process", backend="offline", block_size=256, in_channels=1, out_channels=1,
                          registry=REGISTRY)
    try:
        client.load(parallel_patch(chunk=512, worker="process", marker=marker))
        client.sync()
        pid = read_pid(marker)
        files = wait_for(lambda: mapped_lane_files(pid), 10.0)
        assert files
        assert np.max(np.abs(client.pump(20))) > 0.05
        os.kill(client.engine_pid, signal.SIGKILL)
        assert wait_for(lambda: not alive(pid), 5.0)
        assert not any(os.path.exists(f) for f in files)
    finally:
        client.close()
