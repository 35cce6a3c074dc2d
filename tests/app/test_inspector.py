"""Inspector: editors from param specs, undo of edits, resources, bypass badges."""
import math

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QLineEdit

from neuropatch.app.editor.inspector import NumberParamEditor


def test_editors_follow_the_param_specs(window):
    osc = window.doc.add_node("gen.oscillator", (0, 0))
    window.scene.select_nodes([osc])
    ed = window.inspector.editors
    assert isinstance(ed["waveform"], QComboBox) and ed["waveform"].count() == 3
    freq = ed["freq_hz"]
    assert isinstance(freq, NumberParamEditor) and freq.log and freq.spin.suffix() == " Hz"
    # log knob: the middle of the slider is the geometric mean of the range
    assert freq.from_slider(500) == pytest.approx(math.sqrt(1.0 * 20000.0), rel=0.01)
    player = window.doc.add_node("io.file_player", (0, 200))
    window.scene.select_nodes([player])
    assert isinstance(window.inspector.editors["loop"], QCheckBox)
    rec = window.doc.add_node("io.recorder", (0, 400))
    window.scene.select_nodes([rec])
    line = window.inspector.editors["path"]
    assert isinstance(line, QLineEdit)
    line.setText("take1.wav")
    line.editingFinished.emit()
    assert window.doc.graph.nodes[rec].params["path"] == "take1.wav"


def test_param_edits_undo_and_the_inspector_follows(window):
    osc = window.doc.add_node("gen.oscillator", (0, 0))
    window.scene.select_nodes([osc])
    freq = window.inspector.editors["freq_hz"]
    freq.spin.setValue(1000.0)
    assert window.doc.graph.nodes[osc].params["freq_hz"] == 1000.0
    window.doc.undo_stack.undo()
    assert window.doc.graph.nodes[osc].params["freq_hz"] == 440.0
    assert window.inspector.editors["freq_hz"].spin.value() == 440.0
    freq.spin.setValue(880.0)
    freq.reset.click()
    assert window.doc.graph.nodes[osc].params["freq_hz"] == 440.0
    window.doc.undo_stack.undo()
    assert window.doc.graph.nodes[osc].params["freq_hz"] == 880.0


def test_double_clicking_a_slider_lets_you_type_the_value(window, qtbot):
    osc = window.doc.add_node("gen.oscillator", (0, 0))
    window.scene.select_nodes([osc])
    freq = window.inspector.editors["freq_hz"]
    pos = QPointF(freq.slider.rect().center())
    ev = QMouseEvent(QEvent.MouseButtonDblClick, pos, freq.slider.mapToGlobal(pos),
                     Qt.LeftButton, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(freq.slider, ev)
    assert freq.spin.hasFocus() or QApplication.focusWidget() is freq.spin.findChild(QLineEdit)
    assert window.doc.graph.nodes[osc].params["freq_hz"] == 440.0   # no value change


def test_resource_picker_stores_a_relative_path_and_hash(window, tmp_path):
    window.save_as(tmp_path / "patch.json")
    (tmp_path / "media").mkdir()
    wav = tmp_path / "media" / "drums.wav"
    sf.write(wav, np.zeros(100, np.float32), 48000)
    player = window.doc.add_node("io.file_player", (0, 0))
    window.scene.select_nodes([player])
    window.inspector.file_dialog = lambda name, ext: str(wav)
    window.inspector._pick("file", (".wav",))
    res = window.doc.graph.nodes[player].resources["file"]
    assert res["path"] == "media/drums.wav" and len(res["sha256"]) == 64
    assert window.inspector.resource_labels["file"].text() == "media/drums.wav"
    window.doc.undo_stack.undo()
    assert "file" not in window.doc.graph.nodes[player].resources


def test_a_node_that_fails_to_prepare_shows_a_badge_with_the_reason(window, tmp_path):
    player = window.doc.add_node("io.file_player", (0, 0),
                                 resources={"file": {"path": str(tmp_path / "gone.wav")}})
    window.validate()
    item = window.scene.node_items[player]
    assert item.error and "gone.wav" in item.error
    assert "bypassed" in item.toolTip()
    window.doc.undo_stack.undo()
    window.doc.add_node("gen.noise", (0, 0))
    window.validate()
    assert window.scene.errors == {}


def test_inspector_shows_what_the_model_file_says(window, tmp_path):
    """The amp node's model metadata (name, gear, loudness, architecture, rate) appears under
    its resource picker, and a broken model file shows its error instead."""
    import json
    import shutil
    from pathlib import Path

    fixture = Path(__file__).resolve().parents[1] / "nodes" / "data" / "amp" / "lstm_07.nam"
    model = json.loads(fixture.read_text())
    model["metadata"] = {"name": "Plexi crunch", "gear_make": "Marshall", "gear_model": "1959",
                         "gear_type": "amp", "loudness": -18.25}
    (tmp_path / "plexi.nam").write_text(json.dumps(model))
    amp = window.doc.add_node("amp.nam", (0, 0))
    window.scene.select_nodes([amp])
    assert window.inspector.set_resource_file("model", tmp_path / "plexi.nam")
    text = window.inspector.resource_infos["model"].text()
    assert "Plexi crunch" in text and "Marshall 1959 (amp)" in text and "-18.2 dB" in text
    assert "LSTM" in text and "48000 Hz" in text

    shutil.copy(Path(__file__).resolve().parents[1] / "nodes" / "data" / "amp" / "bad" / "missing_weights.nam",
                tmp_path / "broken.nam")
    assert window.inspector.set_resource_file("model", tmp_path / "broken.nam")
    assert "weights" in window.inspector.resource_infos["model"].text()
