"""The example node pack (examples/node_pack) installs with pip, registers through the
`neuropatch.nodes` entry point group and renders in a patch like a built-in node."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neuropatch.engine.audiofile import read_audio

REPO = Path(__file__).resolve().parents[1]
PACK = REPO / "examples" / "node_pack"

PATCH = {
    "format": "neuropatch", "version": 1,
    "meta": {"title": "Tremolo on a sine"},
    "settings": {"sample_rate": 48000, "block_size": 256},
    "nodes": [
        {"id": "osc", "type": "gen.oscillator", "version": 1,
         "params": {"waveform": "sine", "freq_hz": 1000.0, "level_db": -6.0}},
        {"id": "trem", "type": "example.tremolo", "version": 1, "params": {"rate_hz": 4.0, "depth": 1.0}},
        {"id": "out", "type": "io.audio_out", "version": 1},
    ],
    "edges": [{"from": ["osc", "out"], "to": ["trem", "in"]}, {"from": ["trem", "out"], "to": ["out", "in"]}],
}

# Run with the installed pack on sys.path: where the node came from, and its contract.
CHECK = """
import json, sys
import numpy as np
from neuropatch.engine import default_registry
from neuropatch.engine.testing import run_node

cls = default_registry().resolve("example.tremolo")
x = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 5000)).astype(np.float32)
whole = run_node(cls(), {"in": x}, block_size=1024)["out"]
pieces = run_node(cls(), {"in": x}, block_size=17)["out"]
node = cls()
node.set_state(json.loads(json.dumps({"params": {"rate_hz": 7.5, "depth": 0.25}})), 1)
print(json.dumps({"module": sys.modules[cls.__module__].__file__, "title": cls.title,
                  "block_size_invariant": bool(np.max(np.abs(whole - pieces)) <= 1e-6),
                  "finite": bool(np.all(np.isfinite(whole))), "state": node.get_state()["params"]}))
"""


@pytest.fixture(scope="module")
def pack_dir(tmp_path_factory):
    source = tmp_path_factory.mktemp("pack-src") / "node_pack"   # the build writes beside its sources
    shutil.copytree(PACK, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    target = tmp_path_factory.mktemp("pack")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                        "-q", "--target", str(target), str(source)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return target


def run_with_pack(pack_dir, args, cwd):
    env = {**__import__("os").environ, "PYTHONPATH": str(pack_dir)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


def test_the_installed_pack_registers_its_node_through_the_entry_point(pack_dir, tmp_path):
    r = run_with_pack(pack_dir, ["-c", CHECK], tmp_path)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout.splitlines()[-1])
    assert info["module"].startswith(str(pack_dir))
    assert info["title"] == "Tremolo"
    assert info["block_size_invariant"] and info["finite"]
    assert info["state"] == {"rate_hz": 7.5, "depth": 0.25}


def test_a_patch_with_the_pack_node_renders_a_tremolo_from_the_command_line(pack_dir, tmp_path):
    patch = tmp_path / "tremolo.json"
    patch.write_text(json.dumps(PATCH))
    r = run_with_pack(pack_dir, ["-m", "neuropatch.app.cli", "render", str(patch), "--seconds", "1",
                                 "--out", str(tmp_path / "out.wav"), "-q"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr
    y, sr = read_audio(tmp_path / "out.wav")
    env = np.abs(y[0]).reshape(-1, 480).max(axis=1)   # 10 ms peaks; LFO at 4 Hz, full depth
    assert env.max() == pytest.approx(10 ** (-6 / 20), abs=0.02)
    assert env.min() < 0.02                            # dips to silence four times a second
    quiet = np.flatnonzero(env < 0.05)
    dips = np.count_nonzero(np.diff(quiet) > 5) + 1
    assert dips == 4


def test_without_the_pack_the_patch_still_loads_and_names_the_missing_node_type(tmp_path):
    patch = tmp_path / "tremolo.json"
    patch.write_text(json.dumps(PATCH))
    r = subprocess.run([sys.executable, "-m", "neuropatch.app.cli", "validate", str(patch)],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "node 'trem': unknown node type 'example.tremolo'" in r.stderr


def test_the_node_pack_guide_shows_the_example_packs_entry_point():
    guide = (REPO / "docs" / "node-packs.md").read_text("utf-8")
    assert '[project.entry-points."neuropatch.nodes"]' in guide
    assert 'tremolo = "neuropatch_tremolo:node_classes"' in (PACK / "pyproject.toml").read_text()
    assert "examples/node_pack" in guide
