"""Run a batch: plan the items, resume from an earlier report, render them on a backend.

Backends:

``local``
    a pool of worker processes (spawned); each loads the patch and its models once and
    renders many files, writing their outputs itself. Workers die with the driver (Linux
    parent-death signal), so a killed batch leaves no process behind.
``ray``
    Ray actors (``pip install 'neuropatch[ray]'``): the patch travels as a bundle put in the
    object store once; each actor unpacks it into its bundle cache and loads the models once;
    input files go to the actors as bytes and the outputs come back as they finish, so
    the actors need no shared file system.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .batch_plan import BatchItem, combos, expand_inputs, parse_sets, plan
from .batch_render import ItemResult, PatchRenderer, stored_outputs
from .batch_report import BatchReport, commit
from .bundle_cache import is_bundle, patch_file
from .compiler import compile_graph
from .errors import NeuropatchError
from .patch import load_patch
from .parent_death import die_with_parent
from .registry import default_registry
from .resources import sha256_file

BACKENDS = ("local", "ray")


@dataclass
class BatchOptions:
    patch: str
    inputs: list
    out_dir: Path
    workers: int = 1
    backend: str = "local"
    ray_address: str | None = None
    sets: tuple = ()
    overwrite: bool = False


class Batch:
    """A planned batch. ``run(on_item)`` renders what is left; ``report`` has the outcome."""

    def __init__(self, opts: BatchOptions):
        if opts.backend not in BACKENDS:
            raise NeuropatchError(f"--backend {opts.backend}: expected one of {', '.join(BACKENDS)}")
        if opts.workers < 1:
            raise NeuropatchError(f"--workers {opts.workers}: expected 1 or more")
        self.opts = opts
        registry = default_registry()
        path = patch_file(opts.patch)
        graph = load_patch(path, registry)
        base_dir = path.resolve().parent
        # refuse what cannot run (untrusted TorchScript, missing models) before any worker starts
        check = compile_graph(graph, registry, base_dir=base_dir, check_only=True)
        if check.errors:
            nid, msg = next(iter(check.errors.items()))
            raise NeuropatchError(f"{opts.patch}: node '{nid}': {msg}")
        self.suffixes = [suffix for suffix, _ in stored_outputs(check.node_steps)]
        if not self.suffixes:
            raise NeuropatchError(f"{opts.patch}: the patch has no output to store (add an audio "
                                  "output, a recorder or an npy output node)")
        self.items = plan(expand_inputs(list(opts.inputs)), combos(parse_sets(list(opts.sets), graph, registry)))
        self.out_dir = Path(opts.out_dir)
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise NeuropatchError(f"--out {self.out_dir}: is a file; name a folder")
        self.report = BatchReport(self.out_dir, opts.patch, sha256_file(opts.patch), opts.backend,
                                  self.items, overwrite=opts.overwrite)
        self.report.sweep_partials()
        self.todo = []
        for item in self.report.todo():
            names = self.output_names(item)
            fresh = item.key not in self.report.known
            if fresh and not opts.overwrite and any((self.out_dir / n).exists() for n in names):
                self.report.claim_existing(item, names)
            else:
                self.todo.append(item)
        self.report.write()

    def output_names(self, item: BatchItem) -> list[str]:
        return [item.output_name(s) for s in self.suffixes]

    def run(self, on_item=None) -> BatchReport:
        """Render every item left to do; `on_item(report entry)` after each. Ctrl-C stops the
        workers and keeps what finished (the next run resumes)."""
        try:
            if not self.todo:
                return self.report
            runner = _run_local if self.opts.backend == "local" else _run_ray
            jobs = [(item, self.report.entries[item.key]["attempts"]) for item in self.todo]
            for entry in runner(self, jobs):
                entry = self.report.finished(entry)
                if on_item is not None:
                    on_item(entry)
            return self.report
        finally:
            self.report.close()


def finish_item(out_dir: Path, item: BatchItem, attempts: int, result: ItemResult) -> dict:
    """Store `result` (its files and its journal line, see :func:`commit`); its report entry."""
    files = {item.output_name(suffix): data for suffix, data in result.outputs.items()}
    entry = {**result.record(), "outputs": sorted(files), "attempts": attempts + 1}
    commit(out_dir, entry, files)
    return entry


# ---- local backend -------------------------------------------------------------------------

_worker: PatchRenderer | None = None
_worker_out: Path | None = None


def _init_local_worker(patch: str, out_dir: str, parent_pid: int) -> None:
    global _worker, _worker_out
    die_with_parent(parent_pid)
    _worker = PatchRenderer(patch)
    _worker_out = Path(out_dir)


def _render_local(item: BatchItem, attempts: int) -> dict:
    return finish_item(_worker_out, item, attempts, _worker.render_file(item))


def _run_local(batch: Batch, jobs: list):
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    pending = list(jobs)
    while pending:
        workers = min(batch.opts.workers, len(pending))
        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                   initializer=_init_local_worker,
                                   initargs=(str(batch.opts.patch), str(batch.out_dir), os.getpid()))
        futures = {}
        queue = list(pending)
        pending = []
        try:
            while queue or futures:
                while queue and len(futures) < 2 * workers:  # a short queue: Ctrl-C stops fast
                    job = queue.pop(0)
                    futures[pool.submit(_render_local, *job)] = job
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for fut in done:
                    job = futures.pop(fut)
                    try:
                        yield fut.result()
                    except BrokenProcessPool:
                        # a worker died (crash in native code, killed): fail the items in flight,
                        # start a fresh pool for the rest
                        for item, attempts in [job, *futures.values()]:
                            died = ItemResult(item.key, "failed",
                                              error="the worker process died while rendering this file")
                            yield finish_item(batch.out_dir, item, attempts, died)
                        futures.clear()
                        pending, queue = queue, []
                        break
        finally:
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.kill()  # Ctrl-C or an error: do not wait for files in flight
            pool.shutdown(wait=True, cancel_futures=True)


# ---- Ray backend ---------------------------------------------------------------------------

class RayBatchActor:
    """A Ray actor: unpacks the patch bundle (bytes from the object store) once, then renders
    files sent as bytes and returns the encoded outputs."""

    def __init__(self, bundle_bytes: bytes):
        import tempfile

        from .bundle_cache import bundle_cache_dir

        root = bundle_cache_dir()
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, suffix=".npbundle", delete=False) as f:
            f.write(bundle_bytes)
        try:
            self.renderer = PatchRenderer(f.name)
        finally:
            os.unlink(f.name)

    def render(self, item: BatchItem, data: bytes | None, read_error: str | None) -> ItemResult:
        if read_error is not None:
            return ItemResult(item.key, "failed", error=read_error)
        return self.renderer.render_file(item, data)


def _read_bytes(item: BatchItem):
    try:
        return item.input.path.read_bytes(), None
    except OSError as exc:
        return None, f"{item.input.path}: {'no such audio file' if isinstance(exc, FileNotFoundError) else exc.strerror or exc}"


def _bundle_bytes(patch: str) -> bytes:
    if is_bundle(patch):
        return Path(patch).read_bytes()
    import tempfile

    from .bundle import write_bundle

    with tempfile.TemporaryDirectory(prefix="np-batch-") as tmp:
        out = Path(tmp) / "patch.npbundle"
        write_bundle(patch, out)
        return out.read_bytes()


def _run_ray(batch: Batch, jobs: list):
    try:
        import ray
        from ray.util import ActorPool
    except ImportError:
        raise NeuropatchError("--backend ray needs Ray: pip install 'neuropatch[ray]'") from None
    import logging

    started = not ray.is_initialized()
    if started:
        quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
        if batch.opts.ray_address:
            ray.init(address=batch.opts.ray_address, **quiet)
        else:
            ray.init(num_cpus=batch.opts.workers, include_dashboard=False, **quiet)
    try:
        bundle_ref = ray.put(_bundle_bytes(batch.opts.patch))
        actor_cls = ray.remote(num_cpus=1)(RayBatchActor)
        n = min(batch.opts.workers, len(jobs))
        pool = ActorPool([actor_cls.remote(bundle_ref) for _ in range(n)])
        results = pool.map_unordered(lambda actor, job: actor.render.remote(job[0], *_read_bytes(job[0])), jobs)
        attempts = {item.key: (item, a) for item, a in jobs}
        for result in results:  # the outputs come back as bytes: stored here
            yield finish_item(batch.out_dir, *attempts[result.key], result)
    finally:
        if started:
            ray.shutdown()
