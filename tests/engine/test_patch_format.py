"""Patch format v1: validation with JSON paths, placeholders, migrations, atomic save."""
import json
import os

import pytest

from neuropatch.engine import (Graph, Node, Param, PatchError, Port, Registry, default_registry, dumps_patch,
                               graph_from_dict, load_patch, parse_patch, save_patch)


def doc(**over):
    d = {"format": "neuropatch", "version": 1,
         "meta": {"title": "t"}, "settings": {"sample_rate": 48000, "block_size": 256},
         "nodes": [{"id": "in", "type": "io.audio_in"},
                   {"id": "g", "type": "util.gain", "version": 1, "params": {"gain_db": -6.0}, "ui": {"pos": [1, 2]}},
                   {"id": "out", "type": "io.audio_out"}],
         "edges": [{"from": ["in", "out"], "to": ["g", "in"]}, {"from": ["g", "out"], "to": ["out", "in"]}]}
    d.update(over)
    return d


def fault(d) -> PatchError:
    with pytest.raises(PatchError) as exc:
        parse_patch(json.dumps(d) if not isinstance(d, (bytes, str)) else d)
    return exc.value


def test_valid_patch_round_trips_through_save(tmp_path):
    g = graph_from_dict(doc())
    path = tmp_path / "p.json"
    save_patch(g, path)
    again = load_patch(path)
    assert again.same_as(g)
    assert dumps_patch(again) == path.read_text()


@pytest.mark.parametrize("mutate, path, words", [
    (lambda d: d.update(format="other"), "$.format", "not a neuropatch patch"),
    (lambda d: d.pop("format"), "$.format", "got nothing"),
    (lambda d: d.update(version="1"), "$.version", "expected an integer"),
    (lambda d: d.update(version=7), "$.version", "newer neuropatch"),
    (lambda d: d.update(meta=[]), "$.meta", "expected an object"),
    (lambda d: d.update(settings={"sample_rate": 12}), "$.settings.sample_rate", "outside"),
    (lambda d: d.update(settings={"block_size": 1e400 if False else 10**12}), "$.settings.block_size", "outside"),
    (lambda d: d.update(nodes={}), "$.nodes", "expected an array"),
    (lambda d: d["nodes"].append(7), "$.nodes[3]", "expected an object"),
    (lambda d: d["nodes"][1].update(id=5), "$.nodes[1].id", "expected a string"),
    (lambda d: d["nodes"][1].update(id=""), "$.nodes[1].id", "1..128"),
    (lambda d: d["nodes"][2].update(id="g"), "$.nodes[2].id", 'duplicate node id "g"'),
    (lambda d: d["nodes"][1].update(type=None), "$.nodes[1].type", "expected a string"),
    (lambda d: d["nodes"][1].update(version=0), "$.nodes[1].version", "outside"),
    (lambda d: d["nodes"][1].update(version=99), "$.nodes[1].version", "newer than this app"),
    (lambda d: d["nodes"][1].update(params=[]), "$.nodes[1].params", "expected an object"),
    (lambda d: d["nodes"][1]["params"].update(gain_db="loud"), "$.nodes[1].params.gain_db", 'expected a number, got "loud"'),
    (lambda d: d["nodes"][1]["params"].update(gain_db=1e300), "$.nodes[1].params.gain_db", "outside"),
    (lambda d: d["nodes"][1]["params"].update(gain_db=True), "$.nodes[1].params.gain_db", "expected a number"),
    (lambda d: d["nodes"][1]["params"].update(volume=1), "$.nodes[1].params.volume", "unknown parameter"),
    (lambda d: d["nodes"][1].update(ui={"pos": [1]}), "$.nodes[1].ui.pos", "expected [x, y]"),
    (lambda d: d["nodes"][1].update(ui={"pos": ["a", 1]}), "$.nodes[1].ui.pos[0]", "expected a number"),
    (lambda d: d["nodes"][1].update(resources={"model": {"path": "x"}}), "$.nodes[1].resources.model", "no resource"),
    (lambda d: d["nodes"][1].update(resources={"x": "y"}), "$.nodes[1].resources.x", "expected an object"),
    (lambda d: d.update(edges=None), "$.edges", "expected an array"),
    (lambda d: d["edges"].append({"from": "in", "to": ["g", "in"]}), "$.edges[2].from", "expected [\"node id\", \"port\"]"),
    (lambda d: d["edges"].append({"from": ["nope", "out"], "to": ["g", "in"]}), "$.edges[2].from[0]", 'no node with id "nope"'),
    (lambda d: d["edges"].append({"from": ["in", "nope"], "to": ["g", "in"]}), "$.edges[2].from[1]", 'no output "nope"'),
    (lambda d: d["edges"].append({"from": ["in", "out"], "to": ["g", "gain"]}), "$.edges[2].to[1]", 'no input "gain"'),
    (lambda d: d["edges"].append(dict(d["edges"][0])), "$.edges[2]", "duplicate edge"),
])
def test_malformed_patches_name_the_json_path(mutate, path, words):
    d = doc()
    mutate(d)
    err = fault(d)
    assert err.path == path, str(err)
    assert words in str(err)


def test_wrong_stream_kinds_are_rejected_at_load():
    d = doc()
    d["nodes"].append({"id": "osc", "type": "gen.oscillator"})
    d["edges"].append({"from": ["g", "out"], "to": ["osc", "freq"]})
    err = fault(d)
    assert err.path == "$.edges[2]" and "g.out (audio)" in str(err) and "osc.freq (control)" in str(err)


@pytest.mark.parametrize("text, words", [
    (b"", "empty"),
    (b'{"format": "neuropatch", "version": 1, "nodes": [', "invalid JSON at line 1"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b'{"format": "neuropatch", "version": NaN}', "NaN is not allowed"),
    (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
    (b'{"format": "neuropatch", "version": 1' + b"0" * 5000 + b"}", "invalid JSON"),
    (b"null", "expected an object"),
    (b'"just a string"', "expected an object"),
])
def test_junk_files_give_patch_errors_not_crashes(text, words):
    err = fault(text)
    assert words in str(err)


def test_deep_junk_inside_meta_is_rejected():
    d = doc()
    junk = {}
    cur = junk
    for _ in range(40):
        cur["x"] = {}
        cur = cur["x"]
    d["meta"] = junk
    assert "nested too deeply" in str(fault(d))


def test_load_error_names_the_file(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{")
    with pytest.raises(PatchError) as exc:
        load_patch(p)
    assert exc.value.file == str(p)
    with pytest.raises(PatchError, match="cannot read file"):
        load_patch(tmp_path / "missing.json")


def test_unknown_node_types_round_trip_verbatim(tmp_path):
    d = doc()
    alien = {"id": "fx", "type": "acme.shimmer", "version": 3, "params": {"size": "huge", "nested": {"a": [1, 2]}},
             "resources": {"ir": {"path": "hall.wav"}}, "custom_field": True}
    d["nodes"].append(alien)
    d["edges"].append({"from": ["g", "out"], "to": ["fx", "anything"]})
    d["future_top_level"] = {"keep": "me"}
    g = graph_from_dict(d)
    assert g.nodes["fx"].raw == alien
    path = tmp_path / "p.json"
    save_patch(g, path)
    saved = json.loads(path.read_text())
    assert saved["nodes"][-1] == alien
    assert saved["future_top_level"] == {"keep": "me"}
    assert {"from": ["g", "out"], "to": ["fx", "anything"]} in saved["edges"]


class GainV2(Node):
    """Version 2 renamed 'level' (linear) to 'gain_db'."""

    type_id = "test.gain2"
    version = 2
    doc = "test"
    inputs = [Port("in", "audio")]
    outputs = [Port("out", "audio")]
    params = [Param("gain_db", -96, 24, 0.0)]

    def migrate(self, state, from_version):
        import math
        if from_version == 1:
            level = state["params"].pop("level", 1.0)
            state["params"]["gain_db"] = 20 * math.log10(max(level, 1e-5))
        return state


def test_old_node_versions_are_migrated():
    reg = Registry()
    reg.register_many(default_registry().classes() + [GainV2])
    d = doc()
    d["nodes"].append({"id": "old", "type": "test.gain2", "version": 1, "params": {"level": 0.5}})
    g = graph_from_dict(d, reg)
    spec = g.nodes["old"]
    assert spec.version == 2
    assert spec.params["gain_db"] == pytest.approx(-6.0206, abs=1e-4)


def test_legacy_type_ids_resolve_to_the_new_type():
    class Renamed(Node):
        type_id = "test.new_name"
        legacy_ids = ("test.old_name",)
        doc = "test"

    reg = Registry()
    reg.register(Renamed)
    g = graph_from_dict({"format": "neuropatch", "version": 1,
                         "nodes": [{"id": "a", "type": "test.old_name"}]}, reg)
    assert g.nodes["a"].type == "test.new_name" and g.nodes["a"].raw is None


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    g = graph_from_dict(doc())
    path = tmp_path / "p.json"
    path.write_text("original")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        save_patch(g, path)
    assert path.read_text() == "original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]
