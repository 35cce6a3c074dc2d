"""The inference lane: heavy models run in a worker on fixed chunks, ahead of the audio side.

A node whose model thinks in large chunks (RAVE: 2048 samples) starts a
:class:`LaneWorker` in ``prepare`` and sets ``ctx.lane`` to a :class:`LaneRequest`; the
compiler attaches a :class:`Lane` to the node's step and the runtime calls the lane
instead of the node's ``process`` (pedalboard's FixedBlockSize wrapper, run off the audio
thread).

Timing (all in samples at the graph rate): input sample ``t`` belongs to chunk
``t // chunk``; a chunk is handed to the worker when its last sample has arrived, and its
output is played ``buffer_latency = chunk + headroom`` samples after its input, where
``headroom = chunk * ceil(block_size / chunk)`` is the time the worker has to compute
(at least one host block, so host blocks that do not divide the chunk work). The node
adds the model's own delay: ``latency_samples = buffer_latency + model_delay``.

Live (``Lane.realtime``), the audio side never waits: a chunk that is not done when
its output is due plays silence (latent outputs hold their last frame) and is counted
in ``late_chunks``. Offline, the lane waits for every chunk, so renders are
deterministic and identical at every block size.

Workers: ``"thread"`` for native code that releases the GIL (torch), ``"process"`` (spawned)
where isolation is needed (TorchScript: code from a file). The worker builds the chunk
model from plain data (``factory`` "module:callable" and a JSON-safe ``config``); the model
object provides ``describe() -> dict`` (plain data, read by prepare), ``reset()`` and
``process(inputs, outputs)`` on one chunk: inputs/outputs map port names to float32
arrays, audio ``[channels, chunk]``, latent ``[chunk // hop, dims]``.

Shared state (a bytearray for threads, shared memory for processes): per slot the chunk's
id, a reset flag and the id of the chunk whose output the slot holds, plus per port
``[slots, ...]`` float32 arrays. The audio side writes a slot and one byte to a pipe; the
worker processes chunks in id order and publishes each result by writing the chunk id
last. A worker that raises, dies or hangs (no result ``deadline_s`` past the moment the
output was due) is reported by :func:`check_lanes`, which bypasses its node.
"""
from __future__ import annotations

import importlib
import math
import os
import threading
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from .streams import FrameBuffer

_HEADER = 4                 # int64 words: [worker pid, chunks done, unused, unused]
_PID, _DONE = 0, 1


def build_model(factory: str, config: dict):
    module, _, attr = factory.partition(":")
    return getattr(importlib.import_module(module), attr)(config)


# ---- layout ------------------------------------------------------------------------------


EVENT_FIELDS = 6   # per event row: offset in the chunk, type, channel, data1, data2, value


def _shapes(ports: dict, chunk: int) -> dict:
    """port -> per-chunk array shape. ports: name -> ("audio", channels) | ("latent", dims, hop)
    | ("events", capacity, header): events are rows of EVENT_FIELDS after a header row whose
    first value is the event count and whose next `header` values the node may fill (params
    the model reads per chunk)."""
    out = {}
    for name, p in ports.items():
        if p[0] == "audio":
            out[name] = (int(p[1]), chunk)
        elif p[0] == "events":
            out[name] = (int(p[1]) + 1, max(EVENT_FIELDS, 1 + int(p[2])))
        else:
            out[name] = (chunk // int(p[2]), int(p[1]))
    return out


class _Layout:
    """Views of the shared block: ints [header + 3 * slots], then float32 port arrays."""

    def __init__(self, buf, slots: int, in_shapes: dict, out_shapes: dict):
        n_int = _HEADER + 3 * slots
        self.ints = np.frombuffer(buf, np.int64, n_int, 0)
        self.header = self.ints[:_HEADER]
        self.slot_gid = self.ints[_HEADER:_HEADER + slots]
        self.slot_reset = self.ints[_HEADER + slots:_HEADER + 2 * slots]
        self.slot_done = self.ints[_HEADER + 2 * slots:]
        offset = n_int * 8
        self.inputs, self.outputs = {}, {}
        for target, shapes in ((self.inputs, in_shapes), (self.outputs, out_shapes)):
            for name, shape in shapes.items():
                count = slots * int(np.prod(shape))
                target[name] = np.frombuffer(buf, np.float32, count, offset).reshape((slots,) + tuple(shape))
                offset += count * 4

    @staticmethod
    def nbytes(slots: int, in_shapes: dict, out_shapes: dict) -> int:
        n = (_HEADER + 3 * slots) * 8
        for shapes in (in_shapes, out_shapes):
            n += sum(slots * int(np.prod(s)) * 4 for s in shapes.values())
        return n


def _serve(model, layout: _Layout, rfd: int, slots: int) -> None:
    """Worker loop: process chunks in id order as bytes arrive on the pipe; b"q" quits."""
    gid = 0
    while True:
        data = os.read(rfd, 4096)
        if not data or data.endswith(b"q"):
            return
        while gid < layout.slot_gid.max() + 1 and layout.slot_gid[gid % slots] >= gid:
            slot = gid % slots
            if layout.slot_gid[slot] != gid:  # overwritten: the audio side moved past it
                gid += 1
                continue
            if layout.slot_reset[slot]:
                model.reset()
            ins = {k: v[slot] for k, v in layout.inputs.items()}
            outs = {k: v[slot] for k, v in layout.outputs.items()}
            model.process(ins, outs)
            layout.slot_done[slot] = gid
            layout.header[_DONE] = gid + 1
            gid += 1


def _process_main(factory, config, status, control, reader) -> None:
    """Entry of a process worker (spawned): build the model, report, serve. `reader` is the
    read end of the wake-up pipe: when the engine's process dies, it reads end-of-file and
    the worker exits (no orphans)."""
    import multiprocessing as mp
    import queue

    rfd = reader.fileno()
    parent = mp.parent_process()
    try:
        model = build_model(factory, config)
        status.put(("ready", model.describe()))
        while True:       # wait for the layout, unless the engine's process is gone
            try:
                msg = control.get(timeout=0.5)
                break
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    return
        if msg[0] != "layout":
            return
        _, shm_path, slots, in_shapes, out_shapes = msg
        buf = _map_file(shm_path)
        # both sides have it mapped now: drop the name, so nothing stays in /dev/shm even
        # when the engine's process dies without closing the lane (the pid word below
        # tells the engine side that the name is gone)
        try:
            os.unlink(shm_path)
        except FileNotFoundError:
            pass
        layout = _Layout(buf, slots, {k: tuple(v) for k, v in in_shapes.items()},
                         {k: tuple(v) for k, v in out_shapes.items()})
        layout.header[_PID] = os.getpid()
        _serve(model, layout, rfd, slots)
    except BaseException as exc:  # reported to the engine, which bypasses the node
        status.put(("error", "".join(traceback.format_exception_only(exc)).strip()))
        raise SystemExit(1)


def _map_file(path: str):
    """A shared, writable memory map of the whole file (both sides of a process worker)."""
    import mmap

    with open(path, "r+b") as f:
        return mmap.mmap(f.fileno(), 0)


# ---- worker ------------------------------------------------------------------------------


class LaneWorker:
    """A model running in a thread or a spawned process. Start it in ``prepare`` (it loads
    the model there, off the audio path); ``info`` is the model's ``describe()``. A model
    that fails to build raises (thread) or raises :class:`LaneError` with the worker's
    message (process)."""

    def __init__(self, factory: str, config: dict, kind: str = "thread", start_timeout_s: float = 120.0):
        if kind not in ("thread", "process"):
            raise ValueError(f"lane worker kind must be 'thread' or 'process', got {kind!r}")
        self.kind = kind
        self.factory, self.config = factory, config
        self.error: str | None = None
        self.closed = False
        self._layout = None
        self._shm = None
        if kind == "thread":
            self._model = build_model(factory, config)
            self.info = self._model.describe()
            self._rfd, self._wfd = os.pipe()
            os.set_blocking(self._wfd, False)   # wake() must never block the audio side
            self._thread = None
        else:
            import multiprocessing as mp

            ctx = mp.get_context("spawn")
            self._status, self._control = ctx.Queue(), ctx.Queue()
            reader, self._writer = ctx.Pipe(duplex=False)
            self._proc = ctx.Process(target=_process_main, daemon=True, name="neuropatch-lane",
                                     args=(factory, config, self._status, self._control, reader))
            # the live engine's own process is daemonic, and multiprocessing refuses children
            # of daemons (it could not reap them); ours exit by themselves when the pipe's
            # writer (this process) goes away, so lift the flag while starting one
            me = mp.current_process()
            daemonic = me._config.get("daemon", False)
            me._config["daemon"] = False
            try:
                self._proc.start()
            finally:
                me._config["daemon"] = daemonic
            reader.close()
            self._rfd, self._wfd = -1, self._writer.fileno()
            os.set_blocking(self._wfd, False)   # wake() must never block the audio side
            try:
                msg = self._status.get(timeout=start_timeout_s)
            except Exception:
                self.close()
                raise LaneError(f"model worker did not start within {start_timeout_s:.0f} s") from None
            if msg[0] != "ready":
                self.close()
                raise LaneError(msg[1])
            self.info = msg[1]

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.kind == "process" else None

    def bind(self, slots: int, in_shapes: dict, out_shapes: dict) -> _Layout:
        """Allocate the shared slots and start serving (once)."""
        nbytes = _Layout.nbytes(slots, in_shapes, out_shapes)
        if self.kind == "thread":
            buf = bytearray(nbytes)
            self._layout = _Layout(buf, slots, in_shapes, out_shapes)
            self._layout.slot_gid[:] = -1
            self._layout.slot_done[:] = -1

            def run():
                try:
                    _serve(self._model, self._layout, self._rfd, slots)
                except BaseException as exc:  # reported by check_lanes
                    self.error = f"model raised {exc!r}"
            self._thread = threading.Thread(target=run, daemon=True, name="neuropatch-lane")
            self._thread.start()
        else:
            import tempfile

            base = "/dev/shm" if os.path.isdir("/dev/shm") else None
            fd, self._shm = tempfile.mkstemp(prefix="neuropatch-lane-", dir=base)
            os.ftruncate(fd, nbytes)
            os.close(fd)
            self._layout = _Layout(_map_file(self._shm), slots, in_shapes, out_shapes)
            self._layout.slot_gid[:] = -1
            self._layout.slot_done[:] = -1
            self._control.put(("layout", self._shm, slots,
                               {k: list(v) for k, v in in_shapes.items()},
                               {k: list(v) for k, v in out_shapes.items()}))
        return self._layout

    def wake(self) -> None:
        """Audio side: one chunk is ready (a single non-blocking byte; no lock, no allocation)."""
        try:
            os.write(self._wfd, b"c")
        except OSError:
            pass

    def poll_error(self) -> str | None:
        """Control side: the worker's failure, if any (raised, died)."""
        if self.error is None and self.kind == "process":
            try:
                while True:
                    msg = self._status.get_nowait()
                    if msg[0] == "error":
                        self.error = f"model worker failed: {msg[1]}"
            except Exception:
                pass
            if self.error is None and not self._proc.is_alive() and not self.closed:
                self.error = f"model worker process died (exit code {self._proc.exitcode})"
        return self.error

    def close(self, wait_s: float = 1.0) -> None:
        """Stop the worker and release its memory (control side). A thread worker gets
        ``wait_s`` seconds to finish its chunk; one still running after that is abandoned
        with its pipe left open (closing it could hand its descriptors to other files)."""
        if self.closed:
            return
        self.closed = True
        try:
            os.write(self._wfd, b"q")
        except OSError:
            pass
        if self.kind == "process":
            self._proc.join(timeout=2.0)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(timeout=2.0)
            for q in (self._status, self._control):
                q.close()
                q.cancel_join_thread()
        elif self._thread is not None:
            self._thread.join(timeout=wait_s)
        if self.kind == "process":
            self._writer.close()
        elif self._thread is None or not self._thread.is_alive():
            for fd in (self._rfd, self._wfd):
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self._shm is not None:   # the mapping itself goes when its last view does
            if self._layout is None or self._layout.header[_PID] == 0:   # else the worker unlinked it
                try:
                    os.unlink(self._shm)
                except FileNotFoundError:
                    pass
            self._shm = None

    def kill(self) -> None:
        """Give up on a hung worker (a thread cannot be killed: it is abandoned)."""
        if self.kind == "process" and self._proc.is_alive():
            self._proc.kill()
        self.close(wait_s=0.0)


class LaneError(RuntimeError):
    """The model worker could not be started; the message is the worker's."""


# ---- request and lane --------------------------------------------------------------------


def buffer_latency(chunk: int, block_size: int) -> int:
    """Samples from a chunk's input to its output: the chunk plus the worker's headroom."""
    return chunk + chunk * math.ceil(block_size / chunk)


@dataclass
class LaneRequest:
    """What a node asks of the lane (``ctx.lane``, set in prepare).

    chunk: samples at the graph rate per model call. inputs/outputs: port -> ("audio",
    channels) or ("latent", dims, hop) with chunk % hop == 0. model_delay: the model's own
    delay in samples (reported apart from the buffering). deadline_s: how long past due a
    chunk may be before the worker counts as hung.
    """

    worker: LaneWorker
    chunk: int
    block_size: int
    inputs: dict
    outputs: dict
    model_delay: int = 0
    deadline_s: float = 1.0
    input_delay: int = 0     # set by the compiler: latency of the paths into the node
    #: for events inputs: callable(header row float32 [width]) filling values 1.. of a
    #: chunk's header row when the chunk starts (the node's params the model reads per chunk)
    fill_header: object = None
    lane: "Lane | None" = field(default=None, repr=False)

    @property
    def buffer_latency(self) -> int:
        return buffer_latency(self.chunk, self.block_size)


class Lane:
    """The audio side of one node's lane (see the module docstring)."""

    def __init__(self, request: LaneRequest, sample_rate: int):
        self.request = request
        self.worker = request.worker
        self.chunk = c = int(request.chunk)
        self.latency = request.buffer_latency
        # inputs run ahead of outputs by up to (latency + block) samples within one block
        self.slots = 3 + math.ceil((self.latency + request.block_size) / c)
        self.sample_rate = sample_rate
        in_shapes, out_shapes = _shapes(request.inputs, c), _shapes(request.outputs, c)
        self.layout = self.worker.bind(self.slots, in_shapes, out_shapes)
        self.hops = {k: int(p[2]) for k, p in list(request.inputs.items()) + list(request.outputs.items())
                     if p[0] == "latent"}
        self.audio_in = [k for k, p in request.inputs.items() if p[0] == "audio"]
        self.latent_in = [k for k, p in request.inputs.items() if p[0] == "latent"]
        self.audio_out = [k for k, p in request.outputs.items() if p[0] == "audio"]
        self.latent_out = [k for k, p in request.outputs.items() if p[0] == "latent"]
        self.events_in = [k for k, p in request.inputs.items() if p[0] == "events"]
        self.events_out = [k for k, p in request.outputs.items() if p[0] == "events"]
        self.dropped_events = 0   # events that did not fit a chunk's capacity (reported with
                                  # the event buffers' overflows: events.event_overflows)
        self.submit_time = np.zeros(self.slots, np.float64)
        self.realtime = False
        self.late_chunks = 0
        self._typical_wait = 0.0   # s, offline: how long a chunk usually takes once waited for
        self._counted = -1
        self._watch = -1          # health(): the chunk being timed and since when (perf_counter s)
        self._watch_since = 0.0
        self.gid = 0          # id of the next chunk to submit (never reset: ids stay unique)
        self._reset_counters()

    def _reset_counters(self) -> None:
        self.base = self.gid  # id of chunk 0 of this run
        # the lane's clock is its input's time: the paths into the node are `input_delay`
        # samples late, so their first samples (and frames) arrive that much later
        self.t = -int(self.request.input_delay)
        self.frames_in = {k: 0 for k in self.latent_in}
        self.frames_out = {k: 0 for k in self.latent_out}
        self.first = True

    def reset(self) -> None:
        """Back to the start (meters too); the worker resets the model before the next chunk."""
        self._reset_counters()
        self.late_chunks = 0
        for arrs in (self.layout.inputs, self.layout.outputs):
            for a in arrs.values():
                a[self.gid % self.slots].fill(0.0)
        for arr in self.layout.outputs.values():
            arr.fill(0.0)

    # ---- audio side ----------------------------------------------------------------------

    def process(self, ins: dict, outs: dict, n: int) -> None:
        c, slots, lay, t = self.chunk, self.slots, self.layout, self.t
        for name in self.latent_in:                      # frames into their chunk's slot
            buf: FrameBuffer = ins[name]
            hop = self.hops[name]
            j0 = self.frames_in[name]
            per = c // hop
            for q in range(buf.count):
                j = j0 + q
                k = j // per
                if k < t // c:    # its chunk already left (upstream was late): drop it
                    continue
                lay.inputs[name][(self.base + k) % slots, j % per] = buf.data[q]
            self.frames_in[name] = j0 + buf.count
        i = max(0, -t)
        while i < n:                                     # audio into slots; submit full chunks
            k, off = divmod(t + i, c)
            m = min(n - i, c - off)
            slot = (self.base + k) % slots
            for name in self.audio_in:
                x, dest = ins[name], lay.inputs[name]
                rows = min(x.shape[0], dest.shape[1])   # the model's channels come first
                dest[slot, :rows, off:off + m] = x[:rows, i:i + m]
            for name in self.events_in:
                self._events_into(ins[name], lay.inputs[name][slot], off == 0, i, i + m, off - i)
            if off + m == c:
                self._submit(self.base + k)
            i += m
        lat = self.latency
        for name in self.events_out:
            outs[name].clear()
        i = 0
        while i < n:                                     # audio out, `lat` behind
            u = t + i - lat
            if u < 0:
                m = min(n - i, -u)
                for name in self.audio_out:
                    outs[name][:, i:i + m] = 0.0
                i += m
                continue
            k, off = divmod(u, c)
            m = min(n - i, c - off)
            ready = self._ready(self.base + k)
            for name in self.audio_out:
                y = outs[name]
                if ready:
                    y[:, i:i + m] = lay.outputs[name][(self.base + k) % slots, : y.shape[0], off:off + m]
                else:
                    y[:, i:i + m] = 0.0
            if ready:
                for name in self.events_out:
                    _events_out(lay.outputs[name][(self.base + k) % slots], outs[name], off, off + m, i - off)
            i += m
        end = t + n
        for name in self.latent_out:                     # frames out when their time comes
            buf = outs[name]
            hop = self.hops[name]
            per = c // hop
            j = self.frames_out[name]
            q = 0
            while q < buf.data.shape[0] and (j + 1) * hop - 1 + lat < end:
                k = j // per
                if (j + 1) * hop - 1 + lat >= t:
                    if self._ready(self.base + k):
                        buf.data[q] = lay.outputs[name][(self.base + k) % slots, j % per]
                    elif q > 0:
                        buf.data[q] = buf.data[q - 1]   # late: hold the last latent
                    q += 1
                j += 1
            buf.count = q
            self.frames_out[name] = j
        self.t = end

    def _events_into(self, buf, rows, fresh: bool, lo: int, hi: int, shift: int) -> None:
        """Copy `buf`'s events with block offset in [lo, hi) into a chunk's rows (offset + shift
        = offset in the chunk); `fresh`: the chunk starts here, so its count starts at 0."""
        if fresh:
            rows[0, 0] = 0.0
            if self.request.fill_header is not None:
                self.request.fill_header(rows[0])
        cap = rows.shape[0] - 1
        for q in range(buf.count):
            o = int(buf.offset[q])
            if lo <= o < hi:
                j = int(rows[0, 0])
                if j >= cap:
                    self.dropped_events += 1
                    continue
                r = rows[1 + j]
                r[0] = o + shift
                r[1] = buf.type[q]
                r[2] = buf.channel[q]
                r[3] = buf.data1[q]
                r[4] = buf.data2[q]
                r[5] = buf.value[q]
                rows[0, 0] = j + 1

    def _submit(self, gid: int) -> None:
        lay, slot = self.layout, gid % self.slots
        lay.slot_reset[slot] = 1 if self.first else 0
        self.first = False
        lay.slot_gid[slot] = gid
        self.submit_time[slot] = time.perf_counter()
        self.gid = gid + 1
        self.worker.wake()

    def _ready(self, gid: int) -> bool:
        lay = self.layout
        if lay.slot_done[gid % self.slots] == gid:
            return True
        if self.realtime:
            if self._counted != gid:     # count each late chunk once
                self._counted = gid
                self.late_chunks += 1
            return False
        return self._wait(gid)

    def _wait(self, gid: int) -> bool:
        """Offline: wait for chunk `gid` (or for the worker to fail)."""
        lay, slot = self.layout, gid % self.slots
        start = time.perf_counter()
        if lay.slot_done[slot] != gid and self._typical_wait > 0.0:
            time.sleep(0.8 * self._typical_wait)   # most of the usual wait in one sleep
        sleep = 0.0
        while lay.slot_done[slot] != gid:
            if self.worker.poll_error() is not None:
                raise LaneFailure(self.worker.error)
            if time.perf_counter() - start > max(30.0, self.request.deadline_s):
                raise LaneFailure(f"model worker hung: no result after {time.perf_counter() - start:.0f} s")
            time.sleep(sleep)
            sleep = min(0.002, sleep + 0.0001)
        waited = time.perf_counter() - start
        if waited > 1e-4:   # a chunk that was not ready: remember how long that takes
            self._typical_wait = waited if self._typical_wait == 0.0 else 0.7 * self._typical_wait + 0.3 * waited
        return True

    # ---- control side --------------------------------------------------------------------

    def health(self) -> str | None:
        """None while the worker is well; else why it failed (raised, died, hung)."""
        err = self.worker.poll_error()
        if err is not None:
            return err
        done = int(self.layout.header[_DONE])
        pending = max(done, self.base)      # the oldest chunk the worker still owes
        if self.gid <= pending:
            self._watch = -1
            return None
        now = time.perf_counter()
        if pending != self._watch:
            # its clock starts at its submission; a slot the audio side has reused since
            # (a running stream submits every chunk period) no longer holds that time
            self._watch = pending
            slot = pending % self.slots
            held = self.layout.slot_gid[slot] == pending and self.submit_time[slot] > 0
            self._watch_since = self.submit_time[slot] if held else now
        waited = now - self._watch_since
        due = (self.latency - self.chunk) / self.sample_rate
        if waited > due + self.request.deadline_s:
            return f"model worker hung: chunk {pending - self.base} is {waited - due:.1f} s past due"
        return None


def _events_out(rows, buf, lo: int, hi: int, shift: int) -> None:
    """Push a result chunk's events with chunk offset in [lo, hi) into `buf` at offset + shift."""
    for j in range(int(rows[0, 0])):
        r = rows[1 + j]
        o = int(r[0])
        if lo <= o < hi:
            buf.push(o + shift, int(r[1]), int(r[2]), int(r[3]), int(r[4]), float(r[5]))


class LaneFailure(RuntimeError):
    """Raised on the audio side (offline only) when the lane's worker failed."""


def attach_lanes(schedule) -> None:
    """Give every step whose node asked for a lane its :class:`Lane` (a surviving node keeps
    its running lane and state)."""
    for step in schedule.node_steps:
        req = step.lane
        if req is None:
            continue
        req.input_delay = schedule.node_latency[step.node_id] - step.node.latency_samples
        if req.lane is None:
            req.lane = Lane(req, schedule.sample_rate)
        step.lane = req.lane


def lanes_of(schedule) -> list:
    return [s.lane for s in schedule.node_steps if s.lane is not None]


def set_realtime(schedule, realtime: bool) -> None:
    for lane in lanes_of(schedule):
        lane.realtime = realtime


def check_lanes(schedule, reports) -> None:
    """Control side: bypass (and report) nodes whose lane worker raised, died or hung."""
    for step in schedule.node_steps:
        lane = step.lane
        if lane is None or step.bypassed:
            continue
        why = lane.health()
        if why is not None:
            step.node.error = f"{why}; bypassed"
            step.bypassed = True
            reports.append((step.node_id, step.node.error))
            if "hung" in why:
                lane.worker.kill()


def close_lanes(schedule, keep=None) -> None:
    """Stop the workers of `schedule`'s lanes that `keep` (a schedule) does not use."""
    kept = {id(lane) for lane in lanes_of(keep)} if keep is not None else set()
    for lane in lanes_of(schedule):
        if id(lane) not in kept:
            lane.worker.close()
