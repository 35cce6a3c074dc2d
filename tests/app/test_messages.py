"""Messages where the eye is: a refused cable says why at the drop point, Play reads
"Starting…" until the first audio block, and an audio error names its fix."""
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QToolTip

from .ui import drag, port_pos

REPO = Path(__file__).resolve().parents[2]


def test_a_refused_cable_says_why_in_a_tooltip_where_it_was_dropped(window):
    osc = window.doc.add_node("gen.oscillator", (0, 0))
    gain = window.doc.add_node("util.gain", (300, 0))
    window.view.frame_all()
    drag(window, port_pos(window, osc, "out", True), port_pos(window, gain, "out", True))
    assert window.doc.graph.edges == []
    assert "both ports are outputs" in QToolTip.text()
    assert "both ports are outputs" in window.statusBar().currentMessage()


def test_a_cable_end_moved_onto_an_input_of_another_kind_stays_and_says_why(window):
    osc = window.doc.add_node("gen.oscillator", (0, 0))
    gain = window.doc.add_node("util.gain", (300, 0))
    frames = window.doc.add_node("spectral.gain", (300, 200))
    window.doc.connect_ports(osc, "out", gain, "in")
    window.view.frame_all()
    drag(window, port_pos(window, gain, "in", False), port_pos(window, frames, "in", False))
    assert [str(e) for e in window.doc.graph.edges] == [f"{osc}.out -> {gain}.in"]
    assert "stream kinds differ" in QToolTip.text()


@pytest.mark.slow
def test_play_reads_starting_until_the_first_audio_block(window, qtbot):
    assert window.open_path(REPO / "patches" / "hello_tone.json")
    window.live.configure({"mode": "thread", "backend": "offline"})
    shown = []
    window.transport.play_action.changed.connect(lambda: shown.append(window.play_action.text()))
    window.toggle_transport()
    try:
        assert shown[0] == "◌ Starting…"
        assert window.play_action.text() == "◌ Starting…"
        assert window.statusBar().currentMessage() == "starting audio…"
        qtbot.waitUntil(lambda: window.play_action.text() == "■ Stop", timeout=20000)
        assert window.statusBar().currentMessage() == "playing"
    finally:
        window.toggle_transport()
    assert window.play_action.text() == "▶ Play"


class _NoPortAudio:
    """Imports sounddevice as it behaves on a system without libportaudio."""

    def find_spec(self, name, path=None, target=None):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return None


def test_a_missing_portaudio_names_the_package_to_install(window, monkeypatch):
    from neuropatch.engine.live.stream import list_devices

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPortAudio()] + sys.meta_path)
    with pytest.raises(OSError) as exc:
        list_devices()
    assert "sudo apt-get install libportaudio2" in str(exc.value)
    window.live.configure({"mode": "thread", "backend": "sounddevice"})
    window.toggle_transport()
    assert not window.live.running
    assert window.play_action.text() == "▶ Play"
    message = window.statusBar().currentMessage()
    assert "PortAudio library not found" in message and "sudo apt-get install libportaudio2" in message
