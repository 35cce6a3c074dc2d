"""A resource that moved is found again (model folders, then its recorded sha256); a missing
one leaves its node bypassed with a 'missing:' marker and the patch saves back unchanged."""
import atexit
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from neuropatch.app import cli as cli_module
from neuropatch.engine import compile_graph, load_patch, render
from neuropatch.engine.patch import dumps_patch, save_patch
from neuropatch.engine.resources import sha256_file

from tests.conftest import unshipped_copy

REPO = Path(__file__).resolve().parents[2]
MODELS = Path(tempfile.mkdtemp(prefix="np_unshipped_"))
atexit.register(shutil.rmtree, MODELS, True)
MODEL = unshipped_copy(REPO / "assets" / "amp" / "fluid_crunch.nam", MODELS)


@pytest.fixture
def amp_patch(tmp_path, monkeypatch):
    """A patch beside its model (saved as the editor saves), and an empty model folder."""
    monkeypatch.setenv("NEUROPATCH_MODEL_PATH", "")
    (tmp_path / "song").mkdir()
    shutil.copy(MODEL, tmp_path / "song" / "crunch.nam")
    doc = {"format": "neuropatch", "version": 1, "settings": {"sample_rate": 48000, "block_size": 256},
           "nodes": [{"id": "in", "type": "io.audio_in"},
                     {"id": "amp", "type": "amp.nam", "params": {"output_gain_db": -3.0},
                      "resources": {"model": {"path": "crunch.nam", "sha256": sha256_file(MODEL)}}},
                     {"id": "out", "type": "io.audio_out"}],
           "edges": [{"from": ["in", "out"], "to": ["amp", "in"]}, {"from": ["amp", "out"], "to": ["out", "in"]}]}
    patch = tmp_path / "song" / "amp.json"
    save_patch(load_patch_from(doc, tmp_path), patch)
    return patch


def load_patch_from(doc, folder):
    p = folder / "draft.json"
    p.write_text(json.dumps(doc))
    return load_patch(p)


def riff():
    t = np.arange(24000) / 48000
    return (0.4 * np.sin(2 * np.pi * 110 * t) * np.exp(-3 * t)).astype(np.float32)[None]


def render_patch(patch):
    out, sched = render(load_patch(patch), riff(), base_dir=patch.parent)
    return out, sched


def test_a_model_moved_into_a_model_folder_is_found_by_its_hash(amp_patch, tmp_path, monkeypatch):
    expected, _ = render_patch(amp_patch)
    library = tmp_path / "library" / "amps" / "2024"
    library.mkdir(parents=True)
    (amp_patch.parent / "crunch.nam").rename(library / "renamed_by_the_user.nam")
    monkeypatch.setenv("NEUROPATCH_MODEL_PATH", str(tmp_path / "library"))
    got, sched = render_patch(amp_patch)
    assert sched.errors == {}
    assert any("found by its sha256" in n and "renamed_by_the_user.nam" in n for n in sched.notes)
    assert np.abs(expected).max() > 0.05 and np.array_equal(got, expected)


def test_a_file_of_the_same_name_but_another_hash_is_not_taken_for_the_model(amp_patch, tmp_path, monkeypatch):
    other = json.loads(MODEL.read_text())
    other["weights"] = [w * 0.5 for w in other["weights"]]
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "crunch.nam").write_text(json.dumps(other))
    (amp_patch.parent / "crunch.nam").unlink()
    monkeypatch.setenv("NEUROPATCH_MODEL_PATH", str(tmp_path / "lib"))
    _, sched = render_patch(amp_patch)
    assert sched.errors["amp"].startswith("node 'amp': missing: crunch.nam (sha256 ")


def test_a_deleted_model_bypasses_its_node_and_the_patch_saves_back_byte_identical(amp_patch, tmp_path):
    before = amp_patch.read_bytes()
    (amp_patch.parent / "crunch.nam").unlink()
    graph = load_patch(amp_patch)
    sched = compile_graph(graph, base_dir=amp_patch.parent)
    assert "missing: crunch.nam (sha256 " + sha256_file(MODEL)[:12] in sched.errors["amp"]
    out, _ = render(graph, riff(), schedule=sched)
    np.testing.assert_array_equal(out, riff())  # bypassed: the input passes through
    assert graph.nodes["amp"].params["output_gain_db"] == -3.0
    save_patch(graph, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == before == dumps_patch(graph).encode()


def test_render_says_where_a_moved_model_was_found(amp_patch, tmp_path, monkeypatch, capsys):
    (tmp_path / "lib").mkdir()
    (amp_patch.parent / "crunch.nam").rename(tmp_path / "lib" / "crunch.nam")
    monkeypatch.setenv("NEUROPATCH_MODEL_PATH", str(tmp_path / "lib"))
    sf.write(tmp_path / "riff.wav", riff()[0], 48000, subtype="FLOAT")
    assert cli_module.main(["render", str(amp_patch), "--in", str(tmp_path / "riff.wav"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "note: node 'amp': resource 'model': 'crunch.nam' not found next to the patch; using" in err


def test_a_moved_file_without_a_recorded_hash_is_found_by_name_anywhere_in_the_model_folders(tmp_path, monkeypatch):
    from neuropatch.engine.resources import resolve_resource

    (tmp_path / "lib" / "amps" / "old").mkdir(parents=True)
    shutil.copy(MODEL, tmp_path / "lib" / "amps" / "old" / "crunch.nam")
    (tmp_path / "outside.nam").write_text("{}")
    monkeypatch.setenv("NEUROPATCH_MODEL_PATH", str(tmp_path / "lib"))
    path, note = resolve_resource({"path": "../models/crunch.nam"}, tmp_path / "song")
    assert path == tmp_path / "lib" / "amps" / "old" / "crunch.nam" and "same name" in note
    # a path climbing out of the patch folder is never followed out of a model folder
    path, note = resolve_resource({"path": "../outside.nam"}, tmp_path / "lib" / "song")
    assert note is None and path == tmp_path / "lib" / "song" / ".." / "outside.nam"
