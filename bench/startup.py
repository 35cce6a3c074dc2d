"""Start-up benchmark: what a first run costs (numba compiling kernels) and what a warm one costs.

Every job runs in a fresh Python process, first with an empty ``NUMBA_CACHE_DIR`` (a new temp
folder per run: "cold"), then again with the folder the cold run filled ("warm"):

- ``readme``: the README's main job, ``neuropatch render patches/amp_sim.json --in
  assets/guitar_di_demo.flac --out OUT.wav`` (wall time of the whole process);
- ``patch:<name>``: each example patch in ``patches/``, rendered for ``--seconds`` (with the
  demo guitar as ``--in`` when the patch has an ``io.audio_in``);
- ``add:<type>``: adding one node of each registered type to a running live engine
  (``EngineClient`` in thread mode on the offline backend, the graph ``in -> out`` already
  running): the time from ``apply(AddNode + Connect)`` until the engine has compiled the new
  schedule (``sync``) and run its first block (``pump(1)``): the node is playing. For most
  nodes every kernel they call has been compiled or loaded from the cache by then; a node
  with an interim path (``Node.start_interim``: a WaveNet amp) plays through it while its
  kernels compile in a background thread, and "compiled kernels running after" is the time
  until that thread has finished and one more block has run.

Each child process records numba's ``numba:compile`` events (self time: a kernel's own
compile, not the callees compiled inside it) and the time spent loading cached kernels, so
the large costs are visible per kernel (kernels compiled by the warm-up's own child
processes, engine/warm_parallel.py, are not in that list). Numbers are best of N
(``--repeat``). ``NEUROPATCH_COMPILE_WORKERS`` is passed on to the jobs (0: no warm-up
children; unset: one per idle core).

Run (from the repository root)::

    .venv/bin/python bench/startup.py                      # everything
    .venv/bin/python bench/startup.py --jobs readme add:amp.nam:wavenet --repeat 3
    .venv/bin/python bench/startup.py --list               # job names
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_IN = REPO / "assets" / "guitar_di_demo.flac"
#: node types added with a specific resource; ``add:amp.nam`` uses the LSTM of the README patch
AMP_MODELS = {"amp.nam": REPO / "assets" / "amp" / "fluid_crunch.nam",
              "amp.nam:wavenet": REPO / "tests" / "nodes" / "data" / "amp" / "wavenet_07.nam"}


# ---- child side: one job in this process, with numba's compile events recorded -------------------


class CompileRecorder:
    """Collects ``numba:compile`` events (self seconds per kernel and signature) and the time
    spent loading kernels from the on-disk cache."""

    def __init__(self):
        self.compiled: list = []     # (kernel, signature, self seconds, inclusive seconds)
        self.loaded: dict = {}       # kernel -> seconds spent loading it from the cache
        self._stack: list = []

    def install(self) -> None:
        import numba.core.caching as caching
        import numba.core.event as ev

        recorder = self

        class Listener(ev.Listener):
            def on_start(self, event):
                recorder._stack.append([time.perf_counter(), 0.0])

            def on_end(self, event):
                t0, children = recorder._stack.pop()
                total = time.perf_counter() - t0
                if recorder._stack:
                    recorder._stack[-1][1] += total
                disp = event.data["dispatcher"]
                name = f"{disp.py_func.__module__}.{disp.py_func.__qualname__}"
                sig = ", ".join(str(a) for a in event.data["args"])
                recorder.compiled.append((name, sig, total - children, total))

        ev.register("numba:compile", Listener())
        original = caching.Cache.load_overload

        def timed_load(cache, sig, target_context):
            t0 = time.perf_counter()
            try:
                return original(cache, sig, target_context)
            finally:
                func = cache._py_func
                name = f"{func.__module__}.{func.__qualname__}"
                recorder.loaded[name] = recorder.loaded.get(name, 0.0) + time.perf_counter() - t0

        caching.Cache.load_overload = timed_load

    def report(self) -> dict:
        return {"compiled": self.compiled, "loaded": self.loaded}


def child_cli(argv: list) -> dict:
    from neuropatch.app.cli import main

    rc = main(argv)
    return {"rc": rc}


def child_add_node(type_id: str, model: str | None) -> dict:
    """Time adding `type_id` to a running engine (see the module docstring)."""
    from neuropatch.engine import AddNode, Batch, Connect, Edge, Graph, default_registry, new_node_spec
    from neuropatch.engine.live import EngineClient

    registry = default_registry()
    cls = registry.resolve(type_id)
    setup = cls.contract_setup(Path(tempfile.mkdtemp(prefix="np-startup-"))) or {}
    resources = dict(setup.get("resources") or {})
    if model:
        resources["model"] = model
    g = Graph()
    g.apply(AddNode(new_node_spec("io.audio_in", "in")))
    g.apply(AddNode(new_node_spec("io.audio_out", "out")))
    g.apply(Connect(Edge("in", "out", "out", "in")))
    with EngineClient(mode="thread", backend="offline", block_size=256, in_channels=1,
                      out_channels=1) as client:
        client.load(g)
        client.sync()
        client.pump(4)
        spec = new_node_spec(type_id, "new", params=setup.get("params") or {})
        for name, path in resources.items():
            spec.resources[name] = {"path": str(path)}
        commands = [AddNode(spec)]
        audio_inputs = [p.name for p in cls.inputs if p.kind in ("audio", "any")]
        if audio_inputs:
            commands.append(Connect(Edge("in", "out", "new", audio_inputs[0])))
        t0 = time.perf_counter()
        client.apply(Batch(commands))
        client.sync(timeout=600)
        t_compiled = time.perf_counter()
        client.pump(1, timeout=600)
        t_first = time.perf_counter()
        # a node with an interim path plays at once while its kernels compile in a thread
        for thread in [t for t in threading.enumerate() if t.name.startswith("neuropatch-compile-")]:
            thread.join(600)
        client.pump(1, timeout=600)
        t_kernels = time.perf_counter()
        meters = client.meters()
    return {"add_s": t_first - t0, "schedule_s": t_compiled - t0, "first_block_s": t_first - t_compiled,
            "kernels_s": t_kernels - t0,
            "errors": meters.get("errors") or {}, "compile_error": meters.get("compile_error")}


def child_main(job: dict, out_path: str) -> None:
    recorder = CompileRecorder()
    recorder.install()
    t0 = time.perf_counter()
    if job["kind"] == "cli":
        result = child_cli(job["argv"])
    else:
        result = child_add_node(job["type"], job.get("model"))
    result["in_process_s"] = time.perf_counter() - t0
    result.update(recorder.report())
    Path(out_path).write_text(json.dumps(result))
    if job["kind"] == "cli":     # end as the `neuropatch` command does (app.cli.run)
        from neuropatch.app.cli import exit_now

        exit_now(0)


# ---- parent side ---------------------------------------------------------------------------------


def patch_jobs(seconds: float) -> dict:
    jobs = {}
    for path in sorted((REPO / "patches").glob("*.json")):
        doc = json.loads(path.read_text())
        argv = ["render", str(path), "--seconds", str(seconds), "--out", "OUT", "-q"]
        if any(n.get("type") == "io.audio_in" for n in doc.get("nodes", [])):
            argv += ["--in", str(DEMO_IN)]
        jobs[f"patch:{path.stem}"] = {"kind": "cli", "argv": argv}
    return jobs


def all_jobs(seconds: float) -> dict:
    jobs = {"readme": {"kind": "cli", "argv": ["render", str(REPO / "patches" / "amp_sim.json"),
                                               "--in", str(DEMO_IN), "--out", "OUT"]}}
    jobs.update(patch_jobs(seconds))
    sys.path.insert(0, str(REPO))
    from neuropatch.engine import default_registry

    for type_id in default_registry().types():
        if type_id.startswith("sys."):
            continue   # subpatch plumbing: no kernels
        jobs[f"add:{type_id}"] = {"kind": "add", "type": type_id}
    jobs["add:amp.nam"]["model"] = str(AMP_MODELS["amp.nam"])
    jobs["add:amp.nam:wavenet"] = {"kind": "add", "type": "amp.nam", "model": str(AMP_MODELS["amp.nam:wavenet"])}
    return jobs


def run_child(job: dict, cache_dir: str, workdir: str) -> dict:
    job = dict(job)
    if job["kind"] == "cli":
        job["argv"] = [str(Path(workdir) / "out.wav") if a == "OUT" else a for a in job["argv"]]
    out_path = Path(workdir) / "result.json"
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, QT_QPA_PLATFORM="offscreen")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(job), str(out_path)],
                          cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not out_path.exists():
        raise RuntimeError(f"child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    result = json.loads(out_path.read_text())
    result["wall_s"] = wall
    result["stderr"] = proc.stderr
    return result


def measure(name: str, job: dict, repeat: int) -> dict:
    """Best-of-`repeat` cold and warm runs of one job; the compile records of the best cold run."""
    colds, warms = [], []
    with tempfile.TemporaryDirectory(prefix="np-startup-work-") as work:
        for _ in range(repeat):
            with tempfile.TemporaryDirectory(prefix="np-numba-cold-") as cache:
                colds.append(run_child(job, cache, work))
                if len(colds) == repeat:     # the last cold cache serves the warm runs
                    for _ in range(repeat):
                        warms.append(run_child(job, cache, work))
    key = "add_s" if job["kind"] == "add" else "wall_s"
    cold = min(colds, key=lambda r: r[key])
    warm = min(warms, key=lambda r: r[key])
    return {"name": name, "metric": key, "cold": cold, "warm": warm,
            "cold_all": [r[key] for r in colds], "warm_all": [r[key] for r in warms]}


def kernel_table(result: dict, top: int) -> list:
    """(kernel, signatures, self seconds) in the run, largest first."""
    per: dict = {}
    for name, sig, self_s, _ in result["compiled"]:
        n, s = per.get(name, (0, 0.0))
        per[name] = (n + 1, s + self_s)
    rows = sorted(((k, n, s) for k, (n, s) in per.items()), key=lambda r: -r[2])
    return rows[:top] if top else rows


def print_result(m: dict, top: int) -> None:
    cold, warm = m["cold"], m["warm"]
    key = m["metric"]
    compiled = sum(r[2] for r in cold["compiled"])
    loaded = sum(warm["loaded"].values())
    extra = ""
    if key == "add_s":
        extra = (f"  [cold: schedule {cold['schedule_s']:.2f} s + first block {cold['first_block_s']:.2f} s; "
                 f"compiled kernels running after {cold['kernels_s']:.2f} s (warm {warm['kernels_s']:.2f} s)]"
                 + (f"  errors: {cold['errors']}" if cold["errors"] else "")
                 + (f"  compile_error: {cold['compile_error']}" if cold["compile_error"] else ""))
    print(f"{m['name']:<28} cold {cold[key]:6.2f} s  warm {warm[key]:6.2f} s   "
          f"(cold: {len(cold['compiled'])} compiles, {compiled:.2f} s self; warm: cache loads "
          f"{loaded:.2f} s; all cold {['%.2f' % v for v in m['cold_all']]}, "
          f"warm {['%.2f' % v for v in m['warm_all']]}){extra}", flush=True)
    for kernel, n, s in kernel_table(cold, top):
        if s >= 0.05:
            print(f"    {s:6.2f} s  {n} sig  {kernel}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", nargs="*", help="job names or prefixes (readme, patch:, add:, add:amp.nam)")
    ap.add_argument("--repeat", type=int, default=3, help="best of N for cold and for warm runs")
    ap.add_argument("--seconds", type=float, default=3.0, help="seconds rendered per example patch")
    ap.add_argument("--top", type=int, default=12, help="kernels listed per job (0: all)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--json", help="write every result to this file")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child_main(json.loads(args.child[0]), args.child[1])
        return 0
    jobs = all_jobs(args.seconds)
    if args.list:
        print("\n".join(jobs))
        return 0
    wanted = [n for n in jobs if not args.jobs or any(n == j or (j.endswith(":") and n.startswith(j))
                                                       for j in args.jobs)]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, best of {args.repeat}, "
          f"load average {os.getloadavg()[0]:.2f}, NEUROPATCH_COMPILE_WORKERS="
          f"{os.environ.get('NEUROPATCH_COMPILE_WORKERS', '(unset: one child per idle core)')}")
    results = []
    for name in wanted:
        m = measure(name, jobs[name], args.repeat)
        print_result(m, args.top)
        print(f"    (load average after it: {os.getloadavg()[0]:.2f})")
        results.append(m)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
