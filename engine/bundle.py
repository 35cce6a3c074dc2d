"""Bundles: a patch and every resource it uses in one zip (``*.npbundle``) to share.

Layout::

    manifest.json   {"format": "neuropatch-bundle", "version": 1, "patch": "patch.json",
                     "files": {"resources/plexi.nam": "<sha256>", ...}}
    patch.json      resource paths rewritten to resources/<file>, each with its sha256
    resources/...

Writing refuses resources reached through a symbolic link (below the patch folder, or the
file itself) and anything that is not a regular file, so a shared patch folder cannot make
a bundle carry some other file of the sender's. Opening verifies every hash and refuses
absolute paths, ``..``, links, duplicate names, files not in the manifest, patches whose
resources point outside the bundle and zip bombs. A resource missing from the bundle
leaves its node bypassed (the patch still opens).
"""
from __future__ import annotations

import hashlib
import json
import stat
import zipfile
from pathlib import Path, PurePosixPath

from .resources import sha256_file
from .errors import NeuropatchError
from .patch import graph_to_dict, load_patch
from .registry import default_registry

BUNDLE_FORMAT = "neuropatch-bundle"
BUNDLE_VERSION = 1
MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 4 * 1024**3
MAX_RATIO = 200  # uncompressed / compressed, per member (larger means a zip bomb)
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_PATCH_BYTES = 64 * 1024 * 1024


class BundleError(NeuropatchError):
    """A bundle cannot be written or is unsafe/corrupt; the message names the member."""


def write_bundle(patch_path: str | Path, out_path: str | Path, registry=None) -> dict:
    """Bundle `patch_path` and its resources into `out_path`. Returns the manifest."""
    patch_path = Path(patch_path)
    graph = load_patch(patch_path, registry)
    base = patch_path.resolve().parent
    files: dict[str, str] = {}
    sources: dict[str, Path] = {}
    by_hash: dict[str, str] = {}
    doc = graph_to_dict(graph)
    registry = registry or default_registry()
    for node_id, node_type, name, res in resource_dicts(doc):  # nodes inside subpatches included
        rel = Path(res["path"]).expanduser()
        src = rel if rel.is_absolute() else base / rel
        where = f"node '{node_id}' resource '{name}'"
        digest = _bundleable(src, base if not rel.is_absolute() else None, where)
        member = by_hash.get(digest)
        if member is None:
            companions = companion_files(registry, node_type, name, src)
            stem, suffix = _member_name(src.stem), _member_name(src.suffix)
            k = 1
            while True:  # a free stem for the file and its companions (a model's config beside it)
                free = stem if k == 1 else f"{stem}_{k}"
                member = f"resources/{free}{suffix}"
                extra = [f"resources/{free}{_member_name(c.suffix)}" for c in companions]
                if member not in files and not any(m in files for m in extra):
                    break
                k += 1
            files[member] = digest
            sources[member] = src
            by_hash[digest] = member
            for companion, cmember in zip(companions, extra):
                files[cmember] = _bundleable(companion, base if not rel.is_absolute() else None,
                                             f"{where} (its companion {companion.name})")
                sources[cmember] = companion
        res["path"] = member
        res["sha256"] = digest
    manifest = {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, "patch": "patch.json", "files": files}
    out_path = Path(out_path)
    tmp = out_path.with_name(out_path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", json.dumps(manifest, indent=2))
        z.writestr("patch.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        for member, src in sources.items():
            z.write(src, member)
    tmp.replace(out_path)
    return manifest


def _bundleable(src: Path, base: Path | None, where: str) -> str:
    """sha256 of `src` after refusing links and anything that is not a regular file."""
    link = _first_link(src, base)
    if link is not None:
        raise BundleError(f"{where}: {src} goes through the symbolic link {link}; a bundle "
                          "carries real files only (copy the file next to the patch)")
    try:
        mode = src.stat().st_mode
    except OSError:
        raise BundleError(f"{where}: file not found: {src}") from None
    if not stat.S_ISREG(mode):
        raise BundleError(f"{where}: {src} is not a regular file")
    return sha256_file(src)


def _member_name(text: str) -> str:
    """A file name that every unzip tool and :func:`_safe_member` accept."""
    return "".join(c if c.isalnum() and c.isascii() or c in "._-" else "_" for c in text)[:100]


def _first_link(path: Path, base: Path | None) -> Path | None:
    """The first symbolic link on `path`: the file itself, and every folder below `base`."""
    stop = len(base.parts) if base is not None else len(path.parts) - 1
    for k in range(len(path.parts), stop, -1):
        part = Path(*path.parts[:k])
        if part.is_symlink():
            return part
    return None


def companion_files(registry, node_type, name: str, path: Path) -> list:
    """Files that travel with resource `name` of a node of `node_type` at `path` (its type's
    ``resource_companions``; none for an unknown type)."""
    cls = registry.resolve(node_type) if isinstance(node_type, str) else None
    return cls.resource_companions(name, path) if cls is not None else []


def resource_dicts(doc):
    """(node id, node type, resource name, resource dict) for every resource in a patch
    document, nodes inside subpatches included."""
    if isinstance(doc, dict):
        if isinstance(doc.get("id"), str) and isinstance(doc.get("resources"), dict):
            for name, res in doc["resources"].items():
                if isinstance(res, dict):
                    yield doc["id"], doc.get("type"), name, res
        for key, value in doc.items():
            if key != "resources":
                yield from resource_dicts(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from resource_dicts(value)


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
        names = set()
        for info in infos:
            if info.filename in names:
                raise BundleError(f"{info.filename!r}: appears more than once in the bundle")
            if not info.is_dir():
                names.add(info.filename)
        if "manifest.json" not in names:
            raise BundleError(f"{bundle_path}: no manifest.json (not a neuropatch bundle)")
        if z.getinfo("manifest.json").file_size > MAX_MANIFEST_BYTES:
            raise BundleError(f"{bundle_path}: manifest.json is larger than {MAX_MANIFEST_BYTES} bytes")
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
        if len(files) > MAX_MEMBERS:
            raise BundleError(f"{bundle_path}: manifest.json lists {len(files)} files (limit {MAX_MEMBERS})")
        _safe_member(patch_name)
        if patch_name not in names:
            raise BundleError(f"{bundle_path}: the patch {patch_name!r} named by the manifest is missing")
        if z.getinfo(patch_name).file_size > MAX_PATCH_BYTES:
            raise BundleError(f"{bundle_path}: {patch_name} is larger than {MAX_PATCH_BYTES} bytes")
        patch_bytes = z.read(patch_name)
        try:
            patch_doc = json.loads(patch_bytes.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            patch_doc = None  # not a patch: the loader reports it with its JSON path
        for node_id, _, name, res in resource_dicts(patch_doc):
            rpath = res.get("path")
            if not isinstance(rpath, str) or rpath not in files:
                raise BundleError(f"{patch_name}: node {node_id[:60]!r} resource {name[:60]!r} points "
                                  f"outside the bundle ({str(rpath)[:80]!r}); bundled patches may only "
                                  "use files listed in the manifest")
            _safe_member(rpath)
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
        (dest / patch_name).write_bytes(patch_bytes)
    return dest / patch_name
