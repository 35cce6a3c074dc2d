"""Subpatches: grouping, ungrouping, flattening for the compiler, save/load, validation."""
import copy

import numpy as np
import pytest

from neuropatch.engine import (SUBPATCH_TYPE, CompileError, CycleError, Edge, Graph, GraphError, PatchError,
                               SetSubgraph, compile_graph, flatten, group_nodes, new_node_spec,
                               render, ungroup)
from neuropatch.engine.live import EngineClient
from neuropatch.engine.patch import dumps_patch, graph_to_dict, graph_from_dict, parse_patch
from neuropatch.engine.subpatch import graph_ports, inner_graph

SR, BS = 48000, 256


def build(nodes, edges) -> Graph:
    """nodes: [(id, type, params)], edges: [(src, port, dst, port)]; laid out left to right."""
    g = Graph(settings={"sample_rate": SR, "block_size": BS})
    for k, (nid, type_id, params) in enumerate(nodes):
        g.nodes[nid] = new_node_spec(type_id, nid, params=params, pos=(150.0 * k, 40.0 * (k % 3)))
    g.edges = [Edge(*e) for e in edges]
    return g


def effect_patch() -> Graph:
    """in -> eq -> gate -> gain -> out, plus a dry path in -> mix.in2 and gain -> mix.in1."""
    return build(
        [("in", "io.audio_in", {}), ("eq", "fx.eq3", {"bass_db": 4.0, "treble_db": -3.0}),
         ("gate", "fx.noise_gate", {"threshold_db": -30.0}), ("gain", "util.gain", {"gain_db": -4.0}),
         ("mix", "util.mix", {"gain2_db": -9.0}), ("out", "io.audio_out", {})],
        [("in", "out", "eq", "in"), ("eq", "out", "gate", "in"), ("gate", "out", "gain", "in"),
         ("gain", "out", "mix", "in1"), ("in", "out", "mix", "in2"), ("mix", "out", "out", "in")])


def noise(seconds=0.25, channels=1, seed=7):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.5, 0.5, (channels, int(SR * seconds))).astype(np.float32)
    x[:, : SR // 20] *= 0.01  # a quiet start so the gate opens and closes
    return x


def grouped(graph, ids, new_id="sub"):
    g = graph.copy()
    inverse = g.apply(group_nodes(g, ids, new_id))
    return g, inverse


class TestGrouping:
    def test_grouped_chain_renders_bit_identical_to_the_ungrouped_patch(self):
        g = effect_patch()
        x = noise()
        reference, _ = render(g, x)
        sub, _ = grouped(g, ["eq", "gate", "gain"])
        assert sub.nodes["sub"].type == SUBPATCH_TYPE
        assert not {"eq", "gate", "gain"} & set(sub.nodes)
        out, schedule = render(sub, x)
        assert np.array_equal(out, reference)
        assert {"sub/eq", "sub/gate", "sub/gain"} <= set(schedule.node_ids())

    def test_group_exposes_one_port_per_boundary_cable_source(self):
        g = effect_patch()
        sub, _ = grouped(g, ["gate", "gain", "mix"])
        inner = inner_graph(sub.nodes["sub"].extra)
        ins, outs = graph_ports(inner)
        # eq feeds gate; in feeds mix.in2: two outer sources, two inlets
        assert [(p.name, p.kind) for p in ins] == [("in", "audio"), ("in2", "audio")]
        assert [(p.name, p.kind) for p in outs] == [("out", "audio")]
        assert {str(e) for e in inner.edges if e.src in {p.node_id for p in ins}} == {
            f"{ins[0].node_id}.out -> gate.in", f"{ins[1].node_id}.out -> mix.in2"}
        assert Edge("mix", "out", outs[0].node_id, "in") in inner.edges
        assert sorted(map(str, sub.edges)) == sorted(
            ["in.out -> eq.in", "eq.out -> sub.in", "in.out -> sub.in2", "sub.out -> out.in"])

    def test_one_outer_source_feeding_two_inner_ports_becomes_one_inlet(self):
        g = build([("in", "io.audio_in", {}), ("a", "util.gain", {}), ("b", "util.gain", {}),
                   ("mix", "util.mix", {}), ("out", "io.audio_out", {})],
                  [("in", "out", "a", "in"), ("in", "out", "b", "in"), ("a", "out", "mix", "in1"),
                   ("b", "out", "mix", "in2"), ("mix", "out", "out", "in")])
        sub, _ = grouped(g, ["a", "b", "mix"])
        inner = inner_graph(sub.nodes["sub"].extra)
        (inlet,), _ = graph_ports(inner)
        assert inlet.name == "in"
        assert sorted(str(e) for e in inner.edges if e.src == inlet.node_id) == [
            f"{inlet.node_id}.out -> a.in", f"{inlet.node_id}.out -> b.in"]
        x = noise()
        assert np.array_equal(render(sub, x)[0], render(g, x)[0])

    def test_ungroup_restores_the_original_graph(self):
        g = effect_patch()
        sub, _ = grouped(g, ["eq", "gate", "gain"])
        sub.apply(ungroup(sub, "sub"))
        assert sub.same_as(g)

    def test_undo_of_group_and_of_ungroup_restore_the_graph(self):
        g = effect_patch()
        sub, inverse = grouped(g, ["eq", "gate", "gain"])
        after_group = sub.copy()
        redo_ungroup = sub.apply(ungroup(sub, "sub"))
        sub.apply(redo_ungroup)
        assert sub.same_as(after_group)
        sub.apply(inverse)
        assert sub.same_as(g)

    def test_ungroup_renames_inner_nodes_that_clash_with_outer_ids(self):
        g = effect_patch()
        sub, _ = grouped(g, ["gain"])
        sub.apply(new_add("gain", "util.gain"))
        sub.apply(ungroup(sub, "sub"))
        assert {"gain", "gain2"} <= set(sub.nodes)
        assert Edge("gain2", "out", "mix", "in1") in sub.edges

    def test_group_rejects_unknown_nodes_and_taken_ids(self):
        g = effect_patch()
        with pytest.raises(GraphError, match="no node 'nope'"):
            group_nodes(g, ["eq", "nope"], "sub")
        with pytest.raises(GraphError, match="'out' is taken"):
            group_nodes(g, ["eq"], "out")
        with pytest.raises(GraphError, match="no nodes"):
            group_nodes(g, [], "sub")

    def test_set_subgraph_returns_its_inverse(self):
        g, _ = grouped(effect_patch(), ["eq", "gate"])
        before = copy.deepcopy(g.nodes["sub"].extra)
        state = copy.deepcopy(before)
        state["nodes"][0]["params"]["bass_db"] = -8.0
        inverse = g.apply(SetSubgraph("sub", state))
        assert g.nodes["sub"].extra["nodes"][0]["params"]["bass_db"] == -8.0
        g.apply(inverse)
        assert g.nodes["sub"].extra == before
        with pytest.raises(GraphError, match="not a subpatch"):
            g.apply(SetSubgraph("gain", state))


def new_add(nid, type_id):
    from neuropatch.engine import AddNode

    return AddNode(new_node_spec(type_id, nid))


class TestNesting:
    def nested(self):
        g = effect_patch()
        g.apply(group_nodes(g, ["gate", "gain"], "inner"))
        g.apply(group_nodes(g, ["eq", "inner"], "outer"))
        return g

    def test_nested_subpatches_flatten_to_path_ids_and_render_identically(self):
        g = effect_patch()
        nested = self.nested()
        assert set(nested.nodes) == {"in", "outer", "mix", "out"}
        flat = flatten(nested)
        assert {"outer/eq", "outer/inner/gate", "outer/inner/gain"} <= set(flat.nodes)
        x = noise()
        assert np.array_equal(render(nested, x)[0], render(g, x)[0])

    def test_patch_with_nested_subpatch_round_trips_through_save_and_load(self, tmp_path):
        from neuropatch.engine import load_patch, save_patch

        nested = self.nested()
        path = tmp_path / "nested.json"
        save_patch(nested, path)
        loaded = load_patch(path)
        assert loaded.same_as(nested)
        assert dumps_patch(loaded) == dumps_patch(nested)
        inner_state = loaded.nodes["outer"].extra["nodes"][1]
        assert inner_state["type"] == SUBPATCH_TYPE and inner_state["id"] == "inner"
        x = noise()
        assert np.array_equal(render(loaded, x)[0], render(effect_patch(), x)[0])

    def test_ungrouping_the_outer_level_keeps_the_inner_subpatch(self):
        nested = self.nested()
        nested.apply(ungroup(nested, "outer"))
        assert nested.nodes["inner"].type == SUBPATCH_TYPE
        nested.apply(ungroup(nested, "inner"))
        assert nested.same_as(effect_patch())


class TestValidation:
    def doc(self):
        g, _ = grouped(effect_patch(), ["eq", "gate", "gain"])
        return graph_to_dict(g)

    def sub_index(self, doc):
        return next(i for i, n in enumerate(doc["nodes"]) if n["id"] == "sub")

    def test_bad_inner_param_names_the_json_path_inside_the_subpatch(self):
        doc = self.doc()
        i = self.sub_index(doc)
        doc["nodes"][i]["state"]["nodes"][2]["params"]["gain_db"] = "loud"
        with pytest.raises(PatchError) as exc:
            graph_from_dict(doc)
        assert exc.value.path == f"$.nodes[{i}].state.nodes[2].params.gain_db"

    def test_two_inlets_with_one_name_name_the_second_ones_path(self):
        doc = self.doc()
        i = self.sub_index(doc)
        nodes = doc["nodes"][i]["state"]["nodes"]
        inlet = next(n for n in nodes if n["type"] == "sys.inlet")
        nodes.append({**copy.deepcopy(inlet), "id": "inlet_twin"})
        with pytest.raises(PatchError) as exc:
            graph_from_dict(doc)
        assert exc.value.path == f"$.nodes[{i}].state.nodes[{len(nodes) - 1}].params.name"
        assert 'port name "in"' in exc.value.message

    def test_outer_cable_to_a_port_the_subpatch_lacks_is_a_patch_error(self):
        doc = self.doc()
        k = next(j for j, e in enumerate(doc["edges"]) if e["to"][0] == "sub")
        doc["edges"][k]["to"] = ["sub", "sidechain"]
        with pytest.raises(PatchError) as exc:
            graph_from_dict(doc)
        assert exc.value.path == f"$.edges[{k}].to[1]"
        assert 'has no input "sidechain"' in exc.value.message

    def test_malformed_states_never_crash_the_loader(self):
        bad_states = [{"nodes": 3}, {"inputs": [7]}, {"inputs": [{"name": ""}]},
                      {"outputs": [{"name": "o", "kind": "audio", "from": "x"}]},
                      {"inputs": [{"name": "i", "kind": "sound"}]}, {"wires": []},
                      {"edges": [{"from": ["a", "out"], "to": ["b", "in"]}]}]
        for state in bad_states:
            doc = {"format": "neuropatch", "version": 1,
                   "nodes": [{"id": "s", "type": SUBPATCH_TYPE, "state": state}]}
            with pytest.raises(PatchError) as exc:
                graph_from_dict(doc)
            assert exc.value.path.startswith("$.nodes[0].state."), (state, exc.value.path)

    def test_type_error_inside_a_subpatch_names_the_subpatch_and_both_ports(self):
        g = build([("osc", "gen.oscillator", {}), ("st", "spectral.stft", {}), ("g", "util.gain", {})],
                  [("osc", "out", "st", "in")])
        g.apply(group_nodes(g, ["st", "g"], "sub"))
        state = copy.deepcopy(g.nodes["sub"].extra)
        state["edges"].append({"from": ["st", "out"], "to": ["g", "in"]})
        g.apply(SetSubgraph("sub", state))
        with pytest.raises(CompileError) as exc:
            compile_graph(g)
        msg = str(exc.value)
        assert "subpatch 'sub'" in msg and "st.out (frames)" in msg and "g.in (audio)" in msg

    def test_loop_through_a_subpatch_is_named_by_flattened_ids(self):
        g = build([("a", "util.gain", {}), ("b", "util.gain", {}), ("c", "util.gain", {})],
                  [("a", "out", "b", "in"), ("b", "out", "c", "in"), ("c", "out", "a", "in")])
        g.apply(group_nodes(g, ["b"], "sub"))
        with pytest.raises(CycleError) as exc:
            compile_graph(g)
        assert exc.value.loop == ["a", "sub/b", "c"]


class TestLatency:
    def test_latency_inside_a_subpatch_is_compensated_on_the_dry_outer_path(self):
        g = build([("in", "io.audio_in", {}), ("stft", "spectral.stft", {"n_fft": 1024, "hop": 256, "output": "complex"}),
                   ("istft", "spectral.istft", {}), ("mix", "util.mix", {}), ("out", "io.audio_out", {})],
                  [("in", "out", "stft", "in"), ("stft", "out", "istft", "in"), ("istft", "out", "mix", "in1"),
                   ("in", "out", "mix", "in2"), ("mix", "out", "out", "in")])
        g.apply(group_nodes(g, ["stft", "istft"], "spec"))
        x = noise(0.5)
        out, schedule = render(g, x)
        assert schedule.latency_samples > 0
        assert schedule.node_latency["spec/istft"] == schedule.latency_samples
        body = slice(2048, x.shape[1] - 2048)
        np.testing.assert_allclose(out[:, body], 2.0 * x[:, body], atol=1e-4)


def test_grouping_while_playing_keeps_the_sound():
    g = build([("osc", "gen.oscillator", {"freq_hz": 441.0}), ("gain", "util.gain", {"gain_db": -6.0}),
               ("out", "io.audio_out", {})], [("osc", "out", "gain", "in"), ("gain", "out", "out", "in")])
    with EngineClient(mode="thread", backend="offline", block_size=BS, in_channels=1,
                      out_channels=1) as live, \
         EngineClient(mode="thread", backend="offline", block_size=BS, in_channels=1,
                      out_channels=1) as reference:
        live.load(g)
        parts = [live.pump(10)]
        live.apply(group_nodes(g, ["gain"], "sub"))
        parts.append(live.pump(10))
        assert "sub/gain" in live.meters()["nodes"]
        reference.load(g)
        clean = reference.pump(20)
    assert np.max(np.abs(np.concatenate(parts, axis=1) - clean)) < 10 ** (-60 / 20)


def test_editing_inside_a_subpatch_reaches_the_live_engine():
    g = build([("osc", "gen.oscillator", {"freq_hz": 441.0}), ("gain", "util.gain", {"gain_db": 0.0}),
               ("out", "io.audio_out", {})], [("osc", "out", "gain", "in"), ("gain", "out", "out", "in")])
    g.apply(group_nodes(g, ["gain"], "sub"))
    with EngineClient(mode="thread", backend="offline", block_size=BS, in_channels=1,
                      out_channels=1) as live:
        live.load(g)
        loud = live.pump(20)
        state = copy.deepcopy(g.nodes["sub"].extra)
        state["nodes"][0]["params"]["gain_db"] = -20.0
        live.apply(SetSubgraph("sub", state))
        live.pump(20)                      # crossfade and param glide
        quiet = live.pump(20)
    ratio = np.max(np.abs(quiet)) / np.max(np.abs(loud))
    assert abs(20 * np.log10(ratio) + 20.0) < 0.5
