"""A bundle is accepted wherever a patch is: unpacked once into the bundle cache, verified on
every use, and refused (without a traceback or a file outside the cache) when hostile."""
import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from neuropatch.app import cli as cli_module
from neuropatch.engine.bundle import BundleError, write_bundle
from neuropatch.engine.bundle_cache import bundle_cache_dir, unpack_cached

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("NEUROPATCH_BUNDLE_CACHE", str(folder))
    return folder


@pytest.fixture
def player_bundle(tmp_path):
    src = tmp_path / "src"
    (src / "media").mkdir(parents=True)
    x = np.random.default_rng(7).uniform(-0.5, 0.5, (4800, 1)).astype(np.float32)
    sf.write(src / "media" / "loop.wav", x, 48000, subtype="FLOAT")
    patch = src / "player.json"
    patch.write_text(json.dumps({
        "format": "neuropatch", "version": 1,
        "nodes": [{"id": "p", "type": "io.file_player", "resources": {"file": {"path": "media/loop.wav"}}},
                  {"id": "out", "type": "io.audio_out"}],
        "edges": [{"from": ["p", "out"], "to": ["out", "in"]}]}))
    write_bundle(patch, tmp_path / "player.npbundle")
    return tmp_path / "player.npbundle", patch


def run_cli(capsys, *args):
    """The CLI in-process: (exit code, stderr). An exception escaping it fails the test."""
    code = cli_module.main([str(a) for a in args])
    return code, capsys.readouterr().err


def test_render_of_a_bundle_is_identical_to_render_of_its_patch(tmp_path, cache, player_bundle, capsys):
    bundle, patch = player_bundle
    assert run_cli(capsys, "render", bundle, "--seconds", "0.1", "--out", tmp_path / "b.wav", "-q")[0] == 0
    assert run_cli(capsys, "render", patch, "--seconds", "0.1", "--out", tmp_path / "p.wav", "-q")[0] == 0
    b, _ = sf.read(tmp_path / "b.wav", dtype="float32")
    p, _ = sf.read(tmp_path / "p.wav", dtype="float32")
    assert np.abs(p).max() > 0.1 and np.array_equal(b, p)


def test_validate_accepts_a_bundle_whatever_its_file_name(tmp_path, cache, player_bundle, capsys):
    bundle, _ = player_bundle
    renamed = tmp_path / "shared_patch.zip"
    renamed.write_bytes(bundle.read_bytes())
    code, err = run_cli(capsys, "validate", renamed)
    assert code == 0, err


def test_a_bundle_unpacks_once_into_a_folder_named_by_its_hash(cache, player_bundle):
    bundle, _ = player_bundle
    first = unpack_cached(bundle)
    stamp = first.stat().st_mtime_ns
    second = unpack_cached(bundle)
    assert first == second and second.stat().st_mtime_ns == stamp
    assert first.parent.name == hashlib.sha256(bundle.read_bytes()).hexdigest()[:32]
    assert first.parent.parent == cache


def test_a_file_changed_in_the_cache_is_unpacked_again_before_use(cache, player_bundle):
    bundle, patch = player_bundle
    opened = unpack_cached(bundle)
    wav = opened.parent / "resources" / "loop.wav"
    original = wav.read_bytes()
    wav.write_bytes(original[:-8] + b"\0" * 8)  # tampered after unpacking
    again = unpack_cached(bundle)
    assert (again.parent / "resources" / "loop.wav").read_bytes() == original


def test_the_bundle_cache_is_per_user_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv("NEUROPATCH_BUNDLE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert bundle_cache_dir() == tmp_path / "xdg" / "neuropatch" / "bundles"


# ---- hostile bundles, through every entry point -------------------------------------------

def _zip(path, members, manifest=None, patch_doc=None, link=None):
    members = dict(members)
    files = manifest if manifest is not None else {
        n: hashlib.sha256(d).hexdigest() for n, d in members.items()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", json.dumps({"format": "neuropatch-bundle", "version": 1,
                                                "patch": "patch.json", "files": files}))
        z.writestr("patch.json", json.dumps(patch_doc or {"format": "neuropatch", "version": 1}))
        for name, data in members.items():
            z.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = 0o120777 << 16
            z.writestr(info, "/etc/passwd")
    return path


def _zip_slip(p):
    return _zip(p, {"../evil.txt": b"x"})


def _absolute(p):
    return _zip(p, {"/tmp/evil_abs.txt": b"x"})


def _symlink(p):
    return _zip(p, {}, manifest={"resources/link": "0" * 64}, link="resources/link")


def _bomb_by_ratio(p):
    return _zip(p, {"resources/bomb.bin": b"\0" * (50 << 20)})


def _bomb_by_count(p):
    return _zip(p, {f"resources/{k}.bin": b"" for k in range(10_001)})


def _bad_hash(p):
    return _zip(p, {"resources/a.wav": b"RIFF...."}, manifest={"resources/a.wav": "0" * 64})


def _truncated(p):
    _zip(p, {"resources/a.wav": os.urandom(4096)})
    p.write_bytes(p.read_bytes()[:-300])
    return p


def _points_outside(p):
    doc = {"format": "neuropatch", "version": 1,
           "nodes": [{"id": "p", "type": "io.file_player",
                      "resources": {"file": {"path": "../../../etc/passwd"}}}]}
    return _zip(p, {}, patch_doc=doc)


def _oversized_manifest(p):
    with zipfile.ZipFile(p, "w", zipfile.ZIP_STORED) as z:
        z.writestr("manifest.json", json.dumps({"format": "neuropatch-bundle", "version": 1,
                                                "files": {}, "pad": os.urandom(9 << 20).hex()}))
        z.writestr("patch.json", "{}")
    return p


HOSTILE = {"zip-slip": (_zip_slip, "'..'"), "absolute path": (_absolute, "absolute"),
           "symlink": (_symlink, "links are not allowed"), "bomb by ratio": (_bomb_by_ratio, "zip bomb"),
           "bomb by count": (_bomb_by_count, "members"), "bad hash": (_bad_hash, "sha256 does not match"),
           "truncated": (_truncated, "not a readable bundle"), "points outside": (_points_outside, "outside the bundle"),
           "oversized manifest": (_oversized_manifest, "manifest.json is larger")}


@pytest.fixture(scope="module")
def hostile_bundles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    return {name: (make(folder / f"{name.replace(' ', '_')}.npbundle"), words)
            for name, (make, words) in HOSTILE.items()}


def _tree(folder: Path) -> set:
    return {p.relative_to(folder) for p in folder.rglob("*")}


@pytest.mark.parametrize("command", ["render", "validate", "run", "batch"])
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_bundles_are_refused_by_every_entry_point(kind, command, hostile_bundles, tmp_path,
                                                          cache, capsys, monkeypatch):
    bundle, words = hostile_bundles[kind]
    monkeypatch.chdir(tmp_path)
    before = _tree(bundle.parent)
    extra = {"render": ["--seconds", "0.1", "--out", tmp_path / "o.wav"],
             "batch": ["--inputs", tmp_path / "in", "--out", tmp_path / "batch_out"]}.get(command, [])
    args = [command, bundle, *extra]
    code, err = run_cli(capsys, *args)
    assert code == 2 and err.startswith("error: ") and words in err, err
    assert _tree(bundle.parent) == before and _tree(tmp_path) <= {Path("cache")}
    assert not Path("/tmp/evil_abs.txt").exists()
    assert [p.name for p in cache.glob("*")] == []  # nothing half-unpacked left in the cache


def test_hostile_bundles_are_refused_by_the_cache_with_bundle_errors(hostile_bundles, cache):
    for kind, (bundle, words) in hostile_bundles.items():
        with pytest.raises(BundleError, match=words.replace("(", r"\(")):
            unpack_cached(bundle)


# ---- every example patch travels whole ------------------------------------------------------

EXAMPLES = sorted((REPO / "patches").glob("*.json"))


@pytest.mark.parametrize("patch", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_bundled_and_opened_on_a_clean_cache_renders_identically(patch, tmp_path, cache, capsys):
    from neuropatch.engine import load_patch, render
    from neuropatch.engine.audiofile import read_audio

    x, _ = read_audio(REPO / "assets" / "guitar_di_demo.flac")
    x = x[:, :48000]
    write_bundle(patch, tmp_path / "shared.npbundle")
    assert not cache.exists()  # a clean cache
    opened = unpack_cached(tmp_path / "shared.npbundle")
    expected, sched = render(load_patch(patch), x, base_dir=patch.parent)
    got, bsched = render(load_patch(opened), x, base_dir=opened.parent)
    assert sched.errors == {} and bsched.errors == {}
    assert np.abs(expected).max() > 1e-3 and np.array_equal(got, expected)
    assert run_cli(capsys, "validate", tmp_path / "shared.npbundle")[0] == 0
    sf.write(tmp_path / "in.wav", x[0], 48000, subtype="FLOAT")
    code, err = run_cli(capsys, "render", tmp_path / "shared.npbundle", "--in", tmp_path / "in.wav",
                        "--out", tmp_path / "out.wav", "-q")
    assert code == 0, err
    assert np.array_equal(sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)[0].T, expected)
