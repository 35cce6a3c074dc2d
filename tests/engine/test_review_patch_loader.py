"""Patch loader robustness: hostile or odd inputs give PatchError naming a JSON path."""
import json

import pytest

from neuropatch.engine import PatchError, parse_patch


def doc(**changes):
    d = {"format": "neuropatch", "version": 1,
         "nodes": [{"id": "g", "type": "util.gain", "params": {"gain_db": 0.0}},
                   {"id": "o", "type": "io.audio_out"}],
         "edges": [{"from": ["g", "out"], "to": ["o", "in"]}]}
    d.update(changes)
    return d


def load(d):
    return parse_patch(json.dumps(d))


class TestHugeNumbers:
    def test_integer_too_large_for_a_float_param_is_a_patch_error(self):
        d = doc()
        d["nodes"][0]["params"]["gain_db"] = 10 ** 400
        with pytest.raises(PatchError) as exc:
            load(d)
        assert exc.value.path == "$.nodes[0].params.gain_db"

    def test_integer_too_large_for_an_int_param_is_a_patch_error(self):
        d = doc()
        d["nodes"].append({"id": "n", "type": "gen.noise", "params": {"seed": -10 ** 400}})
        with pytest.raises(PatchError) as exc:
            load(d)
        assert exc.value.path == "$.nodes[2].params.seed"

    def test_integer_too_large_for_a_ui_position_is_a_patch_error(self):
        d = doc()
        d["nodes"][0]["ui"] = {"pos": [10 ** 400, 0]}
        with pytest.raises(PatchError) as exc:
            load(d)
        assert exc.value.path == "$.nodes[0].ui.pos[0]"


class TestOddKeys:
    def test_a_key_with_a_newline_is_quoted_in_the_path_and_the_message_is_one_line(self):
        d = doc()
        d["nodes"][0]["params"]["gain_db\n"] = 1.0
        with pytest.raises(PatchError) as exc:
            load(d)
        assert exc.value.path == '$.nodes[0].params["gain_db\\n"]'
        assert "\n" not in str(exc.value)

    def test_a_key_with_a_dot_is_quoted_in_the_path(self):
        d = doc(meta={"a.b": float("nan")})
        with pytest.raises(PatchError) as exc:
            parse_patch(json.dumps(d, allow_nan=True))
        assert "$" in str(exc.value)  # NaN is refused at parse time
        d = doc()
        d["nodes"][0]["resources"] = {"a.b": {"path": "x"}}
        with pytest.raises(PatchError) as exc:
            load(d)
        assert exc.value.path == '$.nodes[0].resources["a.b"]'

    def test_a_very_long_key_is_shortened_in_the_message(self):
        d = doc()
        d["nodes"][0]["params"]["k" * 100000] = 1.0
        with pytest.raises(PatchError) as exc:
            load(d)
        assert len(str(exc.value)) < 400


class TestIntegralFloats:
    def test_settings_accept_a_whole_float_like_48000_0_as_an_integer(self):
        g = load(doc(settings={"sample_rate": 44100.0, "block_size": 128.0}))
        assert g.settings["sample_rate"] == 44100 and type(g.settings["sample_rate"]) is int
        assert g.settings["block_size"] == 128 and type(g.settings["block_size"]) is int

    def test_settings_refuse_a_fractional_sample_rate(self):
        with pytest.raises(PatchError) as exc:
            load(doc(settings={"sample_rate": 44100.5}))
        assert exc.value.path == "$.settings.sample_rate"

    def test_int_param_given_3_0_loads_as_the_integer_3(self):
        d = doc()
        d["nodes"].append({"id": "n", "type": "gen.noise", "params": {"seed": 3.0}})
        g = load(d)
        assert g.nodes["n"].params["seed"] == 3 and type(g.nodes["n"].params["seed"]) is int

    def test_bool_param_given_1_is_a_patch_error_naming_true_or_false(self):
        d = doc()
        d["nodes"].append({"id": "f", "type": "io.file_player", "params": {"loop": 1}})
        with pytest.raises(PatchError) as exc:
            load(d)
        assert exc.value.path == "$.nodes[2].params.loop" and "true or false" in exc.value.message


class TestResourcePaths:
    def test_a_resource_path_with_a_nul_character_is_a_patch_error(self):
        d = doc()
        d["nodes"].append({"id": "f", "type": "io.file_player", "resources": {"file": {"path": "a\u0000b"}}})
        with pytest.raises(PatchError) as exc:
            load(d)
        assert exc.value.path == "$.nodes[2].resources.file.path"

    def test_an_empty_resource_path_is_a_patch_error(self):
        d = doc()
        d["nodes"].append({"id": "f", "type": "io.file_player", "resources": {"file": {"path": ""}}})
        with pytest.raises(PatchError) as exc:
            load(d)
        assert exc.value.path == "$.nodes[2].resources.file.path"


class TestFailingMigration:
    def test_a_migration_that_raises_an_unexpected_error_becomes_a_patch_error(self):
        from neuropatch.engine import Node, Param, Port, Registry, default_registry

        class Migrating(Node):
            type_id = "test.migrating"
            version = 2
            inputs = [Port("in", "audio")]
            outputs = [Port("out", "audio")]
            params = [Param("x", 0, 1, 0.5)]

            def migrate(self, state, from_version):
                return state.upgraded()  # a buggy migration: AttributeError

        reg = Registry()
        reg.register_many(default_registry().classes())
        reg.register(Migrating)
        d = doc()
        d["nodes"].append({"id": "m", "type": "test.migrating", "version": 1, "params": {"old": [1]}})
        with pytest.raises(PatchError) as exc:
            parse_patch(json.dumps(d), reg)
        assert exc.value.path.startswith("$.nodes[2]") and "test.migrating" in exc.value.message


def test_random_mutations_of_example_patches_never_crash_the_loader():
    """A seeded mutation fuzz over the shipped examples: every outcome is a Graph or a PatchError."""
    import copy
    import random
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    seeds = [json.loads(p.read_text()) for p in sorted((repo / "patches").glob("*.json"))]
    assert seeds
    values = [None, True, False, 0, 1, -1, 3.0, 2.5, -1e308, 1e308, 10 ** 30, 10 ** 400, -10 ** 400,
              "", "x" * 5000, "\u00fc\u0000\n", [], {}, [1, 2], {"a": 1}, {"path": "\u0000"}, "sine"]

    def paths(o, p=()):
        yield p
        if isinstance(o, dict):
            for k, v in o.items():
                yield from paths(v, p + (k,))
        elif isinstance(o, list):
            for i, v in enumerate(o):
                yield from paths(v, p + (i,))

    rng = random.Random(1234)
    for _ in range(600):
        d = copy.deepcopy(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            p = rng.choice([q for q in paths(d) if q])
            parent = d
            for k in p[:-1]:
                parent = parent[k]
            if rng.random() < 0.3:
                del parent[p[-1]]
            elif isinstance(parent, dict) and rng.random() < 0.2:
                parent[rng.choice(["zz", "state", "params", "resources", "ui", "version", "a\nb"])] = \
                    copy.deepcopy(rng.choice(values))
            else:
                parent[p[-1]] = copy.deepcopy(rng.choice(values))
        try:
            parse_patch(json.dumps(d))
        except PatchError as exc:
            assert "\n" not in str(exc)
