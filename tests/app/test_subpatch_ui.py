"""Subpatches in the editor: group with Ctrl+G, open by double-click, edit inside, undo, ungroup."""
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from neuropatch.engine import SUBPATCH_TYPE, Edge, load_patch
from neuropatch.engine.subpatch import inner_graph

from .ui import header_pos


def chain_patch(window) -> list:
    doc = window.doc
    ids = [doc.add_node(t, (x, 100)) for t, x in
           (("io.audio_in", 0), ("util.gain", 220), ("fx.eq3", 440), ("io.audio_out", 660))]
    for a, b in zip(ids, ids[1:]):
        assert doc.connect_ports(a, "out", b, "in")
    window.view.frame_all()
    return ids


def click_select(window, node_ids) -> None:
    vp = window.view.viewport()
    window.scene.clearSelection()
    for k, node_id in enumerate(node_ids):
        QTest.mouseClick(vp, Qt.LeftButton, Qt.ControlModifier if k else Qt.NoModifier,
                         header_pos(window, node_id))
    assert sorted(window.scene.selected_node_ids()) == sorted(node_ids)


def shortcut(widget, key, modifiers) -> None:
    widget.activateWindow()
    widget.setFocus()
    QTest.keyClick(widget, key, modifiers)


def test_ctrl_g_groups_the_selection_into_one_undoable_subpatch(window):
    _, gain, eq, _ = chain_patch(window)
    before = window.doc.graph.copy()
    click_select(window, [gain, eq])
    depth = window.doc.undo_stack.index()
    shortcut(window.view, Qt.Key_G, Qt.ControlModifier)
    graph = window.doc.graph
    (sub,) = [n for n, s in graph.nodes.items() if s.type == SUBPATCH_TYPE]
    assert gain not in graph.nodes and eq not in graph.nodes
    assert window.doc.undo_stack.index() == depth + 1
    item = window.scene.node_items[sub]
    assert item.is_subpatch and set(item.inputs) == {"in"} and set(item.outputs) == {"out"}
    assert not window.scene.mismatches()
    window.doc.undo_stack.undo()
    assert window.doc.graph.same_as(before)
    assert not window.scene.mismatches()


def test_double_click_opens_the_subpatch_and_inner_edits_are_undoable_and_saved(window, qtbot, tmp_path):
    _, gain, eq, _ = chain_patch(window)
    click_select(window, [gain, eq])
    sub = window.group_selection()
    QTest.mouseDClick(window.view.viewport(), Qt.LeftButton, Qt.NoModifier, header_pos(window, sub))
    inner_window = window.subpatch_windows[(sub,)]
    assert inner_window.isVisible()
    assert set(inner_window.scene.node_items) == {gain, eq, "inlet", "outlet"}
    assert inner_window.crumb.text().endswith(f"› {sub}")

    inner_window.scene.select_nodes([gain])
    assert inner_window.inspector.node_id == gain
    depth = window.doc.undo_stack.index()
    assert inner_window.doc.set_param(gain, "gain_db", -12.0)
    assert window.doc.undo_stack.index() == depth + 1
    saved = inner_graph(window.doc.graph.nodes[sub].extra)
    assert saved.nodes[gain].params["gain_db"] == -12.0
    assert inner_window.doc.graph.nodes[gain].params["gain_db"] == -12.0

    window.doc.undo_stack.undo()
    assert inner_graph(window.doc.graph.nodes[sub].extra).nodes[gain].params["gain_db"] == 0.0
    assert inner_window.doc.graph.nodes[gain].params["gain_db"] == 0.0
    assert not inner_window.scene.mismatches()
    window.doc.undo_stack.redo()

    # deleting an inner node from the subpatch window goes through the same undo stack
    inner_window.scene.select_nodes([eq])
    QTest.keyClick(inner_window.view, Qt.Key_Delete)
    assert set(inner_window.scene.node_items) == {gain, "inlet", "outlet"}
    assert not [e for e in inner_window.doc.graph.edges if e.dst == "outlet"]   # the outlet stays, unfed
    window.doc.undo_stack.undo()
    assert set(inner_window.scene.node_items) == {gain, eq, "inlet", "outlet"}
    assert Edge(gain, "out", eq, "in") in inner_window.doc.graph.edges

    path = tmp_path / "grouped.json"
    assert window.save_as(path)
    assert load_patch(path).same_as(window.doc.graph)
    expected = window.doc.graph.copy()
    assert window.open_path(path)
    assert window.doc.graph.same_as(expected)
    qtbot.waitUntil(lambda: (sub,) not in window.subpatch_windows)


def test_ungroup_restores_the_nodes_in_one_undo_step(window, tmp_path):
    ids = chain_patch(window)
    original = window.doc.graph.copy()
    click_select(window, ids[1:3])
    sub = window.group_selection()
    window.open_subpatch(window.doc, sub)
    click_select(window, [sub])
    depth = window.doc.undo_stack.index()
    shortcut(window.view, Qt.Key_G, Qt.ControlModifier | Qt.ShiftModifier)
    assert window.doc.undo_stack.index() == depth + 1
    assert window.doc.graph.same_as(original)
    assert sorted(window.scene.selected_node_ids()) == sorted(ids[1:3])
    assert (sub,) not in window.subpatch_windows       # its window closed with it
    assert not window.scene.mismatches()
    window.doc.undo_stack.undo()
    assert window.doc.graph.nodes[sub].type == SUBPATCH_TYPE
    grouped = window.doc.graph.copy()
    path = tmp_path / "p.json"
    assert window.save_as(path) and window.open_path(path)
    assert window.doc.graph.same_as(grouped)


def test_nested_subpatch_opens_from_its_parent_window_and_edits_reach_the_patch(window):
    _, gain, eq, _ = chain_patch(window)
    click_select(window, [gain, eq])
    outer = window.group_selection()
    outer_window = window.open_subpatch(window.doc, outer)
    outer_window.scene.select_nodes([gain])
    inner = outer_window.group_selection()
    assert inner in outer_window.doc.graph.nodes
    outer_window.view.openSubpatchRequested.emit(inner)
    inner_window = window.subpatch_windows[(outer, inner)]
    assert inner_window.doc.set_param(gain, "gain_db", 6.0)
    outer_state = inner_graph(window.doc.graph.nodes[outer].extra)
    assert inner_graph(outer_state.nodes[inner].extra).nodes[gain].params["gain_db"] == 6.0
    window.doc.undo_stack.undo()   # the param edit
    window.doc.undo_stack.undo()   # the inner grouping: the nested window closes
    assert (outer, inner) not in window.subpatch_windows
    assert set(outer_window.scene.node_items) == {gain, eq, "inlet", "outlet"}


def test_error_inside_a_subpatch_marks_the_subpatch_node(window):
    _, gain, eq, _ = chain_patch(window)
    click_select(window, [gain, eq])
    sub = window.group_selection()
    window.scene.set_errors({f"{sub}/{eq}": "failed to prepare"})
    assert window.scene.node_items[sub].error == f"{eq}: failed to prepare"


def test_tab_in_a_subpatch_window_adds_the_node_inside_the_subpatch(window):
    _, gain, eq, _ = chain_patch(window)
    click_select(window, [gain, eq])
    sub = window.group_selection()
    inner_window = window.open_subpatch(window.doc, sub)
    outer_nodes = set(window.doc.graph.nodes)
    QTest.mouseMove(inner_window.view.viewport(), QPoint(200, 200))
    inner_window.view.setFocus()
    QTest.keyClick(inner_window.view, Qt.Key_Tab)
    QTest.keyClicks(inner_window._quick_add.edit, "delay")
    QTest.keyClick(inner_window._quick_add.edit, Qt.Key_Return)
    assert set(window.doc.graph.nodes) == outer_nodes
    added = set(inner_graph(window.doc.graph.nodes[sub].extra).nodes) - {gain, eq, "inlet", "outlet"}
    assert [inner_window.doc.graph.nodes[n].type for n in added] == ["util.delay"]
    assert not inner_window.scene.mismatches()
