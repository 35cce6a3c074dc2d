"""The model library: lists shipped and model-folder files, searches, shows metadata,
auditions A/B on the riff without touching the patch, swaps a node's model by a drop."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from neuropatch.engine.resources import sha256_file

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "assets" / "amp" / "fluid_crunch.nam"


@pytest.fixture
def library(window, tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    darker = json.loads(MODEL.read_text())
    darker["weights"] = [w * 0.8 for w in darker["weights"]]
    (folder / "darker_crunch.nam").write_text(json.dumps(darker))
    (folder / "notes.json").write_text('{"not": "a model"}')
    monkeypatch.setenv("NEUROPATCH_MODEL_PATH", str(folder))
    window.library.player = lambda audio, sr: None   # no sound card in tests
    window.library.refresh()
    return window.library, folder


def test_the_library_lists_shipped_files_and_the_model_folders_and_searches(library):
    lib, folder = library
    names = {e.path.name: e.type_id for e in lib.entries}
    assert names["fluid_crunch.nam"] == "amp.nam" and names["darker_crunch.nam"] == "amp.nam"
    assert names["tiny_rave.safetensors"] == "vae.rave"
    assert names["guitar_di_demo.flac"] == "io.file_player"
    assert "notes.json" not in names and not any(n.endswith(".json") and "patch" in n for n in names)
    lib.search.setText("darker")
    assert [e.path.name for e in lib.visible_entries()] == ["darker_crunch.nam"]
    assert "darker_crunch.nam" in lib.info.text() and "amp.nam" in lib.info.text()


def test_audition_renders_a_and_b_without_touching_the_patch(library, window):
    lib, folder = library
    node = window.doc.add_node("amp.nam", (0, 0), resources={"model": {"path": str(MODEL)}})
    window.scene.select_nodes([node])
    before = window.doc.graph.nodes[node].copy()
    undo_depth = window.doc.undo_stack.count()
    lib.search.setText("darker")
    a = lib.audition("A")
    b = lib.audition("B")
    assert a.shape == b.shape and np.abs(a).max() > 0.05
    assert not np.allclose(a, b)          # another model: another sound
    assert window.doc.graph.nodes[node] == before and window.doc.undo_stack.count() == undo_depth


def test_dropping_a_model_onto_a_node_swaps_its_file_in_one_undo_step(library, window, qtbot):
    lib, folder = library
    node = window.doc.add_node("amp.nam", (0, 0), resources={"model": {"path": str(MODEL)}})
    item = window.scene.node_items[node]
    centre = item.sceneBoundingRect().center()
    assert window.drop_files([folder / "darker_crunch.nam"], centre) == []
    res = window.doc.graph.nodes[node].resources["model"]
    assert res["sha256"] == sha256_file(folder / "darker_crunch.nam") and len(window.doc.graph.nodes) == 1
    window.doc.undo_stack.undo()
    assert window.doc.graph.nodes[node].resources["model"]["path"] == str(MODEL)


def test_dropping_a_model_on_empty_canvas_adds_a_node(library, window):
    lib, folder = library
    from PySide6.QtCore import QPointF

    added = window.drop_files([folder / "darker_crunch.nam"], QPointF(5000, 5000))
    assert len(added) == 1 and window.doc.graph.nodes[added[0]].type == "amp.nam"
