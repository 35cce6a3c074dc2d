"""Large patches and long random editing sessions."""
import random
import time

import pytest
from PySide6.QtCore import QPoint

from neuropatch.engine import AddNode, Connect, Edge, Graph, new_node_spec
from neuropatch.engine.patch import save_patch

from .ui import drop_node


def test_opening_a_200_node_patch_takes_under_a_second(window, tmp_path):
    g = Graph()
    types = ["gen.oscillator", "util.gain", "util.mix", "util.delay", "gen.noise"]
    for i in range(200):
        t = types[i % len(types)]
        g.apply(AddNode(new_node_spec(t, f"n{i}", pos=((i % 20) * 200, (i // 20) * 140))))
    outs = [n for n, s in g.nodes.items() if s.type != "util.mix"]
    for i in range(1, 200):
        spec = g.nodes[f"n{i}"]
        if spec.type in ("util.gain", "util.delay"):
            g.apply(Connect(Edge(outs[(i * 7) % len(outs)], "out", f"n{i}", "in")))
        elif spec.type == "util.mix":
            for k in (1, 2):
                g.apply(Connect(Edge(outs[(i * k) % len(outs)], "out", f"n{i}", f"in{k}")))
    path = tmp_path / "big.json"
    save_patch(g, path)
    t0 = time.perf_counter()
    assert window.open_path(path)
    window.repaint()
    elapsed = time.perf_counter() - t0
    assert len(window.scene.node_items) == 200 and len(window.scene.cable_items) == len(g.edges)
    assert elapsed <= 1.0, f"opening took {elapsed:.2f} s"


TYPES = ["gen.oscillator", "gen.noise", "util.gain", "util.mix", "util.delay", "io.audio_out"]


def _random_edit(window, rng: random.Random) -> str:
    doc, scene, view = window.doc, window.scene, window.view
    g = doc.graph
    op = rng.choices(["add", "connect", "delete", "move", "param", "undo", "redo", "paste"],
                     [20, 25, 10, 10, 10, 15, 8, 2])[0]
    if op == "add" or not g.nodes:
        drop_node(window, rng.choice(TYPES), (rng.randint(20, 600), rng.randint(20, 600)))
        return "add"
    ids = list(g.nodes)
    if op == "connect":
        a = scene.node_items[rng.choice(ids)]
        b = scene.node_items[rng.choice(ids)]
        if a.outputs and b.inputs:
            view.connect_ports(rng.choice(list(a.outputs.values())), rng.choice(list(b.inputs.values())))
    elif op == "delete":
        scene.clearSelection()
        for nid in rng.sample(ids, k=min(len(ids), rng.randint(0, 2))):
            scene.node_items[nid].setSelected(True)
        for edge in rng.sample(list(scene.cable_items), k=min(len(scene.cable_items), rng.randint(0, 2))):
            scene.cable_items[edge].setSelected(True)
        view.delete_selection()
    elif op == "move":
        nid = rng.choice(ids)
        item = scene.node_items[nid]
        item.setPos(item.pos().x() + rng.randint(-50, 50), item.pos().y() + rng.randint(-50, 50))
        doc.move({nid: (item.pos().x(), item.pos().y())})
    elif op == "param":
        nid = rng.choice(ids)
        cls = doc.node_class(nid)
        numeric = [p for p in cls.params if p.type is float]
        if numeric:
            p = rng.choice(numeric)
            doc.set_param(nid, p.name, rng.uniform(p.min, p.max))
    elif op == "undo":
        doc.undo_stack.undo()
    elif op == "redo":
        doc.undo_stack.redo()
    elif op == "paste":
        scene.select_nodes(rng.sample(ids, k=min(len(ids), 2)))
        window.duplicate()
    return op


@pytest.mark.slow
def test_a_thousand_random_edits_keep_view_and_graph_identical(window):
    rng = random.Random(1234)
    ops = {}
    for i in range(1000):
        op = _random_edit(window, rng)
        ops[op] = ops.get(op, 0) + 1
        problems = window.scene.mismatches()
        assert problems == [], f"after edit {i} ({op}): {problems}"
    assert min(ops.values()) > 0 and len(ops) == 8, ops
    assert len(window.doc.graph.nodes) > 5 and window.doc.graph.edges
    final = window.doc.graph.copy()
    stack = window.doc.undo_stack
    top = stack.index()           # the edits may end with undone steps above it
    while stack.canUndo():
        stack.undo()
    assert not window.doc.graph.nodes and window.scene.mismatches() == []
    while stack.index() < top:
        stack.redo()
    assert window.doc.graph.same_as(final)
    assert window.scene.mismatches() == []
