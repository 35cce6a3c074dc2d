"""MIDI in the editor: a dropped .mid becomes a file player; the MIDI input chosen in the
audio settings reaches the engine without changing the patch."""
from pathlib import Path

import mido


def test_dropping_a_midi_file_adds_a_midi_file_player(window, tmp_path):
    from PySide6.QtCore import QPointF

    mid = mido.MidiFile()
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", note=60, velocity=90),
                                      mido.Message("note_off", note=60, time=480)]))
    mid.save(str(tmp_path / "riff.mid"))
    (node,) = window.drop_files([tmp_path / "riff.mid"], QPointF(0, 0))
    spec = window.doc.graph.nodes[node]
    assert spec.type == "io.midi_file_player"
    assert Path(spec.resources["file"]["path"]).name == "riff.mid"


def test_the_midi_input_chosen_in_the_settings_reaches_the_engine_only(fake_window):
    w = fake_window
    keys = w.doc.add_node("io.midi_in", (0, 0))
    w.live.configure({"midi_input": "Keyboard:midi_out"})
    w.toggle_transport()
    assert w.live.client.loaded.nodes[keys].params["device"] == "Keyboard:midi_out"
    assert w.doc.graph.nodes[keys].params.get("device", "") == ""


def test_the_audio_settings_offer_the_midi_input(qtbot):
    from neuropatch.app.editor.settings_dialog import AudioSettingsDialog

    dlg = AudioSettingsDialog({"midi_input": "Keyboard:midi_out"})
    qtbot.addWidget(dlg)
    assert dlg.values()["midi_input"] == "Keyboard:midi_out"
    dlg.midi.setCurrentIndex(0)
    assert dlg.values()["midi_input"] is None
