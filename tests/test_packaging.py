"""neuropatch installs as a real package: the wheel carries the shipped models, IRs, demo
audio and example patches, and every example renders from an installed wheel, outside the
source tree, exactly as it renders from the repository."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest

from neuropatch.engine import compile_graph, load_patch, render
from neuropatch.engine.audiofile import read_audio

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("engine", "nodes", "app", "assets", "patches")
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")

# Rendered inside the installed package: each example from its installed file, fed the
# installed demo DI; prints one JSON line per patch (where it was read from, the sha256 of
# the audio, the bypassed nodes).
RENDER_EXAMPLES = """
import hashlib, json, sys
import neuropatch, neuropatch.assets, neuropatch.engine, neuropatch.patches
from neuropatch.engine import compile_graph, load_patch, render
from neuropatch.engine.audiofile import read_audio

print(json.dumps({"namespace": list(neuropatch.__path__), "engine": neuropatch.engine.__file__}))
audio, sr = read_audio(neuropatch.assets.demo_di())
x = audio[:, : sr]
for path in neuropatch.patches.example_paths():
    graph = load_patch(path)
    schedule = compile_graph(graph, in_channels=x.shape[0], base_dir=path.parent)
    y, _ = render(graph, x, schedule=schedule)
    print(json.dumps({"name": path.stem, "path": str(path), "errors": schedule.errors,
                      "sha256": hashlib.sha256(y.tobytes()).hexdigest(), "shape": list(y.shape)}))
"""


def repository_render_digest(patch: Path) -> str:
    audio, sr = read_audio(REPO / "assets" / "guitar_di_demo.flac")
    x = audio[:, :sr]
    graph = load_patch(patch)
    schedule = compile_graph(graph, in_channels=x.shape[0], base_dir=patch.parent)
    assert schedule.errors == {}
    y, _ = render(graph, x, schedule=schedule)
    return hashlib.sha256(y.tobytes()).hexdigest()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel built from a clean copy of the sources (no build output of the checkout)."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    for name in SOURCES:
        shutil.copytree(REPO / name, src / name, ignore=JUNK)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "--no-index", "-q", "-w", str(work / "dist"), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    (path,) = (work / "dist").glob("neuropatch-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh virtual environment outside the repository with only the wheel installed;
    its dependencies come from this interpreter's site-packages through a .pth line (a
    folder added that way has its own .pth files ignored, so an editable install of the
    checkout stays out)."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                        "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "neuropatch_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path_factory.mktemp("numba")), PYTHONPATH="",
               PYTHONNOUSERSITE="1")
    return {"python": python, "bin": python.parent, "site": Path(site), "env": env}


def test_the_wheel_carries_the_shipped_assets_and_every_example_patch(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"neuropatch/assets/{p.relative_to(REPO / 'assets').as_posix()}"
               for p in (REPO / "assets").rglob("*") if p.is_file() and p.suffix != ".py"}
    examples = {f"neuropatch/patches/{p.name}" for p in (REPO / "patches").glob("*.json")}
    assert len(examples) >= 6
    assert shipped | examples <= names, sorted((shipped | examples) - names)
    assert not any(n.startswith(("tests/", "neuropatch/tests/")) for n in names)


def test_no_code_in_the_package_names_a_file_under_tests():
    offenders = [f"{p.relative_to(REPO)}:{i}"
                 for top in ("engine", "nodes", "app")
                 for p in (REPO / top).rglob("*.py")
                 for i, line in enumerate(p.read_text("utf-8").splitlines(), 1)
                 if '"tests"' in line or "'tests'" in line or '"tests/' in line]
    assert offenders == []


@pytest.mark.slow
def test_every_example_renders_from_the_installed_wheel_exactly_as_from_the_repository(installed, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    r = subprocess.run([str(installed["python"]), "-c", RENDER_EXAMPLES], cwd=outside, env=installed["env"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    head, *rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    site = str(installed["site"])
    assert head["namespace"] == [str(installed["site"] / "neuropatch")]
    assert head["engine"].startswith(site)
    assert sorted(row["name"] for row in rows) == sorted(p.stem for p in (REPO / "patches").glob("*.json"))
    for row in rows:
        assert row["path"].startswith(site), row
        assert row["errors"] == {}, row
        assert row["sha256"] == repository_render_digest(REPO / "patches" / f"{row['name']}.json"), row["name"]


@pytest.mark.slow
def test_the_installed_command_lists_finds_and_renders_an_example_from_any_folder(installed, tmp_path):
    exe = installed["bin"] / ("neuropatch.exe" if os.name == "nt" else "neuropatch")

    def neuropatch(*args):
        return subprocess.run([str(exe), *map(str, args)], cwd=tmp_path, env=installed["env"],
                              capture_output=True, text=True, timeout=300)

    listing = neuropatch("examples")
    assert listing.returncode == 0, listing.stderr
    assert "amp_sim" in listing.stdout and "Amp sim" in listing.stdout
    patch = neuropatch("examples", "amp_sim", "--print-path").stdout.strip()
    demo = neuropatch("examples", "--demo-input").stdout.strip()
    assert patch.startswith(str(installed["site"])) and demo.startswith(str(installed["site"]))
    r = neuropatch("render", patch, "--in", demo, "--out", tmp_path / "amp_sim.wav", "--seconds", 1, "-q")
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr
    y, sr = read_audio(tmp_path / "amp_sim.wav")
    assert sr == 48000 and y.shape == (1, 48000)
    assert 1e-3 < float(np.sqrt(np.mean(y.astype(np.float64) ** 2))) < 1.0
