"""Bundles carry a patch and its resources; opening refuses anything unsafe."""
import json
import zipfile

import numpy as np
import pytest
import soundfile as sf

from neuropatch.engine import compile_graph, load_patch, render
from neuropatch.engine.bundle import BundleError, open_bundle, write_bundle


@pytest.fixture
def player_patch(tmp_path):
    (tmp_path / "media").mkdir()
    x = np.random.default_rng(5).uniform(-0.5, 0.5, (4800, 1)).astype(np.float32)
    sf.write(tmp_path / "media" / "loop.wav", x, 48000, subtype="FLOAT")
    patch = tmp_path / "player.json"
    patch.write_text(json.dumps({
        "format": "neuropatch", "version": 1,
        "nodes": [{"id": "p", "type": "io.file_player", "resources": {"file": {"path": "media/loop.wav"}}},
                  {"id": "out", "type": "io.audio_out"}],
        "edges": [{"from": ["p", "out"], "to": ["out", "in"]}]}))
    return patch, x


def test_bundle_round_trip_renders_the_same(tmp_path, player_patch):
    patch, x = player_patch
    manifest = write_bundle(patch, tmp_path / "share.npbundle")
    assert list(manifest["files"]) == ["resources/loop.wav"]
    opened = open_bundle(tmp_path / "share.npbundle", tmp_path / "elsewhere")
    g = load_patch(opened)
    assert g.nodes["p"].resources["file"]["path"] == "resources/loop.wav"
    y, sched = render(g, None, 48000, 256, seconds=0.1, base_dir=opened.parent)
    assert not sched.errors
    np.testing.assert_allclose(y[0], x[:, 0], atol=1e-7)


def test_bundle_of_missing_resource_names_the_node(tmp_path, player_patch):
    patch, _ = player_patch
    (tmp_path / "media" / "loop.wav").unlink()
    with pytest.raises(BundleError, match="node 'p' resource 'file': file not found"):
        write_bundle(patch, tmp_path / "x.npbundle")


def make_zip(path, members, manifest_files=None, link=None):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        files = manifest_files if manifest_files is not None else {}
        z.writestr("manifest.json", json.dumps({"format": "neuropatch-bundle", "version": 1,
                                                "patch": "patch.json", "files": files}))
        z.writestr("patch.json", json.dumps({"format": "neuropatch", "version": 1}))
        for name, data in members.items():
            z.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (0o120777 << 16)
            z.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize("members, words", [
    ({"../evil.txt": b"x"}, "'..'"),
    ({"/abs.txt": b"x"}, "absolute"),
    ({"resources/extra.bin": b"x"}, "not listed in the manifest"),
    ({"resources/bomb.bin": b"\0" * (50 << 20)}, "zip bomb"),
])
def test_unsafe_bundles_are_refused(tmp_path, members, words):
    files = {k: "0" * 64 for k in members if "extra" not in k}
    bundle = make_zip(tmp_path / "bad.npbundle", members, files)
    with pytest.raises(BundleError, match=words):
        open_bundle(bundle, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_links_in_bundles_are_refused(tmp_path):
    bundle = make_zip(tmp_path / "l.npbundle", {}, {"resources/link": "0" * 64}, link="resources/link")
    with pytest.raises(BundleError, match="links are not allowed"):
        open_bundle(bundle, tmp_path / "out")


def test_tampered_resource_fails_its_hash(tmp_path, player_patch):
    patch, _ = player_patch
    write_bundle(patch, tmp_path / "ok.npbundle")
    with zipfile.ZipFile(tmp_path / "ok.npbundle") as src, zipfile.ZipFile(tmp_path / "t.npbundle", "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("resources/"):
                data = data[:-4] + b"\x01\x02\x03\x04"
            dst.writestr(info, data)
    with pytest.raises(BundleError, match="sha256 does not match"):
        open_bundle(tmp_path / "t.npbundle", tmp_path / "out")


def test_bundle_missing_a_resource_opens_with_a_placeholder(tmp_path, player_patch):
    patch, _ = player_patch
    write_bundle(patch, tmp_path / "ok.npbundle")
    with zipfile.ZipFile(tmp_path / "ok.npbundle") as src, zipfile.ZipFile(tmp_path / "m.npbundle", "w") as dst:
        for info in src.infolist():
            if not info.filename.startswith("resources/"):
                dst.writestr(info, src.read(info))
    opened = open_bundle(tmp_path / "m.npbundle", tmp_path / "out")
    sched = compile_graph(load_patch(opened), base_dir=opened.parent)
    assert "missing: loop.wav (sha256 " in sched.errors["p"]


def test_not_a_zip_is_a_clear_error(tmp_path, cli):
    (tmp_path / "junk.npbundle").write_bytes(b"hello")
    r = cli("open", tmp_path / "junk.npbundle", "--no-editor")
    assert r.returncode == 2 and "not a readable bundle" in r.stderr and "Traceback" not in r.stderr


def test_cli_bundle_then_open(tmp_path, player_patch, cli):
    patch, _ = player_patch
    r = cli("bundle", patch, "-o", tmp_path / "s.npbundle")
    assert r.returncode == 0, r.stderr
    r = cli("open", tmp_path / "s.npbundle", "--to", tmp_path / "x", "--no-editor")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "x" / "resources" / "loop.wav").exists()
