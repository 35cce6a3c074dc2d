"""Transport and meters: the editor's side of the live engine.

The engine client is message-only; this object forwards every graph command to it, polls
meters at 4 Hz and feeds visualizers at 30 fps, and runs its timers only while audio plays.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

METER_MS = 250
FRAME_MS = 33

DEFAULT_SETTINGS = {"mode": "auto", "backend": "sounddevice", "sample_rate": 48000,
                    "block_size": 256, "input_device": None, "output_device": None}


def _engine_client_class():
    try:
        from neuropatch.engine.live import EngineClient
    except ImportError as exc:
        return None, f"the live engine is not available ({exc})"
    return EngineClient, ""


class LiveController(QObject):
    metersUpdated = Signal(dict)
    runningChanged = Signal(bool)
    message = Signal(str)

    def __init__(self, document, parent=None, client_factory=None):
        super().__init__(parent)
        self.document = document
        self.client_factory = client_factory
        self.settings = dict(DEFAULT_SETTINGS)
        self.client = None
        self.running = False
        self.limiter = True
        self.sinks: list = []        # visualizers: objects with node_id, port, feed(array)
        self._taps: dict = {}
        self.meter_timer = QTimer(self, interval=METER_MS)
        self.meter_timer.timeout.connect(self.poll_meters)
        self.frame_timer = QTimer(self, interval=FRAME_MS)
        self.frame_timer.timeout.connect(self.feed_visualizers)
        document.commandApplied.connect(self._forward)
        document.graphReplaced.connect(self._reload)

    def available(self) -> tuple[bool, str]:
        if self.client_factory is not None:
            return True, ""
        cls, why = _engine_client_class()
        return cls is not None, why

    def engine_graph(self):
        """The document's graph as the engine gets it: with a MIDI input chosen in the audio
        settings, every MIDI In node listens to that port (the patch itself is unchanged)."""
        port = self.settings.get("midi_input")
        graph = self.document.graph
        if not port or not any(s.type == "io.midi_in" for s in graph.nodes.values()):
            return graph
        graph = graph.copy()
        for spec in graph.nodes.values():
            if spec.type == "io.midi_in":
                spec.params["device"] = port
        return graph

    def configure(self, values: dict) -> None:
        was = self.running
        if was:
            self.stop()
        self.close_client()
        self.settings.update(values)
        if was:
            self.start()

    def _make_client(self):
        s = self.settings
        if self.client_factory is not None:
            return self.client_factory(**s)
        cls, why = _engine_client_class()
        if cls is None:
            raise RuntimeError(why)
        kwargs = dict(mode=s["mode"], sample_rate=s["sample_rate"], block_size=s["block_size"],
                      backend=s["backend"])
        for key in ("input_device", "output_device"):
            if s.get(key) is not None:
                kwargs[key] = s[key]
        try:
            return cls(**kwargs)
        except TypeError:  # a client without device selection
            kwargs.pop("input_device", None)
            kwargs.pop("output_device", None)
            return cls(**kwargs)

    def start(self) -> bool:
        if self.running:
            return True
        try:
            if self.client is None:
                self.client = self._make_client()
                self.client.load(self.engine_graph(), self.document.base_dir)
                self.client.set_limiter(self.limiter)
            self.client.start()
        except Exception as exc:  # device errors, missing backends: report, never crash
            self.message.emit(f"cannot start audio: {exc}")
            self.close_client()
            return False
        self.running = True
        self._taps.clear()
        self.meter_timer.start()
        if self.sinks:
            self.frame_timer.start()
        self.runningChanged.emit(True)
        return True

    def stop(self) -> None:
        self.meter_timer.stop()
        self.frame_timer.stop()
        if self.client is not None and self.running:
            try:
                self.client.stop()
            except Exception as exc:
                self.message.emit(f"error while stopping audio: {exc}")
        was = self.running
        self.running = False
        if was:
            self.runningChanged.emit(False)

    def close_client(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
            except Exception:
                pass
        self.client = None
        self._taps.clear()

    def shutdown(self) -> None:
        self.stop()
        self.close_client()

    def set_limiter(self, on: bool) -> None:
        self.limiter = bool(on)
        if self.client is not None:
            self.client.set_limiter(self.limiter)

    # ---- engine side ---------------------------------------------------------------------------

    def _forward(self, command) -> None:
        if self.client is None:
            return
        try:
            self.client.apply(command)
        except Exception as exc:
            self.message.emit(f"engine rejected the edit: {exc}")

    def _reload(self) -> None:
        if self.client is None:
            return
        try:
            self.client.load(self.engine_graph(), self.document.base_dir)
        except Exception as exc:
            self.message.emit(f"engine cannot load the patch: {exc}")

    def poll_meters(self) -> dict:
        if self.client is None:
            return {}
        try:
            m = dict(self.client.meters())
        except Exception as exc:
            self.message.emit(f"meters unavailable: {exc}")
            return {}
        self.metersUpdated.emit(m)
        return m

    def tap(self, node_id: str, port: str):
        key = (node_id, port)
        if key not in self._taps and self.client is not None:
            self._taps[key] = self.client.tap(node_id, port)
        return self._taps.get(key)

    def add_sink(self, sink) -> None:
        self.sinks.append(sink)
        if self.running and not self.frame_timer.isActive():
            self.frame_timer.start()

    def remove_sink(self, sink) -> None:
        if sink in self.sinks:
            self.sinks.remove(sink)
        if not self.sinks:
            self.frame_timer.stop()

    def feed_visualizers(self) -> None:
        for sink in list(self.sinks):
            try:
                tap = self.tap(sink.node_id, sink.port)
                if tap is not None:
                    data = tap.read()
                    if data is not None and np.size(data):
                        sink.feed(np.asarray(data))
            except Exception as exc:
                self.message.emit(f"tap {sink.node_id}.{sink.port}: {exc}")
                self.remove_sink(sink)

    def probe_text(self, edge) -> str:
        """A one-line reading of a cable for its hover tooltip."""
        try:
            tap = self.tap(edge.src, edge.src_port)
            data = None if tap is None else tap.latest(2048)
        except Exception:
            return ""
        if data is None or not np.size(data):
            return "no signal yet"
        data = np.asarray(data, dtype=np.float32)
        peak = float(np.max(np.abs(data)))
        rms = float(np.sqrt(np.mean(np.square(data))))
        db = lambda v: 20 * np.log10(max(v, 1e-9))
        return f"peak {db(peak):.1f} dBFS, rms {db(rms):.1f} dBFS, shape {list(data.shape)}"
