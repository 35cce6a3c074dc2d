"""The transport: Play/Stop, audio settings, and the meters in the status bar.

Play reads "Starting…" (button and status) from the click until the engine reports its
first audio block; then it is Stop.
"""
from __future__ import annotations

from PySide6.QtWidgets import QApplication, QLabel

STARTING = "◌ Starting…"


class TransportController:
    """Drives the window's LiveController from the Play action and shows its meters."""

    def __init__(self, window, play_action):
        self.window = window
        self.live = window.live
        self.play_action = play_action
        self.load_label, self.xrun_label, self.latency_label = QLabel(), QLabel(), QLabel()
        for label in (self.load_label, self.xrun_label, self.latency_label):
            window.statusBar().addPermanentWidget(label)
        self.starting = False      # Play clicked, no audio block reported yet
        self.live.metersUpdated.connect(self.show_meters)
        self.live.runningChanged.connect(self.running_changed)

    def toggle(self) -> None:
        if self.live.running:
            self.live.stop()
            return
        self.show_starting()
        QApplication.processEvents()     # paint "Starting…" before the engine loads the patch
        if not self.live.start():
            self.starting = False
            self.running_changed(False)

    def show_starting(self) -> None:
        self.starting = True
        self.play_action.setText(STARTING)
        self.play_action.setToolTip("starting audio: waiting for the first block")
        self.window.status("starting audio…", 0)

    def audio_settings(self) -> None:
        from .settings_dialog import AudioSettingsDialog

        dlg = AudioSettingsDialog(self.live.settings, self.window)
        if dlg.exec():
            self.live.configure(dlg.values())

    def running_changed(self, running: bool) -> None:
        ok, why = self.live.available()
        self.play_action.setEnabled(ok)
        if running and self.starting:
            self.play_action.setText(STARTING)
        else:
            self.starting = False
            self.play_action.setText("■ Stop" if running else "▶ Play")
            self.play_action.setToolTip(why if not ok else ("stop audio" if running else "start audio"))
        scene = self.window.scene
        if not running:
            self.load_label.setText("stopped")
            self.xrun_label.setText("")
            self.latency_label.setText("")
            scene.set_probe(None)
        else:
            scene.set_probe(self.live.probe_text)

    def show_meters(self, m: dict) -> None:
        if self.starting and self.live.running and m.get("blocks", 1) > 0:
            self.starting = False        # the first audio block went through
            self.play_action.setText("■ Stop")
            self.play_action.setToolTip("stop audio")
            self.window.status("playing")
        self.load_label.setText(f"load {100 * m.get('load_avg', 0):.0f}% (peak {100 * m.get('load_peak', 0):.0f}%)")
        self.xrun_label.setText(f"xruns {m.get('xruns', 0)}")
        self.latency_label.setText(f"latency {m.get('latency_ms', 0):.1f} ms")
        self.window.scene.set_errors(m.get("errors", {}) or {})
        problem = m.get("compile_error") or m.get("stream_error")
        if problem:
            self.window.status(f"engine: {problem}")
