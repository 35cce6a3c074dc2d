"""In the editor, a missing model shows 'missing: NAME (sha256 …)' with Locate…; locating one
file rewires the patch's other missing files found beside it by hash, in one undo step."""
import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from neuropatch.engine.patch import load_patch, save_patch
from neuropatch.engine.resources import sha256_file

from tests.conftest import unshipped_copy

REPO = Path(__file__).resolve().parents[2]
MODELS = Path(tempfile.mkdtemp(prefix="np_unshipped_"))
atexit.register(shutil.rmtree, MODELS, True)
MODEL = unshipped_copy(REPO / "assets" / "amp" / "fluid_crunch.nam", MODELS)
IR = unshipped_copy(REPO / "assets" / "ir" / "synthetic_4x12.wav", MODELS)


@pytest.fixture
def moved_patch(tmp_path, monkeypatch):
    """A saved amp + cabinet patch whose two files were then moved into `elsewhere/`."""
    monkeypatch.setenv("NEUROPATCH_MODEL_PATH", "")
    song = tmp_path / "song"
    song.mkdir()
    shutil.copy(MODEL, song / "crunch.nam")
    shutil.copy(IR, song / "cab.wav")
    doc = {"format": "neuropatch", "version": 1,
           "nodes": [{"id": "in", "type": "io.audio_in"},
                     {"id": "amp", "type": "amp.nam",
                      "resources": {"model": {"path": "crunch.nam", "sha256": sha256_file(MODEL)}}},
                     {"id": "cab", "type": "fx.ir", "resources": {"ir": {"path": "cab.wav", "sha256": sha256_file(IR)}}},
                     {"id": "out", "type": "io.audio_out"}],
           "edges": [{"from": ["in", "out"], "to": ["amp", "in"]}, {"from": ["amp", "out"], "to": ["cab", "in"]},
                     {"from": ["cab", "out"], "to": ["out", "in"]}]}
    (song / "draft.json").write_text(json.dumps(doc))
    save_patch(load_patch(song / "draft.json"), song / "rig.json")
    (tmp_path / "elsewhere").mkdir()
    (song / "crunch.nam").rename(tmp_path / "elsewhere" / "my amp.nam")
    (song / "cab.wav").rename(tmp_path / "elsewhere" / "my cab.wav")
    return song / "rig.json"


def test_a_missing_model_is_marked_on_the_node_and_in_the_inspector(window, moved_patch):
    assert window.open_path(moved_patch)
    window.validate()
    assert "missing: crunch.nam (sha256 " in window.scene.errors["amp"]
    window.inspector.show_node("amp")
    assert "missing: crunch.nam (sha256 " in window.inspector.resource_infos["model"].text()
    assert window.inspector.resource_picks["model"].text() == "Locate…"


def test_locating_one_file_rewires_the_others_by_hash_in_one_undo_step(window, moved_patch, tmp_path):
    assert window.open_path(moved_patch)
    window.inspector.show_node("amp")
    assert window.inspector.set_resource_file("model", tmp_path / "elsewhere" / "my amp.nam")
    nodes = window.doc.graph.nodes
    assert nodes["amp"].resources["model"]["sha256"] == sha256_file(MODEL)
    assert Path(nodes["cab"].resources["ir"]["path"]).name == "my cab.wav"
    window.validate()
    assert window.scene.errors == {}
    window.doc.undo_stack.undo()
    assert nodes["amp"].resources["model"]["path"] == "crunch.nam"
    assert nodes["cab"].resources["ir"]["path"] == "cab.wav"


def test_a_configured_model_folder_finds_moved_files_by_hash(window, moved_patch, tmp_path):
    assert window.open_path(moved_patch)
    window.validate()
    assert set(window.scene.errors) == {"amp", "cab"}

    def add_and_accept(dialog):
        dialog.add_folder(str(tmp_path / "elsewhere"))
        return True

    window.edit_model_folders(dialog_hook=add_and_accept)
    try:
        assert str(tmp_path / "elsewhere") in os.environ["NEUROPATCH_MODEL_PATH"]
        assert window.scene.errors == {}
        window.inspector.show_node("amp")
        assert "found by its sha256" in window.inspector.resource_infos["model"].text()
    finally:
        window.edit_model_folders(dialog_hook=lambda dialog: dialog.list.clear() or True)
    assert str(tmp_path / "elsewhere") not in os.environ["NEUROPATCH_MODEL_PATH"]


def test_a_patch_with_missing_files_saves_back_byte_identical(window, moved_patch, tmp_path):
    before = moved_patch.read_bytes()
    assert window.open_path(moved_patch)
    window.validate()
    assert window.save_as(tmp_path / "song" / "copy.json")
    assert (tmp_path / "song" / "copy.json").read_bytes() == before
