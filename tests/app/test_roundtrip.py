"""A patch built only through UI gestures survives undo/redo, save and reopen, and renders
like the same patch built in code."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from neuropatch.engine import AddNode, Connect, Edge, Graph, load_patch, new_node_spec, render

from .ui import click_node, drag, drag_cable, drop_node, header_pos, port_pos


def build_in_code() -> Graph:
    g = Graph()
    g.apply(AddNode(new_node_spec("gen.oscillator", "oscillator",
                                  params={"freq_hz": 220.0, "waveform": "saw"})))
    g.apply(AddNode(new_node_spec("util.gain", "gain", params={"gain_db": -6.0})))
    g.apply(AddNode(new_node_spec("io.audio_out", "audio_out")))
    g.apply(Connect(Edge("oscillator", "out", "gain", "in")))
    g.apply(Connect(Edge("gain", "out", "audio_out", "in")))
    return g


def build_through_ui(window, qtbot):
    osc = drop_node(window, "gen.oscillator", (150, 200))
    gain = drop_node(window, "util.gain", (450, 260))
    out = drop_node(window, "io.audio_out", (750, 200))
    assert (osc, gain, out) == ("oscillator", "gain", "audio_out")
    # the drop point is where the node lands
    assert window.scene.node_items[gain].pos() == window.view.mapToScene(QPoint(450, 260))
    drag_cable(window, osc, "out", gain, "in")
    drag_cable(window, gain, "out", out, "in")

    click_node(window, osc)
    assert window.inspector.node_id == osc
    window.inspector.editors["freq_hz"].spin.setValue(220.0)
    window.inspector.editors["waveform"].setCurrentText("saw")

    click_node(window, gain)
    slider = window.inspector.editors["gain_db"].slider
    depth = window.doc.undo_stack.count()
    slider.setSliderDown(True)          # a drag: many values, one undo step
    for pos in (600, 650, 700, 760):
        slider.setValue(pos)
    slider.setSliderDown(False)
    assert window.doc.undo_stack.count() == depth + 1
    window.inspector.editors["gain_db"].spin.setValue(-6.0)
    assert window.doc.graph.nodes[gain].params["gain_db"] == -6.0

    # move the output node with the mouse
    start = header_pos(window, out)
    drag(window, start, start + QPoint(40, 60))
    return osc, gain, out


def test_ui_built_patch_round_trips_and_renders_like_code(window, qtbot, tmp_path):
    build_through_ui(window, qtbot)
    built = window.doc.graph.copy()
    assert len(built.edges) == 2
    assert window.scene.mismatches() == []
    assert window.isWindowModified()

    stack = window.doc.undo_stack
    steps = stack.count()
    while stack.canUndo():
        stack.undo()
        assert window.scene.mismatches() == []
    assert not window.doc.graph.nodes and not window.doc.graph.edges
    assert not window.scene.node_items and not window.scene.cable_items
    while stack.canRedo():
        stack.redo()
        assert window.scene.mismatches() == []
    assert stack.count() == steps
    assert window.doc.graph.same_as(built)

    path = tmp_path / "ui_patch.json"
    assert window.save_as(path)
    assert not window.isWindowModified()
    assert window.open_path(path)
    reopened = window.doc.graph
    assert reopened.same_as(built)
    assert reopened.same_as(load_patch(path))
    assert window.scene.mismatches() == []

    a, _ = render(reopened, None, seconds=0.25)
    b, _ = render(build_in_code(), None, seconds=0.25)
    assert a.shape == b.shape and np.max(np.abs(a)) > 0.01
    np.testing.assert_array_equal(a, b)


def test_incompatible_ports_dim_and_a_wrong_drop_explains_why(window, qtbot):
    osc = drop_node(window, "gen.oscillator", (150, 200))
    osc2 = drop_node(window, "gen.oscillator", (500, 200))
    gain = drop_node(window, "util.gain", (500, 450))
    vp = window.view.viewport()
    a = port_pos(window, osc, "out", True)
    from PySide6.QtTest import QTest
    QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, a)
    QTest.mouseMove(vp, a + QPoint(30, 30))
    items = window.scene.node_items
    assert items[osc2].inputs["freq"].dimmed          # control input: wrong kind
    assert not items[gain].inputs["in"].dimmed         # audio input: fine
    assert items[gain].outputs["out"].dimmed           # output to output: impossible
    b = port_pos(window, osc2, "freq", False)
    QTest.mouseMove(vp, b)
    QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, b)
    assert window.doc.graph.edges == []
    msg = window.statusBar().currentMessage()
    assert "stream kinds differ" in msg and "audio" in msg and "control" in msg
    assert not items[osc2].inputs["freq"].dimmed       # dimming ends with the drag


def test_delete_selection_removes_nodes_and_cables_and_undo_restores(window, qtbot):
    osc = drop_node(window, "gen.oscillator", (150, 200))
    gain = drop_node(window, "util.gain", (450, 200))
    drag_cable(window, osc, "out", gain, "in")
    saved = window.doc.graph.copy()
    click_node(window, osc)
    window.view.setFocus()
    QTest = __import__("PySide6.QtTest", fromlist=["QTest"]).QTest
    QTest.keyClick(window.view, Qt.Key_Delete)
    assert list(window.doc.graph.nodes) == [gain] and window.doc.graph.edges == []
    assert window.scene.mismatches() == []
    window.doc.undo_stack.undo()
    assert window.doc.graph.same_as(saved)
    assert window.scene.mismatches() == []


def test_copy_paste_and_duplicate_keep_internal_cables(window, qtbot):
    osc = drop_node(window, "gen.oscillator", (150, 200))
    gain = drop_node(window, "util.gain", (450, 200))
    drag_cable(window, osc, "out", gain, "in")
    window.scene.select_nodes([osc, gain])
    assert window.copy()
    pasted = window.paste()
    assert sorted(pasted) == ["gain2", "oscillator2"]
    assert Edge("oscillator2", "out", "gain2", "in") in window.doc.graph.edges
    dup = window.duplicate()
    assert len(dup) == 2 and len(window.doc.graph.edges) == 3
    assert window.scene.mismatches() == []
    window.doc.undo_stack.undo()
    window.doc.undo_stack.undo()
    assert sorted(window.doc.graph.nodes) == ["gain", "oscillator"]


def test_zoom_is_limited_and_frame_all_shows_every_node(window, qtbot):
    drop_node(window, "gen.oscillator", (100, 100))
    drop_node(window, "util.gain", (1000, 700))
    for _ in range(60):
        window.view.set_zoom(window.view.zoom() * 1.5)
    assert window.view.zoom() == pytest.approx(3.0)
    for _ in range(60):
        window.view.set_zoom(window.view.zoom() / 1.5)
    assert window.view.zoom() == pytest.approx(0.15)
    window.view.frame_all()
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    for item in window.scene.node_items.values():
        assert visible.contains(item.sceneBoundingRect())


def test_rubber_band_selects_and_dragging_moves_all_in_one_undo_step(window, qtbot):
    a = drop_node(window, "gen.noise", (200, 200))
    b = drop_node(window, "util.gain", (400, 300))
    far = drop_node(window, "util.gain", (700, 600))
    drag(window, QPoint(150, 150), QPoint(600, 450))       # empty canvas: rubber band
    assert sorted(window.scene.selected_node_ids()) == sorted([a, b])
    before = {n: list(window.doc.graph.nodes[n].ui["pos"]) for n in (a, b, far)}
    depth = window.doc.undo_stack.count()
    start = header_pos(window, a)
    drag(window, start, start + QPoint(50, 20))
    assert window.doc.undo_stack.count() == depth + 1
    assert window.doc.undo_stack.text(depth) == "Move 2 nodes"
    z = window.view.zoom()
    for n in (a, b):
        x, y = window.doc.graph.nodes[n].ui["pos"]
        assert (x - before[n][0], y - before[n][1]) == pytest.approx((50 / z, 20 / z))
    assert window.doc.graph.nodes[far].ui["pos"] == before[far]
    window.doc.undo_stack.undo()
    assert {n: list(window.doc.graph.nodes[n].ui["pos"]) for n in (a, b, far)} == before
    assert window.scene.mismatches() == []
