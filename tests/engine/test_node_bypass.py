"""A node the user bypasses passes its bypass routes, in offline renders and in patches."""
import json

import numpy as np

from neuropatch.engine import (AddComment, EditComment, Graph, RemoveComment, SetBypass, SetNodeUi,
                               dumps_patch, graph_from_dict, parse_patch, render)
from neuropatch.engine.subpatch import group_nodes

from .helpers import LatencyNode, chain, make_test_registry


def tone(n=4800, sr=48000):
    t = np.arange(n) / sr
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]


def gain_chain():
    return chain([("in", "io.audio_in", {}), ("g", "util.gain", {"gain_db": -24.0}),
                  ("out", "io.audio_out", {})])


def test_a_bypassed_gain_renders_its_input_unchanged():
    g = gain_chain()
    x = tone()
    quiet, _ = render(g, x)
    g.apply(SetBypass("g", True))
    through, schedule = render(g, x)
    assert np.max(np.abs(quiet)) < 0.05
    np.testing.assert_allclose(through[0], x[0], atol=1e-6)
    assert "g" not in schedule.errors      # switched off, not broken


def test_undoing_a_bypass_brings_the_gain_back():
    g = gain_chain()
    undo = g.apply(SetBypass("g", True))
    g.apply(undo)
    assert g.nodes["g"].bypass is False
    y, _ = render(g, tone())
    assert np.max(np.abs(y)) < 0.05


class LookaheadWithRoute(LatencyNode):
    type_id = "test.lookahead_route"
    bypass_routes = (("in", "out"),)


def test_a_bypassed_node_adds_no_latency_to_the_patch():
    registry = make_test_registry()
    registry.register_many([LookaheadWithRoute])
    g = chain([("in", "io.audio_in", {}), ("la", "test.lookahead_route", {"samples": 480}),
               ("out", "io.audio_out", {})], registry)
    x = tone()
    _, delayed = render(g, x, registry=registry)
    g.apply(SetBypass("la", True))
    y, schedule = render(g, x, registry=registry)
    assert delayed.latency_samples == 480
    assert schedule.latency_samples == 0
    np.testing.assert_allclose(y[0], x[0], atol=1e-6)


def test_bypass_is_saved_only_when_on_and_survives_loading():
    g = gain_chain()
    plain = dumps_patch(g)
    assert '"bypass"' not in plain
    g.apply(SetBypass("g", True))
    text = dumps_patch(g)
    node = next(n for n in json.loads(text)["nodes"] if n["id"] == "g")
    assert node["bypass"] is True
    again = parse_patch(text)
    assert again.nodes["g"].bypass is True and dumps_patch(again) == text
    g.apply(SetBypass("g", False))
    assert dumps_patch(g) == plain


def test_a_placeholder_keeps_its_bypass_in_its_verbatim_json():
    doc = {"format": "neuropatch", "version": 1,
           "nodes": [{"id": "x", "type": "pack.unknown", "params": {"k": 1}}], "edges": []}
    g = graph_from_dict(doc)
    g.apply(SetBypass("x", True))
    saved = json.loads(dumps_patch(g))["nodes"][0]
    assert saved == {"id": "x", "type": "pack.unknown", "params": {"k": 1}, "bypass": True}


def test_a_bypassed_subpatch_bypasses_the_nodes_inside_it():
    g = gain_chain()
    g.apply(group_nodes(g, ["g"], "sub"))
    g.apply(SetBypass("sub", True))
    x = tone()
    y, _ = render(g, x)
    np.testing.assert_allclose(y[0], x[0], atol=1e-6)


def test_a_display_title_is_set_and_undone_through_the_node_ui():
    g = gain_chain()
    undo = g.apply(SetNodeUi("g", "title", "Drive"))
    assert json.loads(dumps_patch(g))["nodes"][1]["ui"]["title"] == "Drive"
    g.apply(undo)
    assert "title" not in g.nodes["g"].ui


def test_comments_are_added_edited_removed_and_undone():
    g = Graph()
    before = g.copy()
    note = {"id": "c1", "pos": [10.0, 20.0], "size": [200.0, 80.0], "text": "tone stack"}
    undo_add = g.apply(AddComment(note))
    undo_edit = g.apply(EditComment("c1", {"text": "cabinet", "size": [300.0, 90.0]}))
    assert g.comments == [{"id": "c1", "pos": [10.0, 20.0], "size": [300.0, 90.0], "text": "cabinet"}]
    g.apply(undo_edit)
    assert g.comments == [note]
    undo_remove = g.apply(RemoveComment("c1"))
    assert g.comments == []
    g.apply(undo_remove)
    g.apply(undo_add)
    assert g.same_as(before)


def test_comments_are_saved_as_a_top_level_list_and_only_when_there_are_some():
    g = gain_chain()
    assert "comments" not in json.loads(dumps_patch(g))
    g.apply(AddComment({"id": "c1", "pos": [0.0, 0.0], "size": [160.0, 60.0], "text": "in → out"}))
    text = dumps_patch(g)
    assert json.loads(text)["comments"] == [{"id": "c1", "pos": [0.0, 0.0], "size": [160.0, 60.0],
                                             "text": "in → out"}]
    again = parse_patch(text)
    assert again.comments == g.comments and dumps_patch(again) == text


def test_the_live_engine_bypasses_a_node_when_told_and_titles_cost_no_recompile():
    from neuropatch.engine.live import EngineClient

    g = chain([("osc", "gen.oscillator", {"freq_hz": 441.0}), ("g", "util.gain", {"gain_db": -40.0}),
               ("out", "io.audio_out", {})])
    with EngineClient(mode="thread", backend="offline", block_size=256, in_channels=1,
                      out_channels=1) as client:
        client.load(g)
        client.sync()
        quiet = client.pump(20)
        client.apply(SetBypass("g", True))
        generation = client.sync()
        client.pump(20)                 # past the crossfade
        loud = client.pump(20)
        client.apply(SetNodeUi("g", "title", "Level"))
        client.apply(AddComment({"id": "c", "pos": [0.0, 0.0], "size": [100.0, 50.0], "text": "hi"}))
        assert client.sync() == generation + 2
        assert client.meters()["nodes"] == ["osc", "g", "out"]
    assert np.max(np.abs(quiet)) < 0.02
    assert np.max(np.abs(loud)) > 50 * np.max(np.abs(quiet))   # -40 dB gone
