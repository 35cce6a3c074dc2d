"""The engine side of live audio: owns the stream, the runtime and the engine's copy of the graph.

:func:`serve` is the entry point for both modes: a spawned process (default for small
blocks) or a thread of the controlling process. It reads commands from a queue,
compiles off the audio thread, hands schedules to the audio callback through the
runtime's message deque and publishes meters to shared memory.

Commands (tuples of plain data, ``(kind, token, *args)``; a non-None token asks for a
reply ``(kind, token, ok, payload)`` on the reply queue):

``load (graph_dict, base_dir)``, ``apply (command)``, ``param (node_id, name, value)``,
``start``, ``stop``, ``limiter (enabled)``, ``tap (tap_id, node_id, port, shm_name)``,
``untap (tap_id)``, ``pump (blocks, audio_in)``, ``sync``, ``close``.
"""
from __future__ import annotations

import dataclasses
import gc
import os
import queue
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..compiler import Schedule, compile_graph
from ..events import EventBuffer, event_overflows
from ..lane import check_lanes, close_lanes, set_realtime
from ..render import finish_nodes
from ..errors import NeuropatchError
from ..graph import (AddComment, Batch, ClearParam, EditComment, Graph, MoveNode, RemoveComment, SetNodeUi,
                     SetParam)
from ..patch import graph_from_dict
from ..runtime import Runtime, Transition
from ..warm_parallel import warm_steps
from ..parent_death import die_with_parent
from ..registry import default_registry
from ..streams import FrameBuffer
from .limiter import SafetyLimiter
from .meters import IN_OVERFLOWS, OUT_UNDERFLOWS, XRUNS, BlockStats, MeterWindow
from .shm_ring import RingWriter, SnapshotBoard, attach_shm
from .stream import LiveAudioError, OfflineStream, SoundDeviceStream

_perf_ns = time.perf_counter_ns


@dataclass
class EngineConfig:
    """Settings of one engine. sample_rate in Hz, block_size in samples, crossfade_ms in ms."""

    sample_rate: int = 48000
    block_size: int = 256
    input_device: object = None
    output_device: object = None
    in_channels: int | None = None
    out_channels: int | None = None
    backend: str = "sounddevice"       # "sounddevice" | "offline"
    crossfade_ms: float = 10.0
    limiter: bool = True
    meter_seconds: float = 1.0
    publish_seconds: float = 0.1
    registry: str | None = None        # "module:factory" returning a Registry (None = default)
    own_process: bool = False          # the engine owns its process (process mode): tune it
    parent_pid: int | None = None      # process mode: the controlling process; the engine dies with it
    realtime: bool = True              # ask for SCHED_FIFO on the audio thread, nice on the process
    rt_priority: int = 10              # SCHED_FIFO priority (1..99) when the host gave none
    nice: int = -10                    # engine-process niceness (process mode only)
    switch_interval_s: float = 0.0005  # GIL switch interval in the engine process (s)
    gc_freeze_ms: float = 2.0          # re-freeze the heap after a collection slower than this (ms)


def tune_engine_process(config: EngineConfig) -> list[str]:
    """Prepare a process that runs only the engine; returns notes on what was not permitted.

    - niceness ``config.nice``: the control thread (which briefly holds the GIL the audio
      thread needs) is not preempted by ordinary-priority work; threads started later
      (PortAudio's, JACK's) inherit it.
    - GIL switch interval ``config.switch_interval_s`` (s): a control thread running
      Python hands the GIL to the audio thread after at most this long (CPython: 5 ms).
    - automatic garbage collection off: a collection runs in whichever thread allocates and
      holds the GIL throughout (about 70 ms for the engine's ~150k objects), so the
      control loop collects explicitly (:meth:`EngineServer._collect`) on a heap whose
      start-up objects are frozen out of collection.
    """
    notes = []
    if config.realtime and config.nice:
        try:
            cur = os.nice(0)
            if cur > config.nice:
                os.nice(config.nice - cur)
        except (OSError, AttributeError) as exc:
            notes.append(f"engine process priority unchanged (nice {config.nice} not permitted: {exc})")
    sys.setswitchinterval(config.switch_interval_s)
    gc.disable()
    return notes


def _load_registry(spec: str | None):
    if not spec:
        return default_registry()
    import importlib

    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)()


class TapWriter:
    """Copies one port's stream into a shared-memory ring after every block.

    Rebinds (on the audio side, only when the schedule changed) to the port's buffer in
    the current schedule; the ring restarts when the stream's shape changes.
    """

    def __init__(self, tap_id: int, node_id: str, port: str, shm):
        self.tap_id, self.node_id, self.port = tap_id, node_id, port
        self.ring = RingWriter(shm)
        self._sched = None
        self._buf = None
        self._mode = 0      # 0 absent, 1 audio, 2 frames/latent, 3 events, 4 control
        self._shape = None
        self._rows = None   # events: float32 [capacity, 6] rows packed per block

    def _rebind(self, sched: Schedule) -> None:
        self._sched = sched
        buf = sched.out_buffers.get((self.node_id, self.port))
        if buf is None:
            for step in sched.node_steps:
                if step.node_id == self.node_id:
                    buf = step.in_bufs.get(self.port)
                    break
        self._buf = buf
        if isinstance(buf, np.ndarray) and buf.ndim == 2:
            self._mode, shape = 1, ("audio", buf.shape[0], 1)
        elif isinstance(buf, np.ndarray):
            self._mode, shape = 4, ("control", 1, 1)
        elif isinstance(buf, FrameBuffer):
            self._mode = 2
            d = buf.data.shape
            shape = ("frames", d[1], d[2]) if len(d) == 3 else ("latent", d[1], 1)
        elif isinstance(buf, EventBuffer):
            self._mode, shape = 3, ("events", 6, 1)
            self._rows = np.zeros((buf.capacity, 6), np.float32)
        else:
            self._mode, shape = 0, None
        if shape is not None and shape != self._shape:
            self.ring.bind(*shape)
            self._shape = shape

    def write(self, sched: Schedule, n: int) -> None:
        if sched is not self._sched:
            self._rebind(sched)
        mode = self._mode
        if mode == 1:
            self.ring.write_audio(self._buf, n)
        elif mode == 2:
            self.ring.write_items(self._buf.data, self._buf.count)
        elif mode == 4:
            self.ring.write_value(self._buf[0])
        elif mode == 3 and self._buf.count:
            buf, rows, k = self._buf, self._rows, self._buf.count
            tr = sched.host.transport      # already advanced past this block
            start = (tr.position - n) / tr.sample_rate
            rows[:k, 0] = buf.offset[:k]
            rows[:k, 0] *= 1.0 / tr.sample_rate
            rows[:k, 0] += start
            rows[:k, 1] = buf.type[:k]
            rows[:k, 2] = buf.channel[:k]
            rows[:k, 3] = buf.data1[:k]
            rows[:k, 4] = buf.data2[:k]
            rows[:k, 5] = buf.value[:k]
            self.ring.write_items(rows, k)


def compile_live(graph: Graph, previous: Schedule | None, sample_rate: int, block_size: int,
                 in_channels: int, base_dir, registry=None, fresh=()) -> Schedule:
    """Compile for a running engine. The compiler carries over the nodes that need no
    prepare (they keep their state) and gives every node that does a fresh instance, so
    nothing the audio side is running is re-prepared under it (``Schedule.prepared`` names
    them). Lanes run live: a late chunk never blocks the callback."""
    schedule = compile_graph(graph, registry, sample_rate=sample_rate, block_size=block_size,
                             in_channels=in_channels, base_dir=base_dir, reuse=previous, fresh=fresh)
    warm_prepared(schedule)
    set_realtime(schedule, True)
    return schedule


def warm_prepared(schedule: Schedule) -> None:
    """Run every node this compile prepared once on silence, then reset it, before the
    schedule reaches the audio side: numba compiles (or loads from the kernel cache) the
    kernels of a newly added node here, on the control side, instead of in the first audio
    callback, which would overrun by the whole compile (seconds on a first run).

    When several heavier node types are not cached yet (a patch loaded on a first run),
    child processes compile some of them meanwhile (:mod:`..warm_parallel`).

    Safe because a compile allocates its own buffers and host I/O (nothing the running
    schedule reads) and prepared nodes are fresh instances. Lane nodes and feedback delays
    are left alone (their first calls are cheap, and a lane's worker must not be fed twice).
    """
    bs = schedule.block_size
    host = schedule.host
    host.input = host.input_buffer[:, :bs]
    host.output = host.output_buffer[:, :bs]
    steps = [step for step in schedule.node_steps
             if step.node_id in schedule.prepared and not (step.bypassed and not step.switched_off)
             and step.lane is None and not step.fb_mode]
    # nodes with an interim path play at once; their kernels compile in the background
    background = [(step, step.node.start_interim()) for step in steps]
    for step, job in background:
        if job is not None:
            threading.Thread(target=job, name=f"neuropatch-compile-{step.node_id}", daemon=True).start()
    steps = [step for step, job in background if job is None]

    def warm_one(step) -> None:
        ins, outs = step.views(bs)
        try:
            step.call(ins, outs, bs)
        except Exception as exc:  # the runtime would bypass it at its first block: do it now
            step.bypassed = True
            step.node.error = f"raised {exc!r}; bypassed"
            schedule.errors[step.node_id] = step.node.error
            return
        step.node.reset()

    # a cold cache: the heavier node types compile in child processes meanwhile
    warm_steps(schedule, steps, warm_one)
    host.output.fill(0.0)


def _fast_command(command, graph: Graph, registry) -> bool:
    """Edits that need no recompile: params that are not structural (sent to the node,
    smoothed), positions, titles and comments. A structural param (``Param.structural``) needs prepare."""
    if isinstance(command, (SetParam, ClearParam)):
        spec = graph.nodes.get(command.node_id)
        cls = registry.resolve(spec.type) if spec is not None else None
        if cls is None:
            return True
        try:
            return not cls.param_spec(command.name).structural
        except KeyError:
            return True
    if isinstance(command, (MoveNode, SetNodeUi, AddComment, RemoveComment, EditComment)):
        return True       # the canvas only: positions, titles, comments
    if isinstance(command, Batch):
        return all(_fast_command(c, graph, registry) for c in command.commands)
    return False


class EngineServer:
    """Runs on the engine side (process or thread); see the module docstring."""

    #: process mode: collect once this many container objects were allocated (net) since
    #: the last collection (CPython's automatic threshold is 700)
    GC_YOUNG = 2000

    def __init__(self, config: EngineConfig, commands, replies, board_name: str):
        self.config = config
        self.registry = _load_registry(config.registry)
        self.commands, self.replies = commands, replies
        self.board = SnapshotBoard(attach_shm(board_name))
        self.sr, self.bs = int(config.sample_rate), int(config.block_size)
        self.block_seconds = self.bs / self.sr
        self.block_ns = self.block_seconds * 1e9
        self.graph = Graph(settings={"sample_rate": self.sr, "block_size": self.bs})
        self.base_dir = None
        self.stats = BlockStats()
        self.window = MeterWindow(config.meter_seconds)
        self.limiter = SafetyLimiter(self.sr, enabled=config.limiter)
        self.taps: tuple = ()
        self._tap_writers: dict = {}
        self._closing_taps: list = []
        self.running = False
        self.closed = False
        self.stream = None
        self.stream_error = None
        self.compile_error = None
        self.warnings: list = []
        self.notes: list = []
        self.generation = 0
        self._last_publish = 0.0
        self._claim_rt = False
        self.audio_thread = "not started"
        self.gc_count = 0
        self.gc_max_ms = 0.0
        self.process_notes: list = []
        self._open_stream()
        in_ch = self.stream.in_channels if self.stream else int(config.in_channels or 1)
        self.in_channels = in_ch
        self.schedule = compile_graph(self.graph, self.registry, sample_rate=self.sr, block_size=self.bs,
                                      in_channels=in_ch)
        self.runtime = Runtime(self.schedule, timing=True)

    # ---- stream -----------------------------------------------------------------------------

    def _open_stream(self) -> bool:
        c = self.config
        try:
            if c.backend == "offline":
                self.stream = OfflineStream(self._callback, self.sr, self.bs, c.in_channels, c.out_channels)
            elif c.backend == "sounddevice":
                self.stream = SoundDeviceStream(self._callback, self.sr, self.bs, c.input_device,
                                                c.output_device, c.in_channels, c.out_channels)
            else:
                raise LiveAudioError(f"unknown backend {c.backend!r} (sounddevice, offline)")
            self.stream_error = None
            return True
        except (LiveAudioError, OSError) as exc:
            self.stream, self.stream_error = None, str(exc)
            return False

    def _callback(self, indata, outdata, frames, time_info, status) -> None:
        """The audio callback: no locks, no I/O, no per-block array allocation."""
        t0 = _perf_ns()
        if self._claim_rt:
            self._claim_realtime()
        rt = self.runtime
        y = rt.process(indata.T, frames)
        self.limiter.process(y, frames)
        if y.shape[0] == 1:
            outdata[:frames] = y.T          # a mono graph feeds every device output
        else:
            c = min(y.shape[0], outdata.shape[1])
            outdata[:frames, :c] = y[:c].T
            if c < outdata.shape[1]:
                outdata[:frames, c:] = 0.0
        taps = self.taps
        if taps:
            sched = rt.schedule
            for tap in taps:
                tap.write(sched, frames)
        self.stats.record((_perf_ns() - t0) / self.block_ns, frames,
                          status.input_overflow, status.output_underflow)

    def _claim_realtime(self) -> None:
        """First callback of a started stream, on the audio thread: keep the host's realtime
        class (JACK with -R, CoreAudio, ...) or ask for SCHED_FIFO ``config.rt_priority``.
        Runs once per start (a system call, no allocation per block)."""
        self._claim_rt = False
        try:
            policy = os.sched_getscheduler(0)       # 0 = this thread (Linux)
            if policy in (os.SCHED_FIFO, os.SCHED_RR):
                prio = os.sched_getparam(0).sched_priority
                self.audio_thread = f"{'SCHED_FIFO' if policy == os.SCHED_FIFO else 'SCHED_RR'} {prio} (host)"
                return
            if not self.config.realtime:
                self.audio_thread = "normal (realtime off)"
                return
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(self.config.rt_priority))
            self.audio_thread = f"SCHED_FIFO {self.config.rt_priority} (engine)"
        except (OSError, AttributeError) as exc:
            self.audio_thread = f"normal (realtime scheduling not permitted: {exc})"

    # ---- control loop -----------------------------------------------------------------------

    def run(self) -> None:
        if self.config.own_process:
            self._freeze_heap()
        self._publish()
        self.replies.put(("ready", None, True, {"pid": os.getpid()}))
        poll = min(0.05, self.config.publish_seconds)   # s; the loop wakes at most 20x/s idle
        next_housekeeping = 0.0
        parent = os.getppid()
        while not self.closed:
            if self.config.own_process and os.getppid() != parent:
                break   # the controlling process died (kill -9): stop, release the device
            try:
                msg = self.commands.get(timeout=poll)
            except queue.Empty:
                msg = None
            if msg is not None:
                self._handle(msg)
            now = time.perf_counter()
            if msg is None or now >= next_housekeeping:   # a burst of commands defers it
                next_housekeeping = now + poll
                self._housekeeping()
        self._shutdown()

    def _freeze_heap(self) -> None:
        """Collect everything, then move the surviving objects (modules, kernels, compiled
        schedules) out of the collector's reach: later collections only scan what was
        allocated since, which keeps them well under a block."""
        gc.collect()
        gc.freeze()

    def _collect(self) -> None:
        """Explicit garbage collection in the control loop (process mode: automatic
        collection is off). Cheap while the unfrozen heap is small; when a collection
        took longer than ``config.gc_freeze_ms`` the survivors are frozen as well. With the
        stream stopped, frozen objects are collected too (no audio to disturb)."""
        if not self.running:
            gc.unfreeze()
        t0 = _perf_ns()
        gc.collect()
        ms = (_perf_ns() - t0) * 1e-6
        self.gc_count += 1
        if self.running and ms > self.gc_max_ms:
            self.gc_max_ms = ms
        if not self.running or ms > self.config.gc_freeze_ms:
            gc.freeze()

    def _reply(self, token, kind, ok=True, payload=None) -> None:
        if token is not None:
            self.replies.put((kind, token, ok, payload))

    def _handle(self, msg) -> None:
        kind, token, args = msg[0], msg[1], msg[2:]
        try:
            handler = getattr(self, f"_cmd_{kind}")
        except AttributeError:
            self._reply(token, kind, False, f"unknown command {kind!r}")
            return
        try:
            payload = handler(*args)
            self._reply(token, kind, True, payload)
        except (NeuropatchError, OSError, ValueError, KeyError, TypeError) as exc:
            self.compile_error = f"{kind}: {exc}"
            self._reply(token, kind, False, str(exc))
        except Exception as exc:  # keep the engine alive; the message says what failed
            self.compile_error = f"{kind}: {exc!r}"
            self._reply(token, kind, False, "".join(traceback.format_exception_only(exc)).strip())
        self._publish(force=True)

    def _install(self, schedule: Schedule, fade: bool) -> None:
        old = self.schedule
        self.schedule = schedule
        self.generation += 1
        self.notes = list(schedule.notes)
        self.compile_error = None
        if fade and old is not None and self.runtime.blocks > 0:
            fade_samples = int(round(self.config.crossfade_ms * 1e-3 * self.sr))
            self.runtime.post(("crossfade", Transition(old, schedule, fade_samples)))
        else:
            self.runtime.post(("swap", schedule))
        if not self.running:
            self.runtime._drain()       # no audio thread runs: install now (the fade, if any,
                                        # plays over the next pumped blocks)

    def _cmd_load(self, graph_doc, base_dir=None):
        graph = graph_from_dict(graph_doc, self.registry)
        self.base_dir = Path(base_dir) if base_dir else None
        schedule = compile_live(graph, None, self.sr, self.bs, self.in_channels, self.base_dir,
                                self.registry)
        self.graph = graph
        self.warnings = []
        patch_sr = graph.settings.get("sample_rate")
        if patch_sr and int(patch_sr) != self.sr:
            self.warnings.append(f"sample-rate mismatch: the patch was made for {int(patch_sr)} Hz; "
                                 f"the engine and device run at {self.sr} Hz (nodes prepared at {self.sr} Hz)")
        self._install(schedule, fade=True)
        return {"latency_samples": schedule.latency_samples, "errors": dict(schedule.errors)}

    def _cmd_apply(self, command):
        graph = self.graph.copy()
        graph.apply(command)            # GraphError leaves the engine's graph unchanged
        if _fast_command(command, graph, self.registry):
            self.graph = graph
            self._post_params(command)
            self.generation += 1
            return None
        schedule = compile_live(graph, self.schedule, self.sr, self.bs, self.in_channels, self.base_dir,
                                self.registry)
        self.graph = graph
        self._install(schedule, fade=True)
        return {"latency_samples": schedule.latency_samples, "errors": dict(schedule.errors)}

    def _post_params(self, command) -> None:
        if isinstance(command, Batch):
            for c in command.commands:
                self._post_params(c)
        elif isinstance(command, SetParam):
            self.runtime.set_param(command.node_id, command.name, command.value)
        elif isinstance(command, ClearParam):
            node = self.schedule.nodes.get(command.node_id)
            if node is not None:
                self.runtime.set_param(command.node_id, command.name, node.param_spec(command.name).default)

    def _cmd_param(self, node_id, name, value):
        spec = self.graph.nodes.get(node_id)
        if spec is not None and not _fast_command(SetParam(node_id, name, value), self.graph, self.registry):
            return self._cmd_apply(SetParam(node_id, name, value))
        if spec is not None:
            spec.params[name] = value
        self.runtime.set_param(node_id, name, value)

    def _cmd_start(self):
        if self.running:
            return self._stream_info()
        if self.stream is None and not self._open_stream():
            raise LiveAudioError(self.stream_error)
        if self.runtime.blocks == 0:
            self._warm_up()
        if self.config.own_process:
            self._collect()
        self._claim_rt = isinstance(self.stream, SoundDeviceStream)
        self.stream.start()
        self.running = True
        return self._stream_info()

    def _warm_up(self, blocks: int = 8) -> None:
        """Run the graph on silence before the first start, then reset it: first calls
        (kernel dispatch, lazy caches) happen here instead of in the first callbacks,
        which would otherwise overrun and count an xrun on every start."""
        self.runtime.warm_up(blocks)    # the limiter warms its kernel when it is built

    def _stream_info(self) -> dict:
        s = self.stream
        return {"devices": list(s.device_names), "in_channels": s.in_channels,
                "out_channels": s.out_channels, "latency_s": list(s.latency)}

    def _cmd_stop(self):
        if self.stream is not None:
            self.stream.stop()
        self.running = False
        # the session stopped: recorders write their files (the audio side is idle now)
        self.runtime._drain()
        finish_nodes(self.runtime.schedule, keep_lanes=True)

    def _cmd_restart(self, node_id):
        """Prepare `node_id` again (after its worker failed, or to reload its files)."""
        if node_id not in self.graph.nodes:
            raise KeyError(f"no node {node_id!r}")
        schedule = compile_live(self.graph, self.schedule, self.sr, self.bs, self.in_channels,
                                self.base_dir, self.registry, fresh={node_id})
        self._install(schedule, fade=True)
        return {"latency_samples": schedule.latency_samples, "errors": dict(schedule.errors)}

    def _cmd_limiter(self, enabled):
        self.limiter.set_enabled(bool(enabled))

    def _cmd_tap(self, tap_id, node_id, port, shm_name):
        writer = TapWriter(tap_id, node_id, port, attach_shm(shm_name))
        self._tap_writers[tap_id] = writer
        self.taps = tuple(self._tap_writers.values())

    def _cmd_untap(self, tap_id):
        writer = self._tap_writers.pop(tap_id, None)
        self.taps = tuple(self._tap_writers.values())
        if writer is not None:   # the audio side may still hold the old tuple for a block
            self._closing_taps.append((time.perf_counter() + 0.5, writer))

    def _cmd_pump(self, blocks, audio_in=None):
        if not isinstance(self.stream, OfflineStream):
            raise LiveAudioError("pump() works with the offline backend only")
        return self.stream.pump(int(blocks), audio_in)

    def _cmd_sync(self):
        return self.generation

    def _cmd_close(self):
        self.closed = True

    # ---- housekeeping -----------------------------------------------------------------------

    def _housekeeping(self) -> None:
        retired = self.runtime.retired
        while retired:
            old = retired.popleft()     # released here, not in the audio callback
            old = old if isinstance(old, Schedule) else old.old   # a finished Transition
            close_lanes(old, keep=self.runtime.schedule)
        check_lanes(self.runtime.schedule, self.runtime.reports)
        now = time.perf_counter()
        if self._closing_taps and self._closing_taps[0][0] < now:
            self._closing_taps.pop(0)[1].ring.close()
        for step in self.runtime.schedule.node_steps:
            if not step.bypassed:
                step.node.housekeeping()
        if self.config.own_process and gc.get_count()[0] > self.GC_YOUNG:
            self._collect()
        if self.window.due():
            self.window.update(self.stats, self.runtime.schedule, self.runtime.node_time_ns,
                               self.block_seconds)
            self._publish(force=True)
        else:
            self._publish()

    def errors(self) -> dict:
        sched = self.runtime.schedule
        errs = dict(sched.errors)
        for step in sched.node_steps:
            if step.bypassed and step.node.error:
                errs[step.node_id] = step.node.error
        return errs

    def snapshot(self) -> dict:
        sched = self.runtime.schedule
        v = self.stats.values
        in_lat, out_lat = self.stream.latency if self.stream is not None else (0.0, 0.0)
        io_samples = int(round((in_lat + out_lat) * self.sr))
        graph_lat = int(sched.latency_samples)
        total = io_samples + graph_lat
        return {
            "running": self.running, "load_avg": self.window.load_avg,
            "load_peak": self.window.load_peak, "xruns": int(v[XRUNS]),
            "input_overflows": int(v[IN_OVERFLOWS]), "output_underflows": int(v[OUT_UNDERFLOWS]),
            "latency_samples": total, "latency_ms": total * 1e3 / self.sr,
            "io_latency_ms": (in_lat + out_lat) * 1e3, "io_latency_samples": io_samples,
            "output_latency_samples": int(round(out_lat * self.sr)),
            "graph_latency_samples": graph_lat, "node_cpu": dict(self.window.node_cpu),
            "errors": self.errors(), "sample_rate": self.sr, "block_size": self.bs,
            "blocks": int(self.runtime.blocks), "generation": self.generation,
            "limiter": self.limiter.enabled, "limiter_gain_reduction_db": self.limiter.gain_reduction_db,
            "nonfinite_samples": self.limiter.nonfinite_samples,
            "compile_error": self.compile_error, "stream_error": self.stream_error,
            "warnings": list(self.warnings), "notes": self.process_notes + self.notes,
            "audio_thread": self.audio_thread, "gc_collections": self.gc_count,
            "gc_max_ms": round(self.gc_max_ms, 3),
            "devices": list(self.stream.device_names) if self.stream is not None else [],
            "out_channels": int(sched.host.out_channels),
            "nodes": sched.node_ids(), "edges": len(self.graph.edges),
            "lanes": {s.node_id: {"buffer_latency": s.lane.latency, "model_delay": s.lane.request.model_delay,
                                  "late_chunks": s.lane.late_chunks, "worker": s.lane.worker.kind}
                      for s in sched.node_steps if s.lane is not None},
            "event_overflows": event_overflows(sched),
        }

    def _publish(self, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self._last_publish >= self.config.publish_seconds:
            self.board.publish(self.snapshot())
            self._last_publish = now

    def _shutdown(self) -> None:
        close_lanes(self.runtime.schedule)
        if self.stream is not None:
            try:
                self.stream.stop()
                self.stream.close()
            except Exception:  # closing a broken device must not hide the reply below
                pass
        self.running = False
        self._publish(force=True)
        for w in list(self._tap_writers.values()) + [w for _, w in self._closing_taps]:
            w.ring.close()
        self.taps = ()
        self.board.close()
        self.replies.put(("close", None, True, None))


def serve(config: EngineConfig, commands, replies, board_name: str) -> None:
    """Engine entry point (target of the engine process or thread). In process mode
    (``config.own_process``) the process is tuned first (:func:`tune_engine_process`)."""
    if config.own_process and config.parent_pid:
        die_with_parent(config.parent_pid)   # a killed editor must not keep the audio device
    notes = tune_engine_process(config) if config.own_process else []
    try:
        server = EngineServer(config, commands, replies, board_name)
        server.process_notes = notes
    except Exception as exc:
        replies.put(("ready", None, False, "".join(traceback.format_exception_only(exc)).strip()))
        return
    server.run()
