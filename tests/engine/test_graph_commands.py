import pytest

from neuropatch.engine import (AddNode, Batch, Connect, Disconnect, Edge, Graph, GraphError, MoveNode,
                               RemoveNode, SetParam, new_node_spec)


def build():
    g = Graph()
    for nid, t in [("osc", "gen.oscillator"), ("gain", "util.gain"), ("out", "io.audio_out")]:
        g.apply(AddNode(new_node_spec(t, nid)))
    g.apply(Connect(Edge("osc", "out", "gain", "in")))
    g.apply(Connect(Edge("gain", "out", "out", "in")))
    return g


def test_every_command_is_undone_by_its_inverse():
    g = build()
    before = g.copy()
    commands = [SetParam("gain", "gain_db", -6.0), MoveNode("osc", (10, 20)),
                Disconnect(Edge("osc", "out", "gain", "in")), RemoveNode("gain"),
                AddNode(new_node_spec("util.mix", "mix"))]
    undo = []
    for c in commands:
        undo.append(g.apply(c))
    assert not g.same_as(before)
    for inv in reversed(undo):
        g.apply(inv)
    assert g.same_as(before)


def test_removing_a_node_removes_its_cables_and_undo_restores_them_in_place():
    g = build()
    order = list(g.nodes)
    inv = g.apply(RemoveNode("gain"))
    assert "gain" not in g.nodes and g.edges == []
    g.apply(inv)
    assert list(g.nodes) == order
    assert [str(e) for e in g.edges] == ["osc.out -> gain.in", "gain.out -> out.in"]


def test_failed_batch_leaves_graph_unchanged():
    g = build()
    before = g.copy()
    with pytest.raises(GraphError, match="no node 'nope'"):
        g.apply(Batch([SetParam("gain", "gain_db", 3.0), RemoveNode("nope")]))
    assert g.same_as(before)


def test_duplicate_ids_and_double_connections_are_refused():
    g = build()
    with pytest.raises(GraphError, match="duplicate node id"):
        g.apply(AddNode(new_node_spec("util.gain", "gain")))
    with pytest.raises(GraphError, match="already connected"):
        g.apply(Connect(Edge("osc", "out", "gain", "in")))


def test_listeners_see_each_applied_command():
    g = build()
    seen = []
    g.subscribe(seen.append)
    g.apply(SetParam("gain", "gain_db", -3.0))
    assert seen == [SetParam("gain", "gain_db", -3.0)]


def test_plain_data_check_names_the_field_that_is_not_plain():
    from neuropatch.engine.graph import NodeSpec, plain_data_fault

    assert plain_data_fault(Batch([SetParam("g", "gain_db", 1.0), AddNode(NodeSpec("x", "util.gain")),
                                   Connect(Edge("a", "out", "b", "in"))])) is None
    assert plain_data_fault(SetParam("g", "gain_db", __import__("numpy").float32(-6))) is None
    fault = plain_data_fault(Batch([SetParam("g", "gain_db", object())]))
    assert fault == "command.commands[0].value: object is not plain data"
    assert "key 3 is not a string" in plain_data_fault(SetParam("g", "p", {3: 1}))
