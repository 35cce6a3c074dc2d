"""The editor refuses TorchScript it has not been told to trust, on open and on bundle open,
and records a yes in the same per-user store the CLI's --trust writes."""
from pathlib import Path

import pytest

from neuropatch.engine import AddNode, Connect, Edge, Graph, new_node_spec
from neuropatch.engine.patch import save_patch
from neuropatch.engine.trust import is_trusted

MARKER = Path(__file__).resolve().parents[1] / "data" / "nn_tilde" / "marker_on_load.ts"


@pytest.fixture(autouse=True)
def own_trust_store(tmp_path, monkeypatch):
    """Each test starts with nothing trusted (the fixture file has one hash)."""
    monkeypatch.setenv("NEUROPATCH_TRUST_FILE", str(tmp_path / "trust.json"))


def marker_patch(folder: Path) -> Path:
    model = folder / "m.ts"
    model.write_bytes(MARKER.read_bytes())
    g = Graph(settings={"sample_rate": 48000, "block_size": 256})
    g.apply(AddNode(new_node_spec("io.audio_in", "in")))
    spec = new_node_spec("vae.rave", "r")
    spec.resources = {"model": {"path": "m.ts"}}
    g.apply(AddNode(spec))
    g.apply(Connect(Edge("in", "out", "r", "in")))
    save_patch(g, folder / "p.json")
    return folder / "p.json"


def test_opening_a_patch_with_untrusted_torchscript_asks_and_loads_nothing_when_declined(window, tmp_path):
    patch = marker_patch(tmp_path)
    asked = []
    window.confirm_hook = lambda title, text: asked.append(text) or False
    assert window.open_path(patch)
    window.validate()
    window.validate()                      # declined once: not asked again this session
    assert len(asked) == 1 and "TorchScript" in asked[0]
    assert not (tmp_path / "np_marker_loaded").exists() and not Path("np_marker_loaded").exists()
    assert not is_trusted(tmp_path / "m.ts")


def test_trusting_in_the_editor_records_the_file_for_every_entry_point(window, tmp_path):
    patch = marker_patch(tmp_path)
    window.confirm_hook = lambda title, text: True
    assert window.open_path(patch)
    window.validate()
    assert is_trusted(tmp_path / "m.ts")
    assert window.scene.errors == {}
    # the editor's check compiles without loading: even a trusted model is not run by it
    assert not Path("np_marker_loaded").exists()


def test_a_bundle_with_torchscript_still_needs_trust(window, tmp_path):
    from neuropatch.engine.bundle import write_bundle

    src = tmp_path / "src"
    src.mkdir()
    patch = marker_patch(src)
    write_bundle(patch, tmp_path / "shared.npbundle")
    asked = []
    window.confirm_hook = lambda title, text: asked.append(text) or False
    assert window.open_path(tmp_path / "shared.npbundle")
    window.validate()
    assert asked and not Path("np_marker_loaded").exists()
