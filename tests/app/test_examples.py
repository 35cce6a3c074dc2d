"""Every example patch opens in the editor without warnings; each gets a screenshot."""
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PATCHES = sorted((REPO / "patches").glob("*.json"))
SHOTS = REPO / "docs" / "screenshots"


@pytest.mark.parametrize("patch", PATCHES, ids=[p.stem for p in PATCHES])
def test_example_patch_opens_without_warnings_and_renders_a_screenshot(window, qtbot, patch):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert window.open_path(patch), window.errors
        window.validate()
    assert window.errors == []
    assert window.problems == []
    assert window.scene.errors == {}, window.scene.errors
    assert window.scene.mismatches() == []
    assert len(window.scene.node_items) == len(window.doc.graph.nodes) > 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    window.statusBar().clearMessage()   # the load time varies; keep the images stable
    image = window.grab()
    out = SHOTS / f"{patch.stem}.png"
    assert image.save(str(out))
    assert out.stat().st_size > 5000


def test_readme_screenshot_shows_a_patch_with_the_inspector(window, qtbot):
    assert window.open_path(REPO / "patches" / "hello_mixer.json")
    window.scene.select_nodes(["mix"])
    assert window.inspector.node_id == "mix"
    window.view.frame_all()
    qtbot.wait(50)
    window.statusBar().clearMessage()
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert window.grab().save(str(SHOTS / "editor.png"))
