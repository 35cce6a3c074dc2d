"""Inlets and outlets: subpatch ports defined by nodes inside, rewiring, migration, renames."""
import copy
import json

import numpy as np
import pytest

from neuropatch.engine import (INLET_TYPE, OUTLET_TYPE, SUBPATCH_TYPE, AddNode, CompileError, Connect, Edge,
                               Graph, GraphError, PatchError, RemoveNode, SetSubgraph, compile_graph, flatten,
                               group_nodes, new_node_spec, render, replace_subgraph, ungroup)
from neuropatch.engine.live import EngineClient
from neuropatch.engine.patch import dumps_patch, graph_from_dict, graph_to_dict, node_ports, parse_patch
from neuropatch.engine.subpatch import graph_ports, inner_graph, state_from_graph

SR, BS = 48000, 256


def build(nodes, edges, pos=None) -> Graph:
    """nodes: [(id, type, params)], edges: [(src, port, dst, port)]; laid out left to right."""
    g = Graph(settings={"sample_rate": SR, "block_size": BS})
    for k, (nid, type_id, params) in enumerate(nodes):
        xy = (pos or {}).get(nid, (150.0 * k, 40.0 * (k % 3)))
        g.nodes[nid] = new_node_spec(type_id, nid, params=params, pos=xy)
    g.edges = [Edge(*e) for e in edges]
    return g


def noise(seconds=0.25, channels=1, seed=3):
    rng = np.random.default_rng(seed)
    return rng.uniform(-0.5, 0.5, (channels, int(SR * seconds))).astype(np.float32)


def effect_patch() -> Graph:
    """in -> eq -> gain -> mix.in1 -> out, with a dry path in -> mix.in2."""
    return build(
        [("in", "io.audio_in", {}), ("eq", "fx.eq3", {"bass_db": 5.0, "treble_db": -2.0}),
         ("gain", "util.gain", {"gain_db": -3.0}), ("mix", "util.mix", {"gain2_db": -6.0}),
         ("out", "io.audio_out", {})],
        [("in", "out", "eq", "in"), ("eq", "out", "gain", "in"), ("gain", "out", "mix", "in1"),
         ("in", "out", "mix", "in2"), ("mix", "out", "out", "in")])


def subpatch_spec(node_id, inner: Graph, pos=(300.0, 0.0)):
    spec = new_node_spec(SUBPATCH_TYPE, node_id, pos=pos)
    spec.extra = state_from_graph(inner)
    return spec


def hand_built() -> Graph:
    """effect_patch with eq and gain inside a subpatch built by hand from an inlet and an outlet."""
    inner = build([("inlet", INLET_TYPE, {"name": "audio_in"}),
                   ("eq", "fx.eq3", {"bass_db": 5.0, "treble_db": -2.0}),
                   ("gain", "util.gain", {"gain_db": -3.0}),
                   ("outlet", OUTLET_TYPE, {"name": "wet"})],
                  [("inlet", "out", "eq", "in"), ("eq", "out", "gain", "in"), ("gain", "out", "outlet", "in")])
    g = build([("in", "io.audio_in", {}), ("mix", "util.mix", {"gain2_db": -6.0}), ("out", "io.audio_out", {})],
              [("in", "out", "mix", "in2"), ("mix", "out", "out", "in")])
    g.apply(AddNode(subpatch_spec("fx", inner), 1))
    g.apply(_connect("in", "out", "fx", "audio_in"))
    g.apply(_connect("fx", "wet", "mix", "in1"))
    return g


def _connect(*ends):
    return Connect(Edge(*ends))


def ports_of(graph, node_id):
    ins, outs = node_ports(graph.nodes[node_id])
    return [(p.name, p.kind) for p in ins], [(p.name, p.kind) for p in outs]


class TestInletsAndOutlets:
    def test_subpatch_built_from_an_inlet_and_an_outlet_renders_like_the_flat_graph(self):
        g = hand_built()
        assert ports_of(g, "fx") == ([("audio_in", "audio")], [("wet", "audio")])
        x = noise()
        out, schedule = render(g, x)
        assert np.array_equal(out, render(effect_patch(), x)[0])
        assert {"fx/eq", "fx/gain"} <= set(schedule.node_ids())

    def test_flattening_rewires_cables_past_inlets_and_outlets(self):
        flat = flatten(hand_built())
        assert not any(s.type in (INLET_TYPE, OUTLET_TYPE) for s in flat.nodes.values())
        assert {"in.out -> fx/eq.in", "fx/gain.out -> mix.in1"} <= set(map(str, flat.edges))

    def test_ports_follow_inlet_positions_top_to_bottom(self):
        inner = build([("a", INLET_TYPE, {"name": "low"}), ("b", INLET_TYPE, {"name": "high"}),
                       ("c", INLET_TYPE, {"name": "mid"}), ("o", OUTLET_TYPE, {"name": "out"})], [],
                      pos={"a": (0, 200), "b": (0, -50), "c": (0, 80), "o": (300, 0)})
        g = Graph()
        g.apply(AddNode(subpatch_spec("s", inner)))
        assert [n for n, _ in ports_of(g, "s")[0]] == ["high", "mid", "low"]

    def test_port_kind_follows_the_kind_param(self):
        inner = build([("i", INLET_TYPE, {"name": "spec", "kind": "frames"}),
                       ("o", OUTLET_TYPE, {"name": "level", "kind": "control"})], [])
        g = Graph()
        g.apply(AddNode(subpatch_spec("s", inner)))
        assert ports_of(g, "s") == ([("spec", "frames")], [("level", "control")])
        assert ports_of(inner, "i") == ([], [("out", "frames")])
        assert ports_of(inner, "o") == ([("in", "control")], [])

    def test_an_inlet_wired_straight_to_an_outlet_passes_the_outer_source_through(self):
        inner = build([("i", INLET_TYPE, {}), ("o", OUTLET_TYPE, {})], [("i", "out", "o", "in")])
        g = build([("in", "io.audio_in", {}), ("out", "io.audio_out", {})], [])
        g.apply(AddNode(subpatch_spec("thru", inner)))
        g.apply(_connect("in", "out", "thru", "in"))
        g.apply(_connect("thru", "out", "out", "in"))
        assert [str(e) for e in flatten(g).edges] == ["in.out -> out.in"]
        x = noise()
        assert np.array_equal(render(g, x)[0], x)

    def test_an_unconnected_inlet_leaves_its_inner_ports_silent(self):
        inner = build([("i", INLET_TYPE, {}), ("gain", "util.gain", {}), ("o", OUTLET_TYPE, {})],
                      [("i", "out", "gain", "in"), ("gain", "out", "o", "in")])
        g = build([("in", "io.audio_in", {}), ("out", "io.audio_out", {})], [])
        g.apply(AddNode(subpatch_spec("s", inner)))
        g.apply(_connect("s", "out", "out", "in"))
        assert not [e for e in flatten(g).edges if e.dst == "s/gain"]
        out, _ = render(g, noise())
        assert not np.any(out)

    def test_an_outlet_fed_twice_feeds_both_sources_to_the_outer_port(self):
        inner = build([("i", INLET_TYPE, {}), ("a", "util.gain", {"gain_db": -6.0}),
                       ("b", "util.gain", {"gain_db": -12.0}), ("o", OUTLET_TYPE, {})],
                      [("i", "out", "a", "in"), ("i", "out", "b", "in"), ("a", "out", "o", "in"),
                       ("b", "out", "o", "in")])
        g = build([("in", "io.audio_in", {}), ("out", "io.audio_out", {})], [])
        g.apply(AddNode(subpatch_spec("s", inner)))
        g.apply(_connect("in", "out", "s", "in"))
        g.apply(_connect("s", "out", "out", "in"))
        flat = build([("in", "io.audio_in", {}), ("a", "util.gain", {"gain_db": -6.0}),
                      ("b", "util.gain", {"gain_db": -12.0}), ("out", "io.audio_out", {})],
                     [("in", "out", "a", "in"), ("in", "out", "b", "in"), ("a", "out", "out", "in"),
                      ("b", "out", "out", "in")])
        x = noise()
        assert np.array_equal(render(g, x)[0], render(flat, x)[0])

    def test_top_level_inlet_passes_silence_and_says_so(self):
        g = build([("i", INLET_TYPE, {}), ("gain", "util.gain", {}), ("o", OUTLET_TYPE, {}),
                   ("out", "io.audio_out", {})],
                  [("i", "out", "gain", "in"), ("gain", "out", "out", "in"), ("gain", "out", "o", "in")])
        out, schedule = render(g, noise())
        assert not np.any(out)
        assert any("inlet 'in' is outside any subpatch" in n for n in schedule.notes)
        assert any("outlet 'out' is outside any subpatch" in n for n in schedule.notes)

    def test_an_empty_subpatch_has_no_ports_and_renders_nothing(self):
        g = build([("in", "io.audio_in", {}), ("s", SUBPATCH_TYPE, {}), ("out", "io.audio_out", {})], [])
        assert ports_of(g, "s") == ([], [])
        assert g.nodes["s"].extra in ({}, {"nodes": [], "edges": []})
        compile_graph(g)


class TestMigration:
    def v1_doc(self):
        """effect_patch as version-1 files stored it: eq and gain grouped with explicit port lists."""
        doc = graph_to_dict(effect_patch())
        by_id = {n["id"]: n for n in doc["nodes"]}
        sub = {"id": "sub", "type": SUBPATCH_TYPE, "version": 1, "params": {}, "ui": {"pos": [225.0, 20.0]},
               "state": {"nodes": [by_id["eq"], by_id["gain"]],
                         "edges": [{"from": ["eq", "out"], "to": ["gain", "in"]}],
                         "inputs": [{"name": "in", "kind": "audio", "to": [["eq", "in"]]},
                                    {"name": "unused", "kind": "any", "to": []}],
                         "outputs": [{"name": "out", "kind": "audio", "from": ["gain", "out"]},
                                     {"name": "spare", "kind": "audio", "from": None}]}}
        doc["nodes"] = [by_id["in"], sub, by_id["mix"], by_id["out"]]
        doc["edges"] = [{"from": ["in", "out"], "to": ["sub", "in"]}, {"from": ["sub", "out"], "to": ["mix", "in1"]},
                        {"from": ["in", "out"], "to": ["mix", "in2"]}, {"from": ["mix", "out"], "to": ["out", "in"]}]
        return doc

    def test_version_1_state_loads_as_inlets_and_outlets_with_the_same_ports(self):
        g = graph_from_dict(self.v1_doc())
        spec = g.nodes["sub"]
        assert spec.version == 2 and set(spec.extra) == {"nodes", "edges"}
        assert ports_of(g, "sub") == ([("in", "audio"), ("unused", "audio")], [("out", "audio"), ("spare", "audio")])
        inner = inner_graph(spec.extra)
        assert sorted(s.type for s in inner.nodes.values()) == sorted(
            ["fx.eq3", "util.gain", INLET_TYPE, INLET_TYPE, OUTLET_TYPE, OUTLET_TYPE])

    def test_version_1_state_renders_identically_after_migration(self):
        x = noise()
        assert np.array_equal(render(graph_from_dict(self.v1_doc()), x)[0], render(effect_patch(), x)[0])

    def test_migrated_patch_saves_as_version_2_and_round_trips(self):
        g = graph_from_dict(self.v1_doc())
        text = dumps_patch(g)
        assert '"inputs"' not in text and '"version": 2' in text
        again = parse_patch(text)
        assert again.same_as(g) and dumps_patch(again) == text

    def test_nested_version_1_states_migrate_at_every_level(self):
        doc = self.v1_doc()
        outer_state = {"nodes": [doc["nodes"][1]], "edges": [],
                       "inputs": [{"name": "in", "kind": "audio", "to": [["sub", "in"]]}],
                       "outputs": [{"name": "out", "kind": "audio", "from": ["sub", "out"]}]}
        doc["nodes"][1] = {"id": "outer", "type": SUBPATCH_TYPE, "version": 1, "state": outer_state}
        for e in doc["edges"]:
            for end in (e["from"], e["to"]):
                if end[0] == "sub":
                    end[0] = "outer"
        g = graph_from_dict(doc)
        nested = inner_graph(g.nodes["outer"].extra).nodes["sub"]
        assert nested.version == 2 and "inputs" not in nested.extra
        x = noise()
        assert np.array_equal(render(g, x)[0], render(effect_patch(), x)[0])

    def test_version_1_port_bound_to_a_missing_inner_node_names_its_path(self):
        doc = self.v1_doc()
        doc["nodes"][1]["state"]["outputs"][0]["from"] = ["ghost", "out"]
        with pytest.raises(PatchError) as exc:
            graph_from_dict(doc)
        assert exc.value.path == "$.nodes[1].state.outputs[0].from[0]"
        assert "ghost" in exc.value.message

    def test_version_2_state_with_port_lists_is_refused(self):
        doc = self.v1_doc()
        doc["nodes"][1]["version"] = 2
        with pytest.raises(PatchError) as exc:
            graph_from_dict(doc)
        assert exc.value.path == "$.nodes[1].state.inputs"


class TestEditingPorts:
    def renamed(self, graph, node_id, inlet_id, name, kind=None):
        inner = inner_graph(graph.nodes[node_id].extra)
        inner.nodes[inlet_id].params["name"] = name
        if kind:
            inner.nodes[inlet_id].params["kind"] = kind
        return state_from_graph(inner)

    def test_renaming_an_inlet_renames_the_port_and_moves_its_cable(self):
        g = hand_built()
        before = g.copy()
        undo = g.apply(replace_subgraph(g, "fx", self.renamed(g, "fx", "inlet", "dry")))
        assert ports_of(g, "fx")[0] == [("dry", "audio")]
        assert Edge("in", "out", "fx", "dry") in g.edges and Edge("in", "out", "fx", "audio_in") not in g.edges
        x = noise()
        assert np.array_equal(render(g, x)[0], render(before, x)[0])
        g.apply(undo)
        assert g.same_as(before)

    def test_renamed_port_is_checked_against_outer_cables_when_loading(self):
        g = hand_built()
        g.apply(SetSubgraph("fx", self.renamed(g, "fx", "inlet", "dry")))  # cables left on "audio_in"
        with pytest.raises(CompileError, match="has no input 'audio_in'"):
            compile_graph(g)
        doc = graph_to_dict(g)
        k = next(i for i, e in enumerate(doc["edges"]) if e["to"] == ["fx", "audio_in"])
        with pytest.raises(PatchError) as exc:
            parse_patch(json.dumps(doc))
        assert exc.value.path == f"$.edges[{k}].to[1]"
        assert 'has no input "audio_in" (has: dry)' in exc.value.message

    def test_removing_an_outlet_removes_its_outer_cables_in_the_same_command(self):
        g = hand_built()
        before = g.copy()
        inner = inner_graph(g.nodes["fx"].extra)
        inner.apply(RemoveNode("outlet"))
        undo = g.apply(replace_subgraph(g, "fx", state_from_graph(inner)))
        assert ports_of(g, "fx")[1] == []
        assert not [e for e in g.edges if e.src == "fx"]
        g.apply(undo)
        assert g.same_as(before)

    def test_changing_a_port_kind_drops_cables_that_no_longer_fit(self):
        g = hand_built()
        g.apply(replace_subgraph(g, "fx", self.renamed(g, "fx", "inlet", "audio_in", kind="control")))
        assert ports_of(g, "fx")[0] == [("audio_in", "control")]
        assert not [e for e in g.edges if e.dst == "fx"]

    def test_two_inlets_may_not_share_a_name(self):
        g = hand_built()
        inner = inner_graph(g.nodes["fx"].extra)
        inner.nodes["inlet2"] = new_node_spec(INLET_TYPE, "inlet2", params={"name": "audio_in"})
        with pytest.raises(GraphError, match='port name "audio_in"'):
            replace_subgraph(g, "fx", state_from_graph(inner))
        inner.nodes["inlet2"].params["name"] = " "
        with pytest.raises(GraphError, match="needs a port name"):
            replace_subgraph(g, "fx", state_from_graph(inner))

    def test_an_empty_subpatch_given_an_inlet_and_an_outlet_works_like_its_contents(self):
        g = build([("in", "io.audio_in", {}), ("s", SUBPATCH_TYPE, {}), ("out", "io.audio_out", {})], [])
        inner = build([("inlet", INLET_TYPE, {}), ("gain", "util.gain", {"gain_db": -9.0}),
                       ("outlet", OUTLET_TYPE, {})],
                      [("inlet", "out", "gain", "in"), ("gain", "out", "outlet", "in")])
        g.apply(replace_subgraph(g, "s", state_from_graph(inner)))
        g.apply(_connect("in", "out", "s", "in"))
        g.apply(_connect("s", "out", "out", "in"))
        plain = build([("in", "io.audio_in", {}), ("gain", "util.gain", {"gain_db": -9.0}),
                       ("out", "io.audio_out", {})], [("in", "out", "gain", "in"), ("gain", "out", "out", "in")])
        x = noise()
        assert np.array_equal(render(g, x)[0], render(plain, x)[0])
        assert parse_patch(dumps_patch(g)).same_as(g)

    def test_live_engine_follows_port_edits(self):
        g = build([("osc", "gen.oscillator", {"freq_hz": 441.0}), ("out", "io.audio_out", {})], [])
        inner = build([("inlet", INLET_TYPE, {}), ("gain", "util.gain", {"gain_db": -6.0}),
                       ("outlet", OUTLET_TYPE, {})],
                      [("inlet", "out", "gain", "in"), ("gain", "out", "outlet", "in")])
        g.apply(AddNode(subpatch_spec("s", inner)))
        g.apply(_connect("osc", "out", "s", "in"))
        g.apply(_connect("s", "out", "out", "in"))
        with EngineClient(mode="thread", backend="offline", block_size=BS, in_channels=1,
                          out_channels=1) as live:
            live.load(g)
            sounding = live.pump(20)
            without_outlet = copy.deepcopy(inner)
            without_outlet.apply(RemoveNode("outlet"))
            live.apply(replace_subgraph(g, "s", state_from_graph(without_outlet)))
            live.pump(10)                       # crossfade
            silent = live.pump(10)
        assert np.max(np.abs(sounding)) > 0.1
        assert np.max(np.abs(silent)) == 0.0


class TestGroupRoundTrip:
    def test_group_creates_inlets_and_outlets_for_boundary_cables_and_ungroup_removes_them(self):
        g = effect_patch()
        sub = g.copy()
        sub.apply(group_nodes(sub, ["eq", "gain"], "sub"))
        inner = inner_graph(sub.nodes["sub"].extra)
        assert sorted(s.type for s in inner.nodes.values()) == sorted(
            ["fx.eq3", "util.gain", INLET_TYPE, OUTLET_TYPE])
        x = noise()
        assert np.array_equal(render(sub, x)[0], render(g, x)[0])
        sub.apply(ungroup(sub, "sub"))
        assert sub.same_as(g)

    def test_ungroup_joins_a_pass_through_inlet_to_outlet_into_one_cable(self):
        inner = build([("i", INLET_TYPE, {}), ("o", OUTLET_TYPE, {})], [("i", "out", "o", "in")])
        g = build([("in", "io.audio_in", {}), ("out", "io.audio_out", {})], [])
        g.apply(AddNode(subpatch_spec("thru", inner)))
        g.apply(_connect("in", "out", "thru", "in"))
        g.apply(_connect("thru", "out", "out", "in"))
        g.apply(ungroup(g, "thru"))
        assert list(g.nodes) == ["in", "out"] and g.edges == [Edge("in", "out", "out", "in")]

    def test_group_of_placeholder_ports_uses_audio_inlets(self):
        doc = {"format": "neuropatch", "version": 1,
               "nodes": [{"id": "a", "type": "x.unknown"}, {"id": "b", "type": "x.other"}],
               "edges": [{"from": ["a", "o"], "to": ["b", "i"]}]}
        g = graph_from_dict(doc)
        g.apply(group_nodes(g, ["b"], "sub"))
        assert ports_of(g, "sub") == ([("i", "audio")], [])
        assert parse_patch(dumps_patch(g)).same_as(g)
