"""Transport, meters, visualizers and the idle editor."""
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer

REPO = Path(__file__).resolve().parents[2]


def active_timers(window):
    """Active timers, except the status bar's own one-shot that clears a shown message."""
    from PySide6.QtWidgets import QStatusBar

    return [t for t in window.findChildren(QTimer) if t.isActive() and not isinstance(t.parent(), QStatusBar)]


def test_stopped_editor_runs_no_timers_and_stays_idle(window, qtbot, tmp_path):
    patch = tmp_path / "mixer.json"
    patch.write_bytes((REPO / "patches" / "hello_mixer.json").read_bytes())
    assert window.open_path(patch)
    window.show_visualizer("mix", "out", "spectrogram")
    window.show_visualizer("low", "out", inline=True)
    window.doc.set_param("mix", "gain1_db", -3.0)
    window.save()                                  # nothing left to autosave
    qtbot.waitUntil(lambda: not window.validate_timer.isActive(), timeout=3000)
    assert active_timers(window) == []
    qtbot.wait(100)
    t0, c0 = time.perf_counter(), time.process_time()
    qtbot.wait(2000)
    cpu = (time.process_time() - c0) / (time.perf_counter() - t0)
    assert cpu <= 0.02, f"idle editor used {100 * cpu:.1f}% CPU"


def test_visualizers_draw_what_they_are_fed():
    from neuropatch.app.editor import visualizers as v

    sr = 48000
    t = np.arange(4096) / sr
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)[None]
    scope = v.ScopeView()
    scope.feed(tone)
    assert np.max(np.abs(scope.buffer)) == pytest.approx(0.5, abs=1e-3)
    meter = v.LevelMeter()
    meter.feed(tone)
    assert meter.peak_db[0] == pytest.approx(-6.02, abs=0.1)
    assert meter.rms_db[0] == pytest.approx(-9.03, abs=0.1)
    spec = v.SpectrogramView()
    spec.feed(tone)
    column = spec.rolling.image[-1]
    assert abs(int(np.argmax(column)) - round(1000 / (sr / spec.N_FFT))) <= 1
    frames = np.zeros((3, 1, 80), np.float32)
    frames[:, 0, 10] = 1.0
    spec.feed(frames)
    assert spec.rolling.image.shape[1] == 80 and np.argmax(spec.rolling.image[-1]) == 10
    curve = v.CurveView()
    curve.feed(np.array([110.0, 220.0], np.float32))
    assert list(curve.values[-2:]) == [110.0, 220.0]
    curve.feed(np.full((4, 1, 1), 440.0, np.float32))  # pitch frames
    assert curve.values[-1] == 440.0
    latent = v.LatentPlot()
    latent.feed(np.ones((5, 16), np.float32))
    assert latent.rolling.image.shape == (v.HISTORY, 16) and latent.rolling.image[-1, 0] == 1.0


def test_transport_forwards_edits_shows_meters_and_stops_its_timers(fake_window, qtbot):
    w = fake_window
    assert w.open_path(REPO / "patches" / "hello_tone.json")
    dock = w.show_visualizer("gain", "out")
    assert dock.view_name == "scope"
    w.toggle_transport()
    client = w.live.client
    assert w.live.running and client.started == 1 and client.loaded.same_as(w.doc.graph)
    assert w.live.meter_timer.isActive() and w.live.frame_timer.isActive()
    assert w.live.frame_timer.interval() <= 33            # >= 30 fps
    w.doc.set_param("osc", "freq_hz", 330.0)
    assert client.commands[-1].name == "freq_hz" and client.commands[-1].value == 330.0
    qtbot.waitUntil(lambda: "xruns 3" in w.xrun_label.text(), timeout=2000)
    assert "25%" in w.load_label.text() and "12.5 ms" in w.latency_label.text()
    assert w.scene.node_items["gain"].error == "raised ValueError; bypassed"
    qtbot.waitUntil(lambda: np.max(np.abs(dock.view.buffer)) > 0.2, timeout=2000)
    edge = w.doc.graph.edges[0]
    assert "peak -12.0 dBFS" in w.scene.cable_items[edge].probe(edge)
    w.toggle_transport()
    assert not w.live.running and client.started == 0
    assert not w.live.meter_timer.isActive() and not w.live.frame_timer.isActive()
    assert w.load_label.text() == "stopped"


def test_transport_is_disabled_with_a_reason_when_the_engine_is_missing(window, monkeypatch):
    from neuropatch.app.editor import live

    monkeypatch.setattr(live, "_engine_client_class", lambda: (None, "the live engine is not available (test)"))
    window._running_changed(False)
    assert not window.play_action.isEnabled()
    assert "not available" in window.play_action.toolTip()
    assert not window.live.start()


@pytest.mark.slow
def test_real_engine_plays_a_patch_offline_and_feeds_a_scope(window, qtbot):
    assert window.open_path(REPO / "patches" / "hello_tone.json")
    window.live.configure({"mode": "thread", "backend": "offline"})
    dock = window.show_visualizer("gain", "out", "scope")
    assert window.live.start(), window.statusBar().currentMessage()
    try:
        qtbot.waitUntil(lambda: np.max(np.abs(dock.view.buffer)) > 0.01, timeout=20000)
        qtbot.waitUntil(lambda: window.load_label.text().startswith("load"), timeout=5000)
    finally:
        window.live.stop()
    assert not window.live.frame_timer.isActive()


def test_audio_settings_dialog_returns_the_chosen_values(qtbot):
    from neuropatch.app.editor.settings_dialog import AudioSettingsDialog

    dlg = AudioSettingsDialog({"sample_rate": 44100, "block_size": 128, "mode": "thread",
                               "backend": "offline"})
    qtbot.addWidget(dlg)
    v = dlg.values()
    assert (v["sample_rate"], v["block_size"], v["mode"], v["backend"]) == (44100, 128, "thread", "offline")
    dlg.block.setCurrentIndex(dlg.block.findData(512))
    assert dlg.values()["block_size"] == 512
