"""Compile a cold patch's kernels in several processes at once.

A first run (empty kernel cache) spends most of its start compiling numba kernels, one
after the other, on one core. When a schedule is warmed (its first block of silence, before
a render or before a live schedule reaches the audio side) and its kernels are not cached,
:func:`warm_steps` hands the heavier node types to child processes, warms the rest in this
process meanwhile, waits for the children, and then warms their nodes here too: their
kernels load from the cache the children filled (numba's on-disk cache, :mod:`.jit`).

- What goes where: node types declare a rough cold compile time of their kernels
  (:attr:`Node.compile_seconds`; 0, the default, keeps a type in this process). Types are
  spread over this process and the children, heaviest first, each to the least loaded
  (a child starts with :data:`CHILD_START_S` for its interpreter and imports). One node per
  type is warmed in a child: nodes of one type share their kernels.
- What a child runs: a fresh instance of the node (type, state, resource files), prepared
  with the input shapes the schedule gave it, called once on buffers of exactly the types
  the schedule binds (shape, dtype, read-only flag), so it compiles the same signatures.
- When: at least two node types whose kernels are not cached yet (a first run, or the first
  after an upgrade; see the markers below) and at least one child: one per idle core
  (:func:`default_workers`; a loaded machine compiles in this process alone).
  ``NEUROPATCH_COMPILE_WORKERS`` sets the number of children (0 turns this off).
- Failure costs time, never correctness: a child that cannot start, fails or runs past
  :data:`CHILD_TIMEOUT_S` is killed and ignored, and this process compiles what is still
  missing when it warms those nodes. Children die with this process
  (:mod:`.parent_death`) and are killed if the wait is interrupted.

Child: ``python -m neuropatch.engine.warm_parallel`` with the job as JSON on stdin.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from typing import Callable

import numpy as np

from .events import EventBuffer
from .streams import FrameBuffer, StreamSpec

#: seconds a child needs before it compiles anything (interpreter, numpy, numba, node imports)
CHILD_START_S = 1.0
#: children at most, whatever the CPU count
MAX_WORKERS = 3
#: a child still running after this long is killed (this process compiles its share)
CHILD_TIMEOUT_S = 600.0


def default_workers() -> int:
    """Child processes for a cold warm-up: ``NEUROPATCH_COMPILE_WORKERS`` when set, else the
    idle cores besides this process's own (CPU count - 1 - the 1-minute load average,
    plus a quarter, rounded up; at most the other cores and :data:`MAX_WORKERS`). Children
    on busy cores would only add their start and the kernels they compile twice (one FFT
    per child) to the work."""
    env = os.environ.get("NEUROPATCH_COMPILE_WORKERS", "").strip()
    if env:
        try:
            return max(0, int(env))
        except ValueError:
            pass
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        load = 0.0
    others = (os.cpu_count() or 1) - 1
    idle = others - load
    # a core counts as idle unless it was more than a quarter busy besides this run's own
    # work (back-to-back runs keep the load near 1 on their own): on 2 cores at load 0.9
    # one child cut a cold render by 18 %, at load 3-4 it only slowed it
    return max(0, min(MAX_WORKERS, others, math.ceil(idle + 0.25)))


def warm_steps(schedule, steps: list, warm_one: Callable, workers: int | None = None,
               always: bool = True) -> int:
    """Call ``warm_one(step)`` for every step of `steps` (node steps of `schedule`), having
    children compile the kernels of the heavier node types first when they are not cached
    yet (see the module docstring). Without `always`, nothing is called when there is
    nothing to spread. Returns the number of children that ran."""
    workers = default_workers() if workers is None else workers
    plan = _plan(schedule, steps, workers) if workers > 0 else None
    procs = _start_children(schedule, plan[1]) if plan is not None else []
    if not procs:       # nothing to spread, or no child could start: here, one after the other
        if always or plan is not None:
            for step in steps:
                warm_one(step)
        return 0
    local = plan[0]
    try:
        for step in steps:
            if type(step.node) in local:
                warm_one(step)
        _wait(procs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for step in steps:   # the children's node types: their kernels load from the cache now
        if type(step.node) not in local:
            warm_one(step)
    _mark_warmed(plan[2])
    return len(procs)


def _plan(schedule, steps: list, workers: int):
    """(node classes warmed here, [[task, ...] per child]) or None when there is nothing to
    spread."""
    first: dict = {}
    for step in steps:
        first.setdefault(type(step.node), step)
    weighted = sorted(((float(getattr(step.node, "compile_seconds", 0.0) or 0.0), cls.__qualname__, cls)
                       for cls, step in first.items()), key=lambda t: (-t[0], t[1]))
    folder = _marker_folder()
    if folder is None:
        return None     # nothing can be cached: children would compile for nothing
    tasks = []
    for weight, _, cls in weighted:
        if weight <= 0.0:
            continue
        task = _task(schedule, first[cls])
        if task is not None and not (folder / _task_key(task)).exists():
            tasks.append((weight, cls, task))
    if len(tasks) < 2:
        return None
    loads = [0.0] + [CHILD_START_S] * min(workers, len(tasks) - 1)
    bins: list = [[] for _ in loads]
    for weight, cls, task in tasks:
        i = min(range(len(loads)), key=lambda j: loads[j])
        loads[i] += weight
        bins[i].append((cls, task))
    remote_classes = {cls for b in bins[1:] for cls, _ in b}
    local = set(first) - remote_classes
    remote = [[task for _, task in b] for b in bins[1:] if b]
    if not remote:
        return None
    return local, remote, [task for _, _, task in tasks]


# A node type's kernels count as cached once a spread warm-up has compiled them: a marker per
# (type, resource files, buffer types) in the kernel cache's key folder, so an upgrade (a new
# key folder) starts cold again. A marker that is missing costs a child's start; one that is
# present though another param selects other kernels costs what a warm-up without children
# costs.


def _marker_folder():
    from .jit import cache_folder

    try:
        folder = cache_folder("neuropatch") / "warmed-types"
        folder.mkdir(exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


def _task_key(task: dict) -> str:
    import hashlib

    what = json.dumps([task["type"], task["resources"], task["ins"], task["outs"]], sort_keys=True)
    return hashlib.sha256(what.encode()).hexdigest()[:24]


def _mark_warmed(tasks: list) -> None:
    folder = _marker_folder()
    if folder is None:
        return
    for task in tasks:
        try:
            (folder / _task_key(task)).touch()
        except OSError:
            pass


def _describe(buf):
    """JSON description of a bound buffer (enough to rebuild one of the same numba type)."""
    if isinstance(buf, FrameBuffer):
        return {"frames": list(buf.data.shape), "dtype": buf.data.dtype.str}
    if isinstance(buf, EventBuffer):
        return {"events": int(buf.capacity)}
    if isinstance(buf, np.ndarray):
        return {"array": list(buf.shape), "dtype": buf.dtype.str, "writeable": bool(buf.flags.writeable)}
    return None


def _rebuild(desc):
    if "frames" in desc:
        buf = FrameBuffer(np.zeros(desc["frames"], np.dtype(desc["dtype"])))
        return buf
    if "events" in desc:
        return EventBuffer(desc["events"])
    arr = np.zeros(desc["array"], np.dtype(desc["dtype"]))
    if not desc["writeable"]:
        arr.flags.writeable = False
    return arr


def _task(schedule, step):
    """What a child needs to warm `step`'s node, or None when it cannot be described."""
    node = step.node
    nid = step.node_id
    try:
        ins = {p: _describe(b) for p, b in step.in_bufs.items()}
        outs = {p: _describe(b) for p, b in step.out_bufs.items()}
        specs = {p: (dataclasses.asdict(s) if s is not None else None)
                 for p, s in (schedule.in_specs.get(nid) or {}).items()}
        task = {"type": node.type_id, "version": node.version, "state": node.get_state(),
                "resources": {k: str(v) for k, v in node.resource_paths.items()},
                "in_specs": specs, "ins": ins, "outs": outs}
        json.dumps(task)
    except (TypeError, ValueError, AttributeError):
        return None
    if any(d is None for d in (*ins.values(), *outs.values())):
        return None
    return task


def _start_children(schedule, remote: list) -> list:
    host = schedule.host
    procs = []
    for tasks in remote:
        job = {"parent_pid": os.getpid(), "sample_rate": schedule.sample_rate,
               "block_size": schedule.block_size, "host_in": host.in_channels,
               "host_out": host.out_channels, "tasks": tasks}
        try:
            proc = subprocess.Popen([sys.executable, "-m", "neuropatch.engine.warm_parallel"],
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, close_fds=True)
            proc.stdin.write(json.dumps(job).encode())
            proc.stdin.close()
        except OSError:
            continue
        procs.append(proc)
    return procs


def _wait(procs: list) -> None:
    import time

    deadline = time.monotonic() + CHILD_TIMEOUT_S
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- child side ----------------------------------------------------------------------------


def warm_task(task: dict, sample_rate: int, block_size: int, host_in: int, host_out: int, registry=None) -> None:
    """Prepare a fresh node as `task` describes and run it once on silence."""
    from .compiler import NodeStep
    from .node import HostIO, PrepareContext
    from .registry import default_registry

    registry = registry or default_registry()
    cls = registry.resolve(task["type"])
    if cls is None:
        return
    node = cls()
    node.id = "warm"
    node.set_state(task["state"], from_version=task["version"])
    for name, path in task["resources"].items():
        node.set_resource(name, path)
    specs = {p: (StreamSpec(**d) if d is not None else None) for p, d in task["in_specs"].items()}
    host = HostIO(host_in, host_out, block_size, sample_rate)
    ctx = PrepareContext("warm", sample_rate, block_size, specs, {}, host, None)
    node._prepare(ctx)
    if ctx.lane is not None or node.error is not None:
        return
    ins = {p: _rebuild(d) for p, d in task["ins"].items()}
    for buf in ins.values():
        if isinstance(buf, FrameBuffer):
            buf.count = buf.data.shape[0]     # frames of silence, so frame kernels run too
    outs = {p: _rebuild(d) for p, d in task["outs"].items()}
    step = NodeStep("warm", node, ins, outs, 0)
    host.input = host.input_buffer[:, :block_size]
    host.output = host.output_buffer[:, :block_size]
    i, o = step.views(block_size)
    step.call(i, o, block_size)


def _child_main() -> int:
    from .parent_death import die_with_parent

    job = json.loads(sys.stdin.buffer.read())
    die_with_parent(job["parent_pid"])
    failed = 0
    for task in job["tasks"]:
        try:
            warm_task(task, job["sample_rate"], job["block_size"], job["host_in"], job["host_out"])
        except Exception:  # this node's kernels compile in the parent instead
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(_child_main())
