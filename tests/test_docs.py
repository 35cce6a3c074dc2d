"""The documentation cannot go stale: the node reference and the gallery page are
regenerated and compared with the checked-in files; every example carries its gallery
metadata; `neuropatch examples` finds the examples through the package data."""
import importlib.util
import json
import re
from pathlib import Path

import pytest

from neuropatch.app.cli import main as cli_main
from neuropatch.app.cli_examples import example_infos
from neuropatch.app.cli_nodes import MARKDOWN_COMMAND, nodes_markdown
from neuropatch.engine import default_registry, load_patch
from neuropatch.engine.patch import node_ports

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PATCHES = sorted((REPO / "patches").glob("*.json"))


def load_gallery_script():
    spec = importlib.util.spec_from_file_location("make_gallery", DOCS / "make_gallery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestNodeReference:
    def test_the_checked_in_node_reference_matches_the_registry(self):
        fresh = nodes_markdown(default_registry())
        assert (DOCS / "nodes.md").read_text("utf-8") == fresh, \
            f"docs/nodes.md is stale: regenerate it with `{MARKDOWN_COMMAND}`"

    def test_the_reference_has_a_section_and_a_param_row_for_every_node_type(self):
        text = (DOCS / "nodes.md").read_text("utf-8")
        for cls in default_registry().classes():
            assert f"— `{cls.type_id}`" in text
            for p in cls.params:
                assert f"| `{p.name}` |" in text

    def test_the_markdown_flag_prints_the_reference(self, capsys):
        assert cli_main(["nodes", "--markdown"]) == 0
        assert capsys.readouterr().out == nodes_markdown(default_registry())


class TestExampleMetadata:
    @pytest.mark.parametrize("patch", PATCHES, ids=[p.stem for p in PATCHES])
    def test_every_example_has_a_title_a_description_and_tags(self, patch):
        meta = load_patch(patch).meta
        assert isinstance(meta.get("title"), str) and meta["title"].strip()
        assert isinstance(meta.get("description"), str) and len(meta["description"]) > 20
        tags = meta.get("tags")
        assert isinstance(tags, list) and tags and all(re.fullmatch(r"[a-z0-9-]+", t) for t in tags)

    def test_examples_are_found_through_the_package_data(self):
        infos = example_infos()
        assert [i["name"] for i in infos] == [p.stem for p in PATCHES]
        assert all(Path(i["path"]).resolve() == (REPO / "patches" / f"{i['name']}.json").resolve() for i in infos)


class TestExamplesCommand:
    def test_the_list_shows_name_title_and_tags_of_every_example(self, capsys):
        assert cli_main(["examples"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert len(out) == len(PATCHES)
        amp = next(line for line in out if line.startswith("amp_sim "))
        assert "Amp sim" in amp and "[guitar, amp," in amp

    def test_print_path_names_the_example_file(self, capsys):
        assert cli_main(["examples", "voice_to_violin", "--print-path"]) == 0
        assert Path(capsys.readouterr().out.strip()).resolve() == (REPO / "patches" / "voice_to_violin.json").resolve()

    def test_json_carries_the_description(self, capsys):
        assert cli_main(["examples", "hello_tone", "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["title"] == "Hello tone" and "220 Hz" in info["description"]

    def test_an_unknown_name_is_an_error_listing_the_known_examples(self, capsys):
        assert cli_main(["examples", "no_such_patch"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: unknown example 'no_such_patch'; known examples: amp_sim, ")
        assert "Traceback" not in err and "voice_to_violin" in err

    def test_naming_an_example_opens_that_file_in_the_editor(self, monkeypatch):
        import neuropatch.app.editor_main as editor_main

        opened = []
        monkeypatch.setattr(editor_main, "main", lambda argv: opened.append(argv) or 0)
        assert cli_main(["examples", "amp_sim.json"]) == 0
        assert [Path(a).resolve() for a in opened[0]] == [(REPO / "patches" / "amp_sim.json").resolve()]

    def test_demo_input_names_the_shipped_guitar_di(self, capsys):
        assert cli_main(["examples", "--demo-input"]) == 0
        assert Path(capsys.readouterr().out.strip()).resolve() == (REPO / "assets" / "guitar_di_demo.flac").resolve()


class TestGallery:
    def test_the_checked_in_gallery_page_matches_the_examples(self):
        fresh = load_gallery_script().gallery_markdown(example_infos())
        assert (DOCS / "gallery.md").read_text("utf-8") == fresh, \
            "docs/gallery.md is stale: regenerate it with `python docs/make_gallery.py`"

    def test_every_example_has_a_screenshot_in_the_gallery(self):
        text = (DOCS / "gallery.md").read_text("utf-8")
        for patch in PATCHES:
            shot = DOCS / "gallery" / f"{patch.stem}.png"
            assert f"(gallery/{patch.stem}.png)" in text
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000

    def test_the_render_commands_in_the_gallery_use_the_demo_input_where_a_patch_takes_audio(self):
        gallery = load_gallery_script()
        by_name = {i["name"]: gallery.render_command(i) for i in example_infos()}
        assert '--in "$(neuropatch examples --demo-input)"' in by_name["amp_sim"]
        assert by_name["hello_tone"].endswith("--seconds 4 --out hello_tone.wav")


class TestGuides:
    @pytest.mark.parametrize("page", ["README.md", "getting-started.md", "patch-format.md", "node-packs.md"])
    def test_every_image_and_page_a_guide_links_exists(self, page):
        text = (DOCS / page).read_text("utf-8")
        links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
        local = [link for link in links if "://" not in link]
        assert local, page
        missing = [link for link in local if not (DOCS / link).exists()]
        assert missing == []

    def test_the_complete_patch_in_the_format_reference_loads_and_sounds_like_its_flat_version(self):
        import numpy as np

        from neuropatch.engine import parse_patch, render

        text = (DOCS / "patch-format.md").read_text("utf-8")
        doc = json.loads(re.search(r"## A complete patch\n\n```json\n(.*?)```", text, re.S).group(1))
        graph = parse_patch(json.dumps(doc))
        assert graph.meta["tags"] == ["synth", "delay"]
        inputs, outputs = node_ports(graph.nodes["echo"])
        assert [p.name for p in inputs] == ["in"] and [p.name for p in outputs] == ["out"]
        y, _ = render(graph, None, seconds=0.5)
        flat = parse_patch(json.dumps({**doc, "nodes": [doc["nodes"][0], doc["nodes"][2],
                                                        {**doc["nodes"][1]["state"]["nodes"][1], "id": "echo"}],
                                       "edges": [{"from": ["osc", "out"], "to": ["echo", "in"]},
                                                 {"from": ["echo", "out"], "to": ["out", "in"]}]}))
        y_flat, _ = render(flat, None, seconds=0.5)
        assert np.max(np.abs(y)) > 0.05
        assert np.array_equal(y, y_flat)

    def test_the_manifest_fields_in_the_format_reference_are_those_a_bundle_writes(self, tmp_path):
        from neuropatch.engine.bundle import write_bundle

        text = (DOCS / "patch-format.md").read_text("utf-8")
        table = text.split("| field | meaning |")[1].split("\n\n")[0]
        documented = re.findall(r"^\| `(\w+)` \|", table, re.M)
        manifest = write_bundle(REPO / "patches" / "amp_sim.json", tmp_path / "amp_sim.npbundle")
        assert documented == list(manifest)
        assert sorted(manifest["files"]) == ["resources/fluid_crunch.nam", "resources/synthetic_4x12.wav"]
