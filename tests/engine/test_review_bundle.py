"""Bundles as an attacker sees them: links on the writing side, duplicate or oversized
members and patches that point outside the bundle."""
import hashlib
import json
import os
import zipfile

import numpy as np
import pytest
import soundfile as sf

from neuropatch.engine.bundle import BundleError, open_bundle, write_bundle


def player_patch(folder, resource_path):
    patch = folder / "player.json"
    patch.write_text(json.dumps({
        "format": "neuropatch", "version": 1,
        "nodes": [{"id": "p", "type": "io.file_player", "resources": {"file": {"path": resource_path}}},
                  {"id": "out", "type": "io.audio_out"}],
        "edges": [{"from": ["p", "out"], "to": ["out", "in"]}]}))
    return patch


def test_a_resource_that_is_a_symbolic_link_is_refused_when_bundling(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    (tmp_path / "media").mkdir()
    os.symlink(secret, tmp_path / "media" / "loop.wav")
    patch = player_patch(tmp_path, "media/loop.wav")
    with pytest.raises(BundleError, match="symbolic link"):
        write_bundle(patch, tmp_path / "x.npbundle")
    assert not (tmp_path / "x.npbundle").exists()


def test_a_resource_in_a_linked_folder_is_refused_when_bundling(tmp_path):
    (tmp_path / "real").mkdir()
    sf.write(tmp_path / "real" / "loop.wav", np.zeros(48, np.float32), 48000)
    os.symlink(tmp_path / "real", tmp_path / "media")
    patch = player_patch(tmp_path, "media/loop.wav")
    with pytest.raises(BundleError, match="symbolic link"):
        write_bundle(patch, tmp_path / "x.npbundle")


def test_a_resource_that_is_not_a_regular_file_is_refused_when_bundling(tmp_path):
    patch = player_patch(tmp_path, "/dev/zero")
    with pytest.raises(BundleError, match="not a regular file"):
        write_bundle(patch, tmp_path / "x.npbundle")


def make_bundle(path, patch_doc, members, files=None):
    with zipfile.ZipFile(path, "w") as z:
        if files is None:
            files = {name: hashlib.sha256(data).hexdigest() for name, data in members}
        z.writestr("manifest.json", json.dumps({"format": "neuropatch-bundle", "version": 1,
                                                "patch": "patch.json", "files": files}))
        z.writestr("patch.json", json.dumps(patch_doc))
        for name, data in members:
            z.writestr(name, data)
    return path


EMPTY_PATCH = {"format": "neuropatch", "version": 1}


def test_duplicate_member_names_are_refused(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name it writes
        bundle = make_bundle(tmp_path / "d.npbundle", EMPTY_PATCH,
                             [("resources/a.wav", b"good"), ("resources/a.wav", b"evil")],
                             {"resources/a.wav": hashlib.sha256(b"good").hexdigest()})
    with pytest.raises(BundleError, match="more than once"):
        open_bundle(bundle, tmp_path / "out")


def test_an_oversized_manifest_is_refused_without_reading_it(tmp_path):
    from neuropatch.engine import bundle as bundle_mod

    big = {"format": "neuropatch-bundle", "version": 1, "patch": "patch.json",
           "files": {f"resources/f{i}.bin": "0" * 64 for i in range(5000)}}
    path = tmp_path / "m.npbundle"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("manifest.json", json.dumps(big))
        z.writestr("patch.json", json.dumps(EMPTY_PATCH))
    assert len(json.dumps(big)) > 100_000
    old = bundle_mod.MAX_MANIFEST_BYTES
    bundle_mod.MAX_MANIFEST_BYTES = 100_000
    try:
        with pytest.raises(BundleError, match="manifest.json"):
            open_bundle(path, tmp_path / "out")
    finally:
        bundle_mod.MAX_MANIFEST_BYTES = old


def test_a_manifest_listing_more_files_than_the_member_limit_is_refused(tmp_path):
    from neuropatch.engine.bundle import MAX_MEMBERS

    files = {f"resources/f{i}.bin": "0" * 64 for i in range(MAX_MEMBERS + 1)}
    bundle = make_bundle(tmp_path / "m.npbundle", EMPTY_PATCH, [], files)
    with pytest.raises(BundleError, match="files"):
        open_bundle(bundle, tmp_path / "out")


@pytest.mark.parametrize("resource_path", ["/etc/passwd", "../outside.wav", "resources/../../x.wav",
                                           "~/x.wav"])
def test_a_bundled_patch_pointing_outside_the_bundle_is_refused(tmp_path, resource_path):
    doc = {"format": "neuropatch", "version": 1,
           "nodes": [{"id": "p", "type": "io.file_player", "resources": {"file": {"path": resource_path}}}]}
    bundle = make_bundle(tmp_path / "o.npbundle", doc, [])
    with pytest.raises(BundleError, match="outside the bundle"):
        open_bundle(bundle, tmp_path / "out")


def test_a_bundled_patch_with_a_missing_resource_still_opens(tmp_path):
    doc = {"format": "neuropatch", "version": 1,
           "nodes": [{"id": "p", "type": "io.file_player",
                      "resources": {"file": {"path": "resources/gone.wav"}}}]}
    bundle = make_bundle(tmp_path / "g.npbundle", doc, [], {"resources/gone.wav": "0" * 64})
    assert open_bundle(bundle, tmp_path / "out").exists()


def test_resources_of_nodes_inside_a_subpatch_are_bundled(tmp_path):
    from neuropatch.engine import load_patch

    (tmp_path / "media").mkdir()
    sf.write(tmp_path / "media" / "a b\\c.wav", np.full(48, 0.5, np.float32), 48000)
    inner = {"nodes": [{"id": "p", "type": "io.file_player",
                        "resources": {"file": {"path": "media/a b\\c.wav"}}}], "edges": []}
    patch = tmp_path / "sub.json"
    patch.write_text(json.dumps({"format": "neuropatch", "version": 1,
                                 "nodes": [{"id": "s", "type": "sys.subpatch", "state": inner}]}))
    load_patch(patch)  # a valid patch to begin with
    manifest = write_bundle(patch, tmp_path / "s.npbundle")
    assert len(manifest["files"]) == 1
    opened = open_bundle(tmp_path / "s.npbundle", tmp_path / "out")
    doc = json.loads(opened.read_text())
    member = doc["nodes"][0]["state"]["nodes"][0]["resources"]["file"]["path"]
    assert member in manifest["files"] and (opened.parent / member).is_file()
