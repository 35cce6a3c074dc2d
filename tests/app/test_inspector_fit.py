"""Inspector at the default window size: every control visible, labels in words, ranges
shown, out-of-range input refused visibly, a node's warnings next to the param they name."""
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from neuropatch.app.editor.inspector import ElidedLabel
from neuropatch.engine import default_registry


def _outside_viewport(inspector) -> list:
    """Visible widgets of the inspector body that reach beyond the scroll viewport's width."""
    viewport = inspector.scroll.viewport()
    bad = []
    if inspector.body.width() > viewport.width():
        bad.append(f"body {inspector.body.width()} px wide in a {viewport.width()} px viewport")
    for w in inspector.body.findChildren(QWidget):
        if not w.isVisibleTo(inspector.body) or not isinstance(w.parentWidget(), QWidget):
            continue
        left = w.mapTo(viewport, w.rect().topLeft()).x()
        right = w.mapTo(viewport, w.rect().topRight()).x()
        if left < 0 or right >= viewport.width():
            bad.append(f"{type(w).__name__} {getattr(w, 'text', lambda: '')()!r} spans x {left}..{right}")
        if isinstance(w, QLabel) and not w.wordWrap() and not isinstance(w, ElidedLabel) \
                and w.sizeHint().width() > w.width():
            bad.append(f"label {w.text()!r} cut: needs {w.sizeHint().width()} px, has {w.width()}")
    return bad


@pytest.mark.parametrize("type_id", sorted(c.type_id for c in default_registry().classes()))
def test_the_inspector_at_1280_by_800_shows_every_control_of_every_node_type_unclipped(window, type_id):
    window.resize(1280, 800)
    node = window.doc.add_node(type_id, (0, 0))
    assert node is not None
    window.scene.select_nodes([node])
    QApplication.processEvents()
    assert window.inspector.node_id == node
    assert window.inspector.scroll.horizontalScrollBar().maximum() == 0   # never scrolls sideways
    assert _outside_viewport(window.inspector) == []


def test_param_labels_are_words_with_units_and_the_range_is_in_tooltip_and_field(window):
    gain = window.doc.add_node("util.gain", (0, 0))
    window.scene.select_nodes([gain])
    editor = window.inspector.editors["gain_db"]
    labels = [w.text() for w in window.inspector.body.findChildren(QLabel)]
    assert "Gain (dB)" in labels and "gain_db" not in labels
    assert "range −96 … 24 dB" in editor.toolTip()
    assert editor.hint.isVisible() and editor.hint.text() == "−96 … 24 dB"


def test_typing_a_value_out_of_range_leaves_the_value_unchanged_and_says_why(window, qtbot):
    gain = window.doc.add_node("util.gain", (0, 0))
    window.scene.select_nodes([gain])
    editor = window.inspector.editors["gain_db"]
    steps = window.doc.undo_stack.count()
    field = editor.spin.lineEdit()
    field.selectAll()
    qtbot.keyClicks(field, "99")
    assert field.text().startswith("99")            # the second 9 is not swallowed
    qtbot.keyClick(field, Qt.Key_Return)
    assert window.doc.graph.nodes[gain].params.get("gain_db", 0.0) == 0.0
    assert window.doc.undo_stack.count() == steps
    assert editor.spin.value() == 0.0
    assert "99 dB is outside −96 … 24 dB" in editor.error
    assert editor.hint.text() == editor.error and editor.hint.isVisible()
    assert "#e53935" in editor.spin.styleSheet()     # the field turns red

    field.selectAll()
    qtbot.keyClicks(field, "-6")
    qtbot.keyClick(field, Qt.Key_Return)
    assert window.doc.graph.nodes[gain].params["gain_db"] == -6.0
    assert editor.error == "" and editor.spin.styleSheet() == ""


def test_a_warning_of_the_node_shows_next_to_the_param_it_names(window):
    pitch = window.doc.add_node("feature.pitch", (0, 0))
    window.scene.select_nodes([pitch])
    window.doc.set_param(pitch, "frame_length", 256)
    window.validate()
    warning = window.inspector.warning_labels["fmin"]
    assert warning.isVisibleTo(window.inspector) and "limits fmin" in warning.text()
    assert not window.inspector.warning_labels["threshold"].isVisibleTo(window.inspector)
    window.doc.set_param(pitch, "frame_length", 4096)
    window.validate()
    assert not window.inspector.warning_labels["fmin"].isVisibleTo(window.inspector)
