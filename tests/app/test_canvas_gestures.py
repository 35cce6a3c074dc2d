"""Canvas gestures: Shift+click selection, paste and duplicate at the mouse, cables dragged
off inputs and dropped on empty canvas, quick-add ranking."""
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from neuropatch.app.editor.palette import TYPE_ROLE, node_entries
from neuropatch.app.editor.quick_add import rank
from neuropatch.engine import Edge

from .ui import click_node, drag, drag_cable, port_pos


def test_shift_click_adds_a_node_to_the_selection_and_again_removes_it(window):
    a = window.doc.add_node("gen.oscillator", (0, 0))
    b = window.doc.add_node("util.gain", (300, 0))
    click_node(window, a)
    click_node(window, b, Qt.ShiftModifier)
    assert sorted(window.scene.selected_node_ids()) == sorted([a, b])
    click_node(window, a, Qt.ShiftModifier)
    assert window.scene.selected_node_ids() == [b]


def _mouse_to(window, view_pos: QPoint) -> QPointF:
    QTest.mouseMove(window.view.viewport(), view_pos)
    return window.view.mapToScene(view_pos)


def test_paste_lands_at_the_mouse(window):
    a = window.doc.add_node("gen.oscillator", (0, 0))
    b = window.doc.add_node("util.gain", (250, 40))
    window.doc.connect_ports(a, "out", b, "in")
    window.scene.select_nodes([a, b])
    assert window.copy()
    at = _mouse_to(window, QPoint(500, 420))
    new = window.paste()
    assert len(new) == 2
    positions = {n: window.doc.graph.nodes[n].ui["pos"] for n in new}
    assert min(p[0] for p in positions.values()) == round(at.x())
    assert min(p[1] for p in positions.values()) == round(at.y())
    assert sorted(p[0] - min(q[0] for q in positions.values()) for p in positions.values()) == [0, 250]
    assert len(window.doc.graph.edges) == 2                    # the cable between them came along
    window.doc.undo_stack.undo()
    assert set(window.doc.graph.nodes) == {a, b}


def test_duplicate_goes_to_the_mouse(window):
    a = window.doc.add_node("gen.oscillator", (0, 0))
    window.scene.select_nodes([a])
    at = _mouse_to(window, QPoint(420, 380))
    (copy,) = window.duplicate()
    assert window.doc.graph.nodes[copy].ui["pos"] == [round(at.x()), round(at.y())]


def test_a_cable_dropped_on_empty_canvas_opens_quick_add_for_fitting_nodes_and_connects_the_choice(window):
    osc = window.doc.add_node("gen.oscillator", (0, 0))
    window.view.frame_all()
    start = port_pos(window, osc, "out", True)
    end = QPoint(start.x() + 220, start.y() + 140)
    drag(window, start, end)
    popup = window._quick_add
    assert popup.isVisible()
    listed = {popup.list.item(i).data(TYPE_ROLE) for i in range(popup.list.count())}
    assert "util.gain" in listed and "gen.oscillator" not in listed   # no audio input: not offered
    popup.edit.setText("gain")
    popup.accept_current()
    (gain,) = set(window.doc.graph.nodes) - {osc}
    assert window.doc.graph.nodes[gain].type == "util.gain"
    assert window.doc.graph.edges == [Edge(osc, "out", gain, "in")]
    pos = window.view.mapToScene(end)
    assert window.doc.graph.nodes[gain].ui["pos"] == [round(pos.x()), round(pos.y())]


def test_dragging_a_cable_end_off_an_input_moves_it_to_another_input_or_removes_it(window):
    osc = window.doc.add_node("gen.oscillator", (0, 0))
    g1 = window.doc.add_node("util.gain", (300, 0))
    g2 = window.doc.add_node("util.gain", (300, 200))
    window.view.frame_all()
    drag_cable(window, osc, "out", g1, "in")
    assert window.doc.graph.edges == [Edge(osc, "out", g1, "in")]
    drag(window, port_pos(window, g1, "in", False), port_pos(window, g2, "in", False))
    assert window.doc.graph.edges == [Edge(osc, "out", g2, "in")]
    window.doc.undo_stack.undo()
    assert window.doc.graph.edges == [Edge(osc, "out", g1, "in")]
    window.doc.undo_stack.redo()
    off = port_pos(window, g2, "in", False)
    drag(window, off, QPoint(off.x() - 120, off.y() + 150))
    assert window.doc.graph.edges == []
    assert getattr(window, "_quick_add", None) is None          # a detached end opens no quick-add


def test_quick_add_ranks_exact_title_and_type_matches_first(window):
    entries = node_entries(window.registry)
    titles = [e["title"] for e in rank("out", entries)]
    assert titles.index("Audio Out") < titles.index("Outlet")      # a whole word beats a prefix
    assert all(t.split()[-1] == "Out" for t in titles[:titles.index("Audio Out") + 1])
    assert rank("gain", entries)[0]["type"] == "util.gain"
