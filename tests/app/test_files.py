"""Opening files: malformed patches, placeholders, file drops, recent files, title."""
import json

import numpy as np
import soundfile as sf
from PySide6.QtCore import QPointF

from neuropatch.engine import load_patch

from .ui import drop_files


def test_malformed_patch_reports_the_json_path_and_keeps_the_open_patch(window, tmp_path):
    window.doc.add_node("gen.noise", (0, 0))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "neuropatch", "version": 1, "nodes": [
        {"id": "osc", "type": "gen.oscillator", "params": {"freq_hz": "loud"}}]}))
    assert not window.open_path(bad, ask_save=False)
    assert len(window.errors) == 1
    assert "$.nodes[0].params.freq_hz" in window.errors[0] and "expected a number" in window.errors[0]
    assert "Traceback" not in window.errors[0]
    assert list(window.doc.graph.nodes) == ["noise"]


def test_not_json_at_all_is_an_error_message(window, tmp_path):
    bad = tmp_path / "garbage.json"
    bad.write_bytes(b"\x00\xff not json")
    assert not window.open_path(bad)
    assert "$" in window.errors[0]


def test_unknown_node_type_is_drawn_as_placeholder_and_saved_back_unchanged(window, tmp_path):
    doc = {"format": "neuropatch", "version": 1, "nodes": [
        {"id": "mystery", "type": "vendor.unknown_widget", "version": 3, "params": {"x": 1},
         "ui": {"pos": [10, 10]}, "custom": [1, 2]},
        {"id": "out", "type": "io.audio_out", "ui": {"pos": [300, 10]}}],
        "edges": [{"from": ["mystery", "wet"], "to": ["out", "in"]}]}
    p = tmp_path / "mystery.json"
    p.write_text(json.dumps(doc))
    assert window.open_path(p)
    item = window.scene.node_items["mystery"]
    assert item.placeholder_reason and "vendor.unknown_widget" in item.placeholder_reason
    assert "wet" in item.outputs
    assert window.problems and "mystery" in window.problems[0]
    assert window.scene.node_items["out"].placeholder_reason is None
    window.scene.select_nodes(["mystery"])
    assert window.inspector.node_id == "mystery"
    out = tmp_path / "again.json"
    assert window.save_as(out)
    saved = json.loads(out.read_text())
    assert saved["nodes"][0] == doc["nodes"][0]


def test_title_shows_name_and_dirty_marker(window, tmp_path):
    assert window.windowTitle().startswith("untitled")
    window.doc.add_node("gen.noise", (0, 0))
    assert window.isWindowModified()
    window.save_as(tmp_path / "noisy.json")
    assert window.windowTitle().startswith("noisy.json") and not window.isWindowModified()
    window.doc.undo_stack.undo()
    assert window.isWindowModified()
    window.doc.undo_stack.redo()
    assert not window.isWindowModified()
    assert window.recent_files()[0].endswith("noisy.json")


def test_dropping_an_audio_file_adds_a_file_player_at_the_drop_point(window, tmp_path):
    wav = tmp_path / "loop.wav"
    sf.write(wav, np.zeros(480, np.float32), 48000)
    window.save_as(tmp_path / "p.json")
    assert drop_files(window, [wav], (400, 300))
    (nid,) = window.doc.graph.nodes
    spec = window.doc.graph.nodes[nid]
    assert spec.type == "io.file_player"
    assert spec.resources["file"]["path"] == "loop.wav"      # relative to the patch
    assert len(spec.resources["file"]["sha256"]) == 64
    assert window.scene.node_items[nid].pos() == window.view.mapToScene(400, 300)


def test_dropping_a_patch_file_opens_it(window, tmp_path):
    from neuropatch.app.editor import main_window

    src = main_window.Path(__file__).resolve().parents[2] / "patches" / "hello_tone.json"
    assert drop_files(window, [src])
    assert window.doc.path == src
    assert window.doc.graph.same_as(load_patch(src))


def test_dropping_a_file_no_installed_node_takes_says_so_where_it_was_dropped(window, tmp_path):
    from PySide6.QtWidgets import QToolTip

    ts = tmp_path / "model.xyz"
    ts.write_bytes(b"\0")
    drop_files(window, [ts])
    assert window.doc.graph.nodes == {}
    assert "no installed node type takes .xyz" in QToolTip.text()
    assert "no installed node type takes .xyz" in window.statusBar().currentMessage()


def test_torchscript_drop_asks_for_trust_first(window, tmp_path):
    ts = tmp_path / "voice.ts"
    ts.write_bytes(b"PK fake torchscript")
    asked = []
    window.confirm_hook = lambda title, text: asked.append(text) or False
    type_id, reason = window.node_type_for_file(ts)
    window.add_file_node(ts, (0, 0))
    assert window.doc.graph.nodes == {}
    if type_id is None:  # no RAVE node installed: the user is told so, nothing is asked
        assert not asked and "RAVE" in window.errors[0]
    else:
        assert asked and "TorchScript" in asked[0]


def test_dropping_a_bundle_verifies_extracts_and_opens_it(window, tmp_path):
    from neuropatch.engine.bundle import write_bundle

    src = tmp_path / "src"
    src.mkdir()
    sf.write(src / "loop.wav", np.zeros(480, np.float32), 48000)
    patch = src / "p.json"
    window.doc.add_node("io.file_player", (0, 0), resources={"file": {"path": "loop.wav"}})
    window.save_as(patch)
    write_bundle(patch, tmp_path / "shared.npbundle")
    window.new_patch()
    assert drop_files(window, [tmp_path / "shared.npbundle"])
    assert window.doc.path is not None and window.doc.path != patch
    (spec,) = window.doc.graph.nodes.values()
    assert (window.doc.path.parent / spec.resources["file"]["path"]).is_file()
    window.validate()
    assert window.scene.errors == {}


def test_a_corrupt_bundle_is_an_error_message(window, tmp_path):
    bad = tmp_path / "bad.npbundle"
    bad.write_bytes(b"not a zip")
    assert not window.open_path(bad)
    assert "not a readable bundle" in window.errors[0]


def test_command_line_patch_argument_opens_the_editor_with_it(monkeypatch):
    from neuropatch.app import cli, editor_main

    seen = []
    monkeypatch.setattr(editor_main, "main", lambda argv: seen.append(argv) or 0)
    assert cli.main(["patches/hello_tone.json"]) == 0
    assert seen == [["patches/hello_tone.json"]]


def test_editor_main_opens_the_given_patch(monkeypatch, qapp):
    from PySide6.QtWidgets import QApplication

    from neuropatch.app import editor_main
    from neuropatch.app.editor import main_window

    opened = []
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)
    real_open = main_window.MainWindow.open_path
    monkeypatch.setattr(main_window.MainWindow, "open_path",
                        lambda self, p, ask_save=True: opened.append((self, str(p))) or real_open(self, p, ask_save))
    src = main_window.Path(__file__).resolve().parents[2] / "patches" / "hello_tone.json"
    assert editor_main.main([str(src)]) == 0
    (w, path), = opened
    assert path == str(src) and w.doc.path == src
    w.close()


def test_a_bundle_opened_in_the_editor_is_remembered_as_the_bundle_and_saved_elsewhere_whole(
        window, tmp_path, monkeypatch):
    from neuropatch.engine import compile_graph, load_patch
    from neuropatch.engine.bundle import write_bundle
    from neuropatch.engine.bundle_cache import bundle_cache_dir

    src = tmp_path / "src"
    src.mkdir()
    sf.write(src / "loop.wav", np.full(480, 0.25, np.float32), 48000)
    window.doc.add_node("io.file_player", (0, 0), resources={"file": {"path": "loop.wav"}})
    window.save_as(src / "p.json")
    write_bundle(src / "p.json", tmp_path / "shared.npbundle")
    window.new_patch()
    assert window.open_path(tmp_path / "shared.npbundle")
    assert window.recent_files()[0] == str((tmp_path / "shared.npbundle").resolve())
    assert window.doc.path.resolve().is_relative_to(bundle_cache_dir().resolve())

    asked = []
    target = tmp_path / "mine" / "kept.json"
    target.parent.mkdir()
    monkeypatch.setattr("neuropatch.app.editor.main_window.QFileDialog.getSaveFileName",
                        lambda *a, **k: asked.append(a) or (str(target), ""))
    assert window.save()  # never into the cache: asks where
    assert asked and window.doc.path == target
    saved = load_patch(target)
    (spec,) = saved.nodes.values()
    assert (target.parent / spec.resources["file"]["path"]).is_file()
    sched = compile_graph(saved, base_dir=target.parent)
    assert sched.errors == {}


def test_save_as_into_another_folder_keeps_relative_resources_pointing_at_the_same_files(window, tmp_path):
    from neuropatch.engine import load_patch

    (tmp_path / "a" / "media").mkdir(parents=True)
    sf.write(tmp_path / "a" / "media" / "loop.wav", np.zeros(480, np.float32), 48000)
    window.doc.add_node("io.file_player", (0, 0), resources={"file": {"path": "media/loop.wav"}})
    window.save_as(tmp_path / "a" / "p.json")
    (tmp_path / "b" / "deeper").mkdir(parents=True)
    window.save_as(tmp_path / "b" / "deeper" / "p.json")
    (spec,) = load_patch(tmp_path / "b" / "deeper" / "p.json").nodes.values()
    assert spec.resources["file"]["path"] == "../../a/media/loop.wav"
    assert not (tmp_path / "b" / "deeper" / "media").exists()  # rewritten, not copied
