"""Bundles: a patch and every resource it uses in one zip (``*.npbundle``) to share.

Layout::

    manifest.json   {"format": "neuropatch-bundle", "version": 1, "patch": "patch.json",
                     "files": {"resources/plexi.nam": "<sha256>", ...}}
    patch.json      resource paths rewritten to resources/<file>, each with its sha256
    resources/...

Opening verifies every hash and refuses absolute paths, ``..``, links, files not in the
manifest and zip bombs. A resource missing from the bundle leaves its node as a
placeholder (the patch still opens).
"""
from __future__ import annotations

import hashlib
import json
import stat
import zipfile
from pathlib import Path, PurePosixPath

from .errors import NeuropatchError
from .patch import dumps_patch, load_patch

BUNDLE_FORMAT = "neuropatch-bundle"
BUNDLE_VERSION = 1
MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 4 * 1024**3
MAX_RATIO = 200  # uncompressed / compressed, per member (larger means a zip bomb)


class BundleError(NeuropatchError):
    """A bundle cannot be written or is unsafe/corrupt; the message names the member."""


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_bundle(patch_path: str | Path, out_path: str | Path, registry=None) -> dict:
    """Bundle `patch_path` and its resources into `out_path`. Returns the manifest."""
    patch_path = Path(patch_path)
    graph = load_patch(patch_path, registry)
    base = patch_path.resolve().parent
    files: dict[str, str] = {}
    sources: dict[str, Path] = {}
    by_hash: dict[str, str] = {}
    for spec in graph.nodes.values():
        resources = spec.raw.get("resources", {}) if spec.raw is not None else spec.resources
        for name, res in resources.items():
            src = Path(res["path"]).expanduser()
            src = src if src.is_absolute() else base / src
            if not src.is_file():
                raise BundleError(f"node '{spec.id}' resource '{name}': file not found: {src}")
            digest = sha256_file(src)
            member = by_hash.get(digest)
            if member is None:
                member = f"resources/{src.name}"
                k = 2
                while member in files:
                    member = f"resources/{src.stem}_{k}{src.suffix}"
                    k += 1
                files[member] = digest
                sources[member] = src
                by_hash[digest] = member
            res["path"] = member
            res["sha256"] = digest
    manifest = {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, "patch": "patch.json", "files": files}
    out_path = Path(out_path)
    tmp = out_path.with_name(out_path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", json.dumps(manifest, indent=2))
        z.writestr("patch.json", dumps_patch(graph))
        for member, src in sources.items():
            z.write(src, member)
    tmp.replace(out_path)
    return manifest


def _safe_member(name: str) -> PurePosixPath:
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise BundleError(f"{name!r}: absolute paths are not allowed in a bundle")
    p = PurePosixPath(name)
    if any(part in ("..", "") for part in p.parts) or not p.parts:
        raise BundleError(f"{name!r}: '..' and empty path parts are not allowed in a bundle")
    return p


def open_bundle(bundle_path: str | Path, dest: str | Path) -> Path:
    """Verify and extract a bundle into `dest` (created). Returns the extracted patch path."""
    bundle_path, dest = Path(bundle_path), Path(dest)
    try:
        z = zipfile.ZipFile(bundle_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"{bundle_path}: not a readable bundle ({exc})") from None
    with z:
        infos = z.infolist()
        if len(infos) > MAX_MEMBERS:
            raise BundleError(f"{bundle_path}: {len(infos)} members (limit {MAX_MEMBERS})")
        total = 0
        for info in infos:
            _safe_member(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise BundleError(f"{info.filename!r}: links are not allowed in a bundle")
            total += info.file_size
            if info.file_size > 1 << 20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise BundleError(f"{info.filename!r}: compression ratio {info.file_size // max(info.compress_size, 1)}:1 "
                                  "looks like a zip bomb")
        if total > MAX_TOTAL_BYTES:
            raise BundleError(f"{bundle_path}: {total} bytes uncompressed (limit {MAX_TOTAL_BYTES})")
        names = {i.filename for i in infos if not i.is_dir()}
        if "manifest.json" not in names:
            raise BundleError(f"{bundle_path}: no manifest.json (not a neuropatch bundle)")
        try:
            manifest = json.loads(z.read("manifest.json").decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise BundleError(f"{bundle_path}: manifest.json is not valid JSON ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"{bundle_path}: manifest.json: format is not {BUNDLE_FORMAT!r}")
        if not isinstance(manifest.get("version"), int) or manifest["version"] > BUNDLE_VERSION:
            raise BundleError(f"{bundle_path}: bundle version {manifest.get('version')!r} is newer than this app reads")
        files = manifest.get("files", {})
        patch_name = manifest.get("patch", "patch.json")
        if not isinstance(files, dict) or not isinstance(patch_name, str):
            raise BundleError(f"{bundle_path}: manifest.json: malformed 'files' or 'patch'")
        _safe_member(patch_name)
        if patch_name not in names:
            raise BundleError(f"{bundle_path}: the patch {patch_name!r} named by the manifest is missing")
        extra = names - set(files) - {"manifest.json", patch_name}
        if extra:
            raise BundleError(f"{sorted(extra)[0]!r}: file not listed in the manifest")
        dest.mkdir(parents=True, exist_ok=True)
        for member, digest in files.items():
            _safe_member(member)
            if member not in names:
                continue  # missing resource: its node opens as a placeholder
            data = z.read(member)
            if hashlib.sha256(data).hexdigest() != digest:
                raise BundleError(f"{member!r}: sha256 does not match the manifest (corrupt or tampered)")
            target = dest / member
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (dest / patch_name).write_bytes(z.read(patch_name))
    return dest / patch_name
