"""vae.rave in the inference lane: offline overhead against a direct torch call, and live
behaviour on a JACK dummy server.

Model: assets/vae/tiny_rave.safetensors, or (when it is not there) a randomly initialised
model of the same architecture (``build_model(default_config())``, torch seed 0) saved to
a temporary folder (also when the shipped file does not load with the current code).
Compute cost does not depend on the weights. ``--model-format ts`` runs the model's
TorchScript export instead (made at start, trusted in a private trust store): the same
scripted module, but later edits of the model's Python code cannot change a long run.

Offline: 20 s of 48 kHz mono (harmonic tone with vibrato + noise) rendered through
``vae.rave`` (mode ``forward``, and ``encode`` -> ``decode`` as two nodes) by
``neuropatch.engine.render`` at block 256 with chunk 2048, thread and process workers,
against the same scripted model (``load_convention_model``) called directly on the same
audio in the same chunks (caches zeroed first: exactly the chunks the lane computes).
torch uses one thread on both sides. Best of ``--repeats``, the three interleaved. Wall =
render or call time; CPU = CPU seconds of this process plus the worker processes during
the render (a render with two workers can overlap them on two cores, so wall can beat the
direct call while CPU cannot). The node's model calls are timed inside the worker
(:func:`timed_chunk_model`), so a render splits into model calls and the node's overhead
around them (runtime, lane, waiting) within one run. The render's output is checked
against the direct output.

Live: a private JACK dummy server (48 kHz, 256-sample periods, started here; jackd2
realtime mode, its default), the engine in its own process at block 256, patch
``in -> vae.rave (forward, chunk 2048) -> out`` plus a dry ``in -> util.gain (-6 dB) -> out``
that the compiler delays by the lane's latency. A JACK client plays ``--live-seconds`` of
low-level noise with a click every 0.5 s into the engine's input and records its output.

- xruns/min: the engine's count (PortAudio flags, raised for every xrun JACK reports)
  and jackd's own reports split by late client; late chunks from the engine's meters.
- round trip: each click's position in the recording minus its position in the played
  signal, minus the device latency the engine reports = measured graph latency, vs the
  graph latency the engine reports (the click comes through the dry path, which the
  compiler delays by the reported lane latency).
- lane delay: taps on the engine's input and the model's output (same sample clock); the
  direct scripted model on the tapped input, matched against the tapped output (exact
  512-sample signatures: the model's response to silence repeats every frame, so
  correlation would be ambiguous), gives the measured model-path delay; chunks
  bit-identical to the direct call are counted.

    unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; OMP_NUM_THREADS=1 python bench/vae.py [--model-format ts]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SR = 48000
CHUNK = 2048
BLOCK = 256
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---- model and audio --------------------------------------------------------------------


def model_file(tmp: Path) -> tuple[Path, str]:
    """The shipped model when the current code loads it, else a random-init one (saved to tmp)."""
    import torch

    from neuropatch.engine.errors import NeuropatchError
    from neuropatch.nodes.vae.convention_model import build_model, default_config, load_model, save_model

    shipped = ROOT / "assets" / "vae" / "tiny_rave.safetensors"
    why = "assets/vae/tiny_rave.safetensors missing"
    if shipped.is_file():
        try:
            model, config = load_model(shipped)
            return shipped, f"assets/vae/tiny_rave.safetensors ({_size(model)}, ratio {config['ratio']})"
        except NeuropatchError as exc:
            why = f"assets/vae/tiny_rave.safetensors does not load with the current code: {exc}"
    torch.manual_seed(0)
    config = default_config()
    model = build_model(config)
    weights, _ = save_model(model, config, tmp / "tiny_rave")
    return weights, f"random-init default_config() ({_size(model)}, ratio {config['ratio']}); {why}"


def as_torchscript(weights: Path, tmp: Path) -> Path:
    """The scripted model saved as a TorchScript file and trusted in a private trust store
    (this process and its children only): the run then no longer depends on the model's
    Python code, which may change under a long run."""
    import torch

    from neuropatch.engine.trust import trust
    from neuropatch.nodes.vae.convention_model import load_convention_model

    ts = tmp / "tiny_rave.ts"
    torch.jit.save(load_convention_model(weights), str(ts))
    os.environ["NEUROPATCH_TRUST_FILE"] = str(tmp / "trusted_models.json")
    trust(ts)
    return ts


def load_scripted(path: Path):
    """The scripted module the node runs: a .ts export, or load_convention_model(.safetensors)."""
    import torch

    if path.suffix == ".ts":
        return torch.jit.load(str(path), map_location="cpu")
    from neuropatch.nodes.vae.convention_model import load_convention_model

    return load_convention_model(path)


def _size(model) -> str:
    return f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M weights"


def test_audio(seconds: float) -> np.ndarray:
    """float32 [1, n]: a harmonic tone gliding 110-330 Hz with vibrato, plus noise."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SR)) / SR
    f = 110.0 * 3.0 ** (0.5 - 0.5 * np.cos(2 * np.pi * t / seconds)) * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 8)) * 0.2 * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t) ** 2)
    x = x + 0.02 * rng.standard_normal(t.size)
    return x.astype(np.float32)[None]


def direct_call(scripted, x: np.ndarray, mode: str, n_chunks: int) -> tuple[float, np.ndarray]:
    """The scripted model on `n_chunks` chunks of x (zero-padded), caches zeroed first.
    Returns (seconds, output float32 [1, n_chunks * CHUNK])."""
    import torch

    src = np.zeros((1, 1, n_chunks * CHUNK), np.float32)
    k = min(x.shape[1], src.shape[2])
    src[0, :, :k] = x[:, :k]
    out = np.zeros((1, n_chunks * CHUNK), np.float32)
    with torch.no_grad():          # streaming state: buffers named *cache / *pad (nn~ convention)
        for name, buf in scripted.named_buffers():
            if name.endswith(("cache", "pad")):
                buf.zero_()
    torch.manual_seed(0)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i in range(n_chunks):
            c = torch.from_numpy(src[:, :, i * CHUNK:(i + 1) * CHUNK])
            if mode == "forward":
                y = scripted.forward(c)
            else:
                y = scripted.decode(scripted.encode(c))
            out[:, i * CHUNK:(i + 1) * CHUNK] = y[0].numpy()
    return time.perf_counter() - t0, out


# ---- offline ----------------------------------------------------------------------------


def node_graph(path: Path, mode: str, worker: str, extra=()):
    from neuropatch.engine import Connect, Edge, Graph, AddNode, new_node_spec

    g = Graph(settings={"sample_rate": SR, "block_size": BLOCK})
    g.apply(AddNode(new_node_spec("io.audio_in", "in")))
    if mode == "forward":
        ids = [("rave", "forward")]
    else:
        ids = [("enc", "encode"), ("dec", "decode")]
    for nid, m in ids:
        g.apply(AddNode(new_node_spec("vae.rave", nid, params={"mode": m, "chunk": CHUNK, "worker": worker})))
        g.nodes[nid].resources["model"] = {"path": str(path)}
    g.apply(AddNode(new_node_spec("io.audio_out", "out")))
    chain = ["in"] + [nid for nid, _ in ids] + ["out"]
    for a, b in zip(chain, chain[1:]):
        g.apply(Connect(Edge(a, "out", b, "in")))
    for type_id, nid, params in extra:
        g.apply(AddNode(new_node_spec(type_id, nid, params=params)))
        g.apply(Connect(Edge("in", "out", nid, "in")))
        g.apply(Connect(Edge(nid, "out", "out", "in")))
    return g


def timed_chunk_model(config: dict):
    """Lane factory for the offline rows: vae.rave's own chunk model, with the CPU time of its
    model calls (``_call``: array conversions and the scripted method) added up in a small
    memory-mapped file in ``$NP_BENCH_CALLS`` (this process or a worker process), so a render
    splits into model calls and everything around them (lane, runtime, waiting)."""
    from neuropatch.nodes.vae.lane_model import RaveChunkModel

    class Timed(RaveChunkModel):
        def _call(self, x):
            t = time.thread_time()
            y = super()._call(x)
            self.acc[0] += time.thread_time() - t
            self.acc[1] += 1
            return y

    model = Timed.__new__(Timed)
    path = Path(os.environ["NP_BENCH_CALLS"]) / f"calls_{os.getpid()}_{time.monotonic_ns()}.f64"
    model.acc = np.memmap(path, np.float64, "w+", shape=(2,))
    Timed.__init__(model, config)
    model.acc[:] = 0.0          # not the warm-up call
    return model


def model_call_cpu() -> tuple[float, int]:
    """(CPU seconds, calls) of the timed model calls since the last read (files removed)."""
    total, calls = 0.0, 0
    for f in Path(os.environ["NP_BENCH_CALLS"]).glob("calls_*.f64"):
        acc = np.fromfile(f, np.float64)
        total, calls = total + float(acc[0]), calls + int(acc[1])
        f.unlink()
    return total, calls


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a live process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def render_node(path: Path, x: np.ndarray, mode: str, worker: str) -> dict:
    from neuropatch.engine import compile_graph, render

    graph = node_graph(path, mode, worker)
    sched = compile_graph(graph, None, SR, BLOCK, in_channels=1)
    pids = [s.lane.worker.pid for s in sched.node_steps if s.lane is not None and s.lane.worker.pid]
    marks = {}

    def progress(done, total):
        if done == 0 or done == total:      # workers are still running at both calls
            marks[done == total] = (time.perf_counter(), time.process_time(), sum(proc_cpu(p) for p in pids))

    y, sched = render(graph, x, registry=None, schedule=sched, progress=progress)
    (w0, c0, p0), (w1, c1, p1) = marks[False], marks[True]
    model_cpu, calls = model_call_cpu()
    return {"wall": w1 - w0, "cpu": (c1 - c0) + (p1 - p0), "model_cpu": model_cpu, "calls": calls, "out": y,
            "latency": sched.latency_samples,
            "errors": {s.node_id: s.node.error for s in sched.node_steps if s.node.error}}


def offline(path: Path, seconds: float, repeats: int) -> list:
    import tempfile

    import torch

    import neuropatch.nodes.vae.rave as rave
    from neuropatch.engine.lane import buffer_latency

    torch.set_num_threads(1)
    rave.FACTORY = "bench.vae:timed_chunk_model"      # spawned workers import it by name
    os.environ["NP_BENCH_CALLS"] = tempfile.mkdtemp(prefix="np_bench_vae_")
    x = test_audio(seconds)
    scripted = load_scripted(path)
    for mode in ("forward", "encode->decode"):   # TorchScript optimises a method over its first calls
        direct_call(scripted, x, mode, 8)
    rows = []
    for mode in ("forward", "encode->decode"):
        lat = buffer_latency(CHUNK, BLOCK) * (1 if mode == "forward" else 2)
        n_chunks = (x.shape[1] + lat) // CHUNK     # the full chunks a render submits
        best_direct, ref, best = float("inf"), None, {}
        # interleaved (direct, thread, process, direct, ...): a shared machine drifts
        for _ in range(repeats):
            t, ref = direct_call(scripted, x, mode, n_chunks)
            best_direct = min(best_direct, t)
            for worker in ("thread", "process"):
                r = render_node(path, x, mode, worker)
                if worker not in best or r["wall"] < best[worker]["wall"]:
                    best[worker] = r
        for worker in ("thread", "process"):
            r = best[worker]
            diff = float(np.max(np.abs(r["out"] - ref[:, :x.shape[1]])))
            rows.append({"mode": mode, "worker": worker, "direct": best_direct, "wall": r["wall"],
                         "cpu": r["cpu"], "model_cpu": r["model_cpu"], "calls": r["calls"], "seconds": seconds, "latency": r["latency"], "diff": diff,
                         "errors": r["errors"], "chunks": n_chunks})
    import shutil

    shutil.rmtree(os.environ.pop("NP_BENCH_CALLS"), ignore_errors=True)
    return rows


# ---- live -------------------------------------------------------------------------------


def click_signal(seconds: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    sig = (rng.standard_normal(int(seconds * SR)) * 0.01).astype(np.float32)
    clicks = np.arange(SR // 4, sig.size - SR // 4, SR // 2)
    sig[clicks] = 0.5
    return sig, clicks


def find_lag(y: np.ndarray, ref: np.ndarray, max_lag: int, start: int, length: int = 512) -> tuple[int, float]:
    """Where ref[start:start + length] reappears in y, searching lags 0..max_lag: (lag, max
    abs difference there). Exact matching, not correlation: the model's response to silence
    repeats every frame, so correlation peaks at every frame offset."""
    seg = ref[start:start + length]
    win = np.lib.stride_tricks.sliding_window_view(y[start:start + max_lag + length], length)
    err = np.abs(win - seg).max(axis=1)
    lag = int(np.argmin(err))
    return lag, float(err[lag])


def live(path: Path, seconds: float, worker: str, server) -> dict:
    import torch

    from neuropatch.engine.live import EngineClient
    from tests.engine.conftest import JackProbe

    graph = node_graph(path, "forward", worker, extra=[("util.gain", "dry", {"gain_db": -6.0})])
    sig, clicks = click_signal(seconds)
    cap = int((seconds + 3) * SR)
    with EngineClient(mode="process", block_size=BLOCK, in_channels=1, out_channels=1) as client:
        client.load(graph)
        tap_in = client.tap("in", "out", capacity_floats=cap)
        tap_out = client.tap("rave", "out", capacity_floats=cap)
        client.start(timeout=120)
        client.sync(timeout=120)
        probe = JackProbe(server.name, "np_bench_vae_probe")
        probe.wire()
        time.sleep(0.5)
        m0 = client.meters()
        log0 = server.log_offset()
        t0 = time.monotonic()
        rec = probe.play(sig, seconds + 0.5)
        elapsed = time.monotonic() - t0
        time.sleep(0.3)
        m1 = client.meters()
        jack_xruns = server.xruns(log0)
        probe.close()
        client.stop()
        x_in, y_out = tap_in.read()[0], tap_out.read()[0]
        dropped = tap_in.dropped + tap_out.dropped
    io = m1["io_latency_samples"]
    graph_lat = m1["graph_latency_samples"]
    if m1["errors"] or not graph_lat:
        raise RuntimeError(f"the model node failed in the live engine: {m1['errors']}")
    lags = [int(np.argmax(np.abs(rec[c:c + 4 * graph_lat]))) for c in clicks if c + 4 * graph_lat < rec.size]
    # the model path in stream time: the direct model on what the engine received
    torch.set_num_threads(1)
    scripted = load_scripted(path)
    n_chunks = x_in.size // CHUNK
    _, ref = direct_call(scripted, x_in[None], "forward", n_chunks)
    ref = ref[0]
    m = min(ref.size, y_out.size)
    # signature chunks well inside the run; the first one that is not silent (late) decides
    found = [find_lag(y_out[:m], ref[:m], 4 * graph_lat, k * CHUNK)
             for k in range(20, n_chunks - 20, max(1, (n_chunks - 40) // 8))]
    delay, match_err = min(found, key=lambda f: f[1])
    same = late = other = 0
    for k in range(n_chunks):
        got = y_out[delay + k * CHUNK: delay + (k + 1) * CHUNK]
        if got.size < CHUNK:
            break
        want = ref[k * CHUNK:(k + 1) * CHUNK]
        if np.array_equal(got, want):
            same += 1
        elif not np.any(got):
            late += 1
        else:
            other += 1
    lane = m1.get("lanes", {}).get("rave", {})
    minutes = elapsed / 60
    return {"worker": worker, "seconds": elapsed, "xruns": m1["xruns"] - m0["xruns"],
            "xruns_per_min": (m1["xruns"] - m0["xruns"]) / minutes,
            "jack_engine_late": sum(v for (client, _), v in jack_xruns.items() if "PortAudio" in client),
            "jack_other_late": sum(v for (client, _), v in jack_xruns.items() if "PortAudio" not in client),
            "jack_reports": dict(sorted((f"{client} {state}", v) for (client, state), v in jack_xruns.items())),
            "late_chunks": lane.get("late_chunks"), "load_avg": m1["load_avg"], "load_peak": m1["load_peak"],
            "io": io, "graph": graph_lat, "lane_reported": lane.get("buffer_latency", 0) + lane.get("model_delay", 0),
            "roundtrip": (min(lags), int(np.median(lags)), max(lags)), "clicks": len(lags),
            "lane_delay": delay, "match_err": match_err, "same": same, "late": late, "other": other, "dropped": dropped,
            "errors": m1["errors"], "audio_thread": m1.get("audio_thread")}


# ---- main -------------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"load average {load[0]:.2f} at start")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="offline audio length (s)")
    ap.add_argument("--repeats", type=int, default=5, help="offline: best of N")
    ap.add_argument("--live-seconds", type=float, default=60.0, help="live run per worker kind (s)")
    ap.add_argument("--skip-offline", action="store_true")
    ap.add_argument("--skip-live", action="store_true")
    ap.add_argument("--live-workers", nargs="+", default=["process", "thread"], choices=("process", "thread"),
                    help="live rows, in this order")
    ap.add_argument("--model-format", choices=("safetensors", "ts"), default="safetensors",
                    help="the file vae.rave loads: the .safetensors itself, or its TorchScript export "
                         "made at start (same scripted module; immune to edits of the model code mid-run)")
    args = ap.parse_args()
    import torch

    print(f"# {machine()}; torch {torch.__version__}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    with tempfile.TemporaryDirectory() as tmp:
        path, what = model_file(Path(tmp))
        if args.model_format == "ts":
            path = as_torchscript(path, Path(tmp))
            what += "; run as its TorchScript export"
        print(f"# model: {what}")
        if not args.skip_offline:
            rows = offline(path, args.seconds, args.repeats)
            print(f"\nOffline, {args.seconds:.0f} s at {SR} Hz, block {BLOCK}, chunk {CHUNK}, "
                  f"best of {args.repeats} (one torch thread)\n")
            print("| mode | worker | direct RTF | node RTF (wall) | vs direct (wall) | node CPU RTF "
                  "| vs direct (CPU) | model calls in the node, CPU RTF | node overhead: CPU outside the "
                  "model calls | graph latency | max diff vs direct |")
            print("|---|---|---|---|---|---|---|---|---|---|---|")
            for r in rows:
                s = r["seconds"]
                print(f"| {r['mode']} | {r['worker']} | {r['direct'] / s:.4f} | {r['wall'] / s:.4f} | "
                      f"{100 * (r['wall'] / r['direct'] - 1):+.1f}% | {r['cpu'] / s:.4f} | "
                      f"{100 * (r['cpu'] / r['direct'] - 1):+.1f}% | {r['model_cpu'] / s:.4f} | "
                      f"{100 * (r['cpu'] - r['model_cpu']) / r['model_cpu']:.1f}% | {r['latency']} | "
                      f"{r['diff']:.1e} |")
                if r["errors"]:
                    print(f"  errors: {r['errors']}")
        if not args.skip_live:
            from bench.jack_dummy import JackDummy

            results = []
            with JackDummy(f"np_bench_vae{os.getpid()}", rate=SR, period=BLOCK, realtime=True) as server:
                for worker in args.live_workers:
                    results.append(live(path, args.live_seconds, worker, server))
            print(f"\nLive, JACK dummy (jackd -R, {SR} Hz, period {BLOCK}), engine process, block {BLOCK}, "
                  f"vae.rave forward chunk {CHUNK}, {args.live_seconds:.0f} s per row\n")
            print("| worker | xruns/min (engine) | jackd: engine late / other late | late chunks "
                  "| load avg / peak | graph latency reported | measured (click - device) min/median/max "
                  "| device latency | lane delay reported / measured | chunks identical / silent / other |")
            print("|---|---|---|---|---|---|---|---|---|---|")
            for r in results:
                rt = r["roundtrip"]
                print(f"| {r['worker']} | {r['xruns_per_min']:.1f} | {r['jack_engine_late']} / "
                      f"{r['jack_other_late']} | {r['late_chunks']} | {100 * r['load_avg']:.1f}% / "
                      f"{100 * r['load_peak']:.1f}% | {r['graph']} | {rt[0] - r['io']} / {rt[1] - r['io']} / "
                      f"{rt[2] - r['io']} ({r['clicks']} clicks) | {r['io']} | {r['lane_reported']} / "
                      f"{r['lane_delay']} | {r['same']} / {r['late']} / {r['other']} |")
                if r["errors"] or r["dropped"]:
                    print(f"  errors: {r['errors']}; tap samples dropped: {r['dropped']}")
                print(f"  ({r['worker']}: {r['xruns']} engine xruns in {r['seconds']:.1f} s; audio thread "
                      f"{r['audio_thread']}; jackd reports by client and state: {r['jack_reports']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
