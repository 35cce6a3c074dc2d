"""Inlets and outlets in the editor: an empty subpatch gets ports, renames and kinds reach the parent."""
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from neuropatch.engine import INLET_TYPE, OUTLET_TYPE, SUBPATCH_TYPE, Edge, Graph, new_node_spec, render
from neuropatch.app.editor.palette import TYPE_ROLE, node_entries
from neuropatch.app.editor.quick_add import rank

from .ui import drag_cable, drop_node, header_pos


def inner_nodes_of(window_, type_id) -> list:
    return [n for n, s in window_.doc.graph.nodes.items() if s.type == type_id]


def open_by_double_click(window, sub):
    QTest.mouseDClick(window.view.viewport(), Qt.LeftButton, Qt.NoModifier, header_pos(window, sub))
    return window.subpatch_windows[(sub,)]


def plain_gain(gain_db) -> Graph:
    g = Graph()
    for k, (nid, type_id) in enumerate((("in", "io.audio_in"), ("gain", "util.gain"), ("out", "io.audio_out"))):
        g.nodes[nid] = new_node_spec(type_id, nid, pos=(200.0 * k, 0.0),
                                     params={"gain_db": gain_db} if nid == "gain" else None)
    g.edges = [Edge("in", "out", "gain", "in"), Edge("gain", "out", "out", "in")]
    return g


def grouped_gain(window) -> tuple:
    """audio in -> [gain] -> audio out with the gain grouped; returns (in id, subpatch id, out id)."""
    doc = window.doc
    a, g, b = (doc.add_node(t, (x, 100)) for t, x in
               (("io.audio_in", 0), ("util.gain", 250), ("io.audio_out", 500)))
    assert doc.connect_ports(a, "out", g, "in") and doc.connect_ports(g, "out", b, "in")
    window.view.frame_all()
    window.scene.select_nodes([g])
    return a, window.group_selection(), b


def test_inlet_and_outlet_are_listed_under_system_in_the_palette_and_quick_add(window):
    tree = window.palette.tree
    system = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                  if tree.topLevelItem(i).text(0) == "system")
    listed = {system.child(j).data(0, TYPE_ROLE) for j in range(system.childCount())}
    assert {INLET_TYPE, OUTLET_TYPE, SUBPATCH_TYPE} <= listed
    entries = node_entries(window.registry)
    assert rank("inlet", entries)[0]["type"] == INLET_TYPE
    assert rank("outlet", entries)[0]["type"] == OUTLET_TYPE


def test_empty_subpatch_from_the_palette_gets_ports_inside_and_renders_like_a_plain_gain(window):
    stack = window.doc.undo_stack
    source = drop_node(window, "io.audio_in", (120, 250))
    sub = drop_node(window, SUBPATCH_TYPE, (420, 250))
    sink = drop_node(window, "io.audio_out", (720, 250))
    assert not window.scene.node_items[sub].inputs and not window.scene.node_items[sub].outputs
    inner = open_by_double_click(window, sub)

    depth = stack.index()
    inlet = drop_node(inner, INLET_TYPE, (100, 200))
    assert stack.index() == depth + 1
    assert [(p.name, p.kind) for p in window.scene.node_items[sub].inputs.values()] == [("in", "audio")]
    inner.scene.select_nodes([inlet])
    assert inner.inspector.editors["kind"].currentText() == "audio"
    gain = drop_node(inner, "util.gain", (350, 200))
    outlet = drop_node(inner, OUTLET_TYPE, (600, 200))
    assert list(window.scene.node_items[sub].outputs) == ["out"]
    assert inner.doc.set_param(gain, "gain_db", -6.0)
    drag_cable(inner, inlet, "out", gain, "in")
    drag_cable(inner, gain, "out", outlet, "in")
    drag_cable(window, source, "out", sub, "in")
    drag_cable(window, sub, "out", sink, "in")
    assert stack.index() == depth + 8
    assert Edge(source, "out", sub, "in") in window.doc.graph.edges
    assert Edge(sub, "out", sink, "in") in window.doc.graph.edges
    assert not window.scene.mismatches() and not inner.scene.mismatches()
    x = np.random.default_rng(5).uniform(-0.5, 0.5, (1, 12000)).astype(np.float32)
    assert np.array_equal(render(window.doc.graph, x)[0], render(plain_gain(-6.0), x)[0])

    # every step undoes on its own; the parent's ports and the inner scene follow
    both, inlet_only, none = ({"in"}, {"out"}), ({"in"}, set()), (set(), set())
    for k, ports in enumerate([both, both, both, both, both, inlet_only, inlet_only, none]):
        stack.undo()
        item = window.scene.node_items[sub]
        assert (set(item.inputs), set(item.outputs)) == ports, k
        assert not window.scene.mismatches() and not inner.scene.mismatches()
    assert window.doc.graph.nodes[sub].extra in ({}, {"nodes": [], "edges": []})
    for _ in range(8):
        stack.redo()
    assert np.array_equal(render(window.doc.graph, x)[0], render(plain_gain(-6.0), x)[0])


def test_deleting_an_outlet_removes_its_outer_cable_in_the_same_undo_step(window):
    _, sub, sink = grouped_gain(window)
    inner = window.open_subpatch(window.doc, sub)
    (outlet,) = inner_nodes_of(inner, OUTLET_TYPE)
    depth = window.doc.undo_stack.index()
    inner.scene.select_nodes([outlet])
    QTest.keyClick(inner.view, Qt.Key_Delete)
    assert window.doc.undo_stack.index() == depth + 1
    assert not window.scene.node_items[sub].outputs
    assert not [e for e in window.doc.graph.edges if e.src == sub]
    assert not window.scene.mismatches()
    window.doc.undo_stack.undo()
    assert Edge(sub, "out", sink, "in") in window.doc.graph.edges
    assert list(window.scene.node_items[sub].outputs) == ["out"]
    assert outlet in inner.scene.node_items and not window.scene.mismatches()


def test_renaming_an_inlet_in_the_inspector_relabels_the_parent_port_and_keeps_its_cable(window):
    source, sub, _ = grouped_gain(window)
    inner = window.open_subpatch(window.doc, sub)
    (inlet,) = inner_nodes_of(inner, INLET_TYPE)
    inner.scene.select_nodes([inlet])
    editor = inner.inspector.editors["name"]
    depth = window.doc.undo_stack.index()
    editor.setFocus()
    editor.selectAll()
    QTest.keyClicks(editor, "dry")
    QTest.keyClick(editor, Qt.Key_Return)
    assert window.doc.undo_stack.index() == depth + 1
    assert list(window.scene.node_items[sub].inputs) == ["dry"]
    assert Edge(source, "out", sub, "dry") in window.doc.graph.edges
    assert inner.scene.node_items[inlet].caption == "dry"
    assert not window.scene.mismatches() and not inner.scene.mismatches()
    window.doc.undo_stack.undo()
    assert list(window.scene.node_items[sub].inputs) == ["in"]
    assert Edge(source, "out", sub, "in") in window.doc.graph.edges


def test_changing_an_inlet_kind_drops_the_cables_that_no_longer_fit_in_one_step(window):
    source, sub, _ = grouped_gain(window)
    inner = window.open_subpatch(window.doc, sub)
    (inlet,) = inner_nodes_of(inner, INLET_TYPE)
    inner.scene.select_nodes([inlet])
    before_outer = list(window.doc.graph.edges)
    before_inner = list(inner.doc.graph.edges)
    depth = window.doc.undo_stack.index()
    inner.inspector.editors["kind"].setCurrentText("control")
    assert window.doc.undo_stack.index() == depth + 1
    assert [(p.name, p.kind) for p in window.scene.node_items[sub].inputs.values()] == [("in", "control")]
    assert not [e for e in window.doc.graph.edges if e.dst == sub]
    assert not [e for e in inner.doc.graph.edges if e.src == inlet]
    assert inner.scene.node_items[inlet].outputs["out"].kind == "control"
    assert not window.scene.mismatches() and not inner.scene.mismatches()
    window.doc.undo_stack.undo()
    assert sorted(map(str, window.doc.graph.edges)) == sorted(map(str, before_outer))
    assert sorted(map(str, inner.doc.graph.edges)) == sorted(map(str, before_inner))
    assert not inner.scene.mismatches()


def test_a_second_inlet_gets_a_free_name_and_a_taken_name_is_refused(window):
    _, sub, _ = grouped_gain(window)
    inner = window.open_subpatch(window.doc, sub)
    second = inner.doc.add_node(INLET_TYPE, (0, 400))
    assert inner.doc.graph.nodes[second].params["name"] == "in2"
    assert list(window.scene.node_items[sub].inputs) == ["in", "in2"]
    messages = []
    inner.doc.message.connect(messages.append)
    depth = window.doc.undo_stack.index()
    assert not inner.doc.set_param(second, "name", "in")
    assert window.doc.undo_stack.index() == depth
    assert any('port name "in"' in m for m in messages)
    assert inner.doc.graph.nodes[second].params["name"] == "in2"


def test_a_pasted_inlet_gets_a_free_name_and_becomes_another_port(window):
    _, sub, _ = grouped_gain(window)
    inner = window.open_subpatch(window.doc, sub)
    (inlet,) = inner_nodes_of(inner, INLET_TYPE)
    (copy_id,) = inner.doc.paste(inner.doc.fragment([inlet]), offset=(0.0, 120.0))
    assert inner.doc.graph.nodes[copy_id].params["name"] == "in2"
    assert list(window.scene.node_items[sub].inputs) == ["in", "in2"]
    assert not window.scene.mismatches() and not inner.scene.mismatches()
