"""Every example patch renders headless from the shipped demo DI: no bypassed node, finite,
audible output."""
from pathlib import Path

import numpy as np
import pytest

from neuropatch.engine import compile_graph, load_patch, render
from neuropatch.engine.audiofile import read_audio

REPO = Path(__file__).resolve().parents[2]
PATCHES = sorted((REPO / "patches").glob("*.json"))


@pytest.mark.parametrize("patch", PATCHES, ids=[p.stem for p in PATCHES])
def test_example_patch_renders_the_demo_di_without_bypassed_nodes(patch):
    graph = load_patch(patch)
    audio, sr = read_audio(REPO / "assets" / "guitar_di_demo.flac")
    assert sr == graph.settings["sample_rate"]
    x = audio[:, : 2 * sr]
    sched = compile_graph(graph, in_channels=x.shape[0], base_dir=patch.parent)
    assert sched.errors == {}, sched.errors
    y, _ = render(graph, x, schedule=sched)
    assert y.shape[1] == x.shape[1]
    assert np.all(np.isfinite(y))
    rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
    assert 1e-4 < rms < 1.0, f"{patch.name}: output RMS {rms}"


def test_readme_main_job_renders_the_amp_sim(cli, tmp_path):
    r = cli("render", REPO / "patches" / "amp_sim.json", "--in", REPO / "assets" / "guitar_di_demo.flac",
            "--out", tmp_path / "amp_sim.wav")
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr
    y, sr = read_audio(tmp_path / "amp_sim.wav")
    assert sr == 48000 and y.shape[1] == 6 * 48000 and np.max(np.abs(y)) < 1.0
