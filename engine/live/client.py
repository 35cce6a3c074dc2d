"""The controlling side's handle on a live engine (used by the editor and the CLI).

Everything goes through messages, so the engine can run in its own process (default
for blocks below 1024 samples: a busy GUI cannot starve the audio callback through
the GIL) or in a thread of this process; both modes run the same engine code::

    client = EngineClient(mode="process", block_size=256)
    client.load(graph, base_dir)
    client.start()
    client.set_param("gain", "gain_db", -6.0)
    client.apply(Connect(Edge("osc", "out", "out", "in")))
    meters = client.meters()          # dict, from shared memory
    scope = client.tap("gain", "out")  # TapReader over a shared-memory ring
    audio = scope.read()               # float32 [channels, samples]
    client.close()

Messages carry plain data only (graph dicts, the command dataclasses of
:mod:`neuropatch.engine.graph`, numbers); pickling is used only on the queue between
our own processes.
"""
from __future__ import annotations

import itertools
import os
import multiprocessing as mp
import queue
import threading
import time

import numpy as np

from ..graph import Command, Graph, plain_data_fault
from ..patch import graph_to_dict
from .server import EngineConfig, serve
from .shm_ring import HEADER_BYTES, SnapshotBoard, TapReader, create_shm
from .stream import LiveAudioError

#: Blocks of at least this many samples run the engine in a thread in "auto" mode.
AUTO_THREAD_BLOCK = 1024
BOARD_BYTES = 1 << 18
TAP_FLOATS = 1 << 19   # per tap ring: 2 MiB, e.g. 5.4 s of stereo audio at 48 kHz

_START_METHOD = "spawn"   # the controlling process may run Qt: never fork it


def _default_meters(sample_rate: int, block_size: int) -> dict:
    return {"running": False, "load_avg": 0.0, "load_peak": 0.0, "xruns": 0,
            "latency_samples": 0, "latency_ms": 0.0, "io_latency_ms": 0.0,
            "graph_latency_samples": 0, "node_cpu": {}, "errors": {},
            "sample_rate": sample_rate, "block_size": block_size, "nodes": [], "edges": 0,
            "generation": 0, "compile_error": None, "stream_error": None, "warnings": [],
            "notes": []}


class EngineClient:
    """Start, edit and meter a live engine.

    mode: "process" (engine in a spawned process), "thread" (same process), "auto"
    (process below :data:`AUTO_THREAD_BLOCK` samples). sample_rate in Hz, block_size in
    samples. input_device / output_device: PortAudio index or name (None = host default).
    in_channels / out_channels: device channels (None = device's, at most 2).
    backend: "sounddevice" (PortAudio) or "offline" (no sound card: a real-time timer
    thread with silence in, or :meth:`pump`). crossfade_ms: fade of schedule swaps (ms).
    limiter: output safety limiter on. registry: "module:factory" returning the node
    Registry the engine uses (None = built-ins and installed packs).

    In process mode the controlling program's main module must be importable without
    side effects (the ``if __name__ == "__main__":`` guard): the engine is spawned.
    """

    def __init__(self, mode: str = "auto", sample_rate: int = 48000, block_size: int = 256,
                 input_device=None, output_device=None, in_channels: int | None = None,
                 out_channels: int | None = None, backend: str = "sounddevice",
                 crossfade_ms: float = 10.0, limiter: bool = True, registry: str | None = None,
                 ready_timeout: float = 60.0):
        if mode == "auto":
            mode = "process" if block_size < AUTO_THREAD_BLOCK else "thread"
        if mode not in ("process", "thread"):
            raise ValueError(f"mode must be 'process', 'thread' or 'auto', not {mode!r}")
        if backend not in ("sounddevice", "offline"):
            raise ValueError(f"backend must be 'sounddevice' or 'offline', not {backend!r}")
        self.mode = mode
        self.sample_rate, self.block_size = int(sample_rate), int(block_size)
        self._tokens = itertools.count(1)
        self._tap_ids = itertools.count(1)
        self._taps: dict = {}
        self._closed = False
        self._stash: dict = {}
        self._board_shm = create_shm(BOARD_BYTES)
        self._board_shm.buf[:16] = bytes(16)
        self._board = SnapshotBoard(self._board_shm)
        self._last_meters = _default_meters(self.sample_rate, self.block_size)
        ctx = mp.get_context(_START_METHOD)
        self._commands = ctx.Queue()
        self._replies = ctx.Queue()
        config = EngineConfig(self.sample_rate, self.block_size, input_device, output_device,
                              in_channels, out_channels, backend, crossfade_ms, limiter,
                              registry=registry, own_process=mode == "process",
                              parent_pid=os.getpid() if mode == "process" else None)
        args = (config, self._commands, self._replies, self._board_shm.name)
        if mode == "process":
            self._worker = ctx.Process(target=serve, args=args, name="neuropatch-engine", daemon=True)
        else:
            self._worker = threading.Thread(target=serve, args=args, name="neuropatch-engine", daemon=True)
        self._worker.start()
        try:
            info = self._wait("ready", None, ready_timeout)
        except LiveAudioError:
            self._release()
            raise
        self.engine_pid = info.get("pid") if isinstance(info, dict) else None

    # ---- messaging --------------------------------------------------------------------------

    def _send(self, kind: str, *args, token=None) -> None:
        if self._closed:
            raise LiveAudioError("the engine client is closed")
        self._commands.put((kind, token) + args)

    def _wait(self, kind: str, token, timeout: float):
        deadline = time.monotonic() + timeout
        key = (kind, token)
        while key not in self._stash:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LiveAudioError(f"the engine did not answer {kind!r} within {timeout:.0f} s")
            try:
                r_kind, r_token, ok, payload = self._replies.get(timeout=min(left, 0.2))
            except queue.Empty:
                if not self._worker.is_alive():
                    raise LiveAudioError("the engine stopped unexpectedly") from None
                continue
            self._stash[(r_kind, r_token)] = (ok, payload)
        ok, payload = self._stash.pop(key)
        if not ok:
            raise LiveAudioError(f"{kind}: {payload}")
        return payload

    def _request(self, kind: str, *args, timeout: float = 30.0):
        token = next(self._tokens)
        self._send(kind, *args, token=token)
        return self._wait(kind, token, timeout)

    # ---- graph ------------------------------------------------------------------------------

    def load(self, graph: Graph, base_dir=None) -> None:
        """Send the whole graph; the engine compiles it and crossfades to it (async).

        Errors show in ``meters()["compile_error"]``; :meth:`sync` waits for the compile.
        """
        doc = graph_to_dict(graph)
        self._send("load", doc, str(base_dir) if base_dir else None)

    def apply(self, command) -> None:
        """Apply a graph command (engine.graph) to the engine's copy of the graph (async).

        Structural edits recompile off the audio thread and swap at a block boundary with a
        crossfade; surviving nodes keep their state. Param and position edits do not
        recompile. Raises TypeError at once when the command is not a graph command made of
        plain data (numbers, strings, lists, dicts, graph dataclasses).
        """
        if not isinstance(command, Command):
            raise TypeError(f"command is not plain data: {type(command).__name__} is not a graph command")
        fault = plain_data_fault(command)
        if fault:
            raise TypeError(f"command is not plain data: {fault}")
        self._send("apply", command)

    def set_param(self, node_id: str, name: str, value) -> None:
        """Fast path: the node glides to the value at the next block; no recompile."""
        self._send("param", node_id, name, value)

    def sync(self, timeout: float = 30.0) -> int:
        """Wait until the engine has handled every earlier message; returns its graph generation."""
        return self._request("sync", timeout=timeout)

    # ---- transport --------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> dict:
        """Open (if needed) and start the stream; raises LiveAudioError when the device
        cannot run as asked. Returns device names, channels and latencies (s)."""
        return self._request("start", timeout=timeout)

    def stop(self, timeout: float = 30.0) -> None:
        self._request("stop", timeout=timeout)

    def pump(self, blocks: int = 1, audio_in: np.ndarray | None = None, timeout: float = 60.0) -> np.ndarray:
        """Offline backend, stopped: run ``blocks`` blocks now. audio_in: float32 [channels,
        samples] (None = silence). Returns float32 [out_channels, blocks * block_size]."""
        if audio_in is not None:
            audio_in = np.ascontiguousarray(audio_in, np.float32)
        return self._request("pump", int(blocks), audio_in, timeout=timeout)

    def set_limiter(self, enabled: bool) -> None:
        """Safety limiter on the output (ceiling -0.3 dBFS), on by default. NaN/Inf are zeroed
        either way."""
        self._send("limiter", bool(enabled))

    # ---- meters and taps --------------------------------------------------------------------

    def meters(self) -> dict:
        """Latest meters (see the engine server's snapshot): load_avg / load_peak (fraction
        of a block, per meter window), xruns, latency_samples / latency_ms (round trip:
        device input + output + graph), io_latency_ms, graph_latency_samples, node_cpu
        (node id -> fraction of a block), errors (node id -> message), sample_rate (Hz),
        block_size (samples), and more (compile_error, stream_error, warnings, ...)."""
        if self._closed:
            return dict(self._last_meters, running=False)
        snap = self._board.read()
        if snap:
            self._last_meters = snap
        return self._last_meters

    def tap(self, node_id: str, port: str, capacity_floats: int = TAP_FLOATS) -> TapReader:
        """A reader of the stream on ``node_id.port`` (an output, or else an input port).

        The ring holds ``capacity_floats`` float32 values (its capacity in items follows from
        the stream's shape). Reading never blocks the audio side.
        """
        if self._closed:
            raise LiveAudioError("the engine client is closed")
        shm = create_shm(HEADER_BYTES + 4 * int(capacity_floats))
        shm.buf[:HEADER_BYTES] = bytes(HEADER_BYTES)
        tap_id = next(self._tap_ids)
        reader = TapReader(shm, node_id, port, owner=self)
        reader.tap_id = tap_id
        self._taps[tap_id] = (shm, reader)
        self._send("tap", tap_id, node_id, port, shm.name)
        return reader

    def untap(self, reader: TapReader) -> None:
        """Stop feeding ``reader`` (its memory is released when the client closes)."""
        if not self._closed:
            self._send("untap", reader.tap_id)

    # ---- lifetime ---------------------------------------------------------------------------

    def close(self, timeout: float = 10.0) -> None:
        """Stop the stream, end the engine, release shared memory. Safe to call twice."""
        if self._closed:
            return
        try:
            if self._worker.is_alive():
                self._send("close")
                try:
                    self._wait("close", None, timeout)
                except LiveAudioError:
                    pass
        finally:
            self._closed = True
            self._worker.join(timeout)
            if self.mode == "process" and self._worker.is_alive():
                self._worker.terminate()
                self._worker.join(2.0)
            self._release()

    def _release(self) -> None:
        self._closed = True
        for shm, reader in self._taps.values():
            reader.close()
            shm.close()
            shm.unlink()
        self._taps.clear()
        self._board.close()
        self._board_shm.unlink()
        for q in (self._commands, self._replies):
            q.close()
            q.cancel_join_thread()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if not self._closed:
                self.close(timeout=2.0)
        except Exception:  # interpreter shutdown: nothing left to release safely
            pass
