"""Bundles wherever a patch is accepted: a ``.npbundle`` unpacked once into a per-user cache.

The cache folder is ``$NEUROPATCH_BUNDLE_CACHE`` or ``$XDG_CACHE_HOME/neuropatch/bundles``
(``~/.cache/neuropatch/bundles``). Each bundle lands in a folder named by the sha256 of the
bundle file, so the same bundle opened from anywhere (or by many batch workers at once)
shares one copy, and a changed bundle never reuses a stale one. Every use re-hashes the
unpacked files against the record written at unpack time; a file changed or removed in the
cache is unpacked again from the bundle. Nothing is written outside the cache: extraction
goes to a temporary folder inside it and is renamed into place.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from .bundle import BundleError, open_bundle
from .resources import sha256_file

RECORD = ".unpacked.json"  # {"bundle_sha256", "patch", "files": {relative path: sha256}}


def bundle_cache_dir() -> Path:
    env = os.environ.get("NEUROPATCH_BUNDLE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "neuropatch" / "bundles"


def is_bundle(path: str | Path) -> bool:
    """True when `path` is named ``*.npbundle`` or is a zip archive (a bundle, whatever its name)."""
    if Path(path).suffix.lower() == ".npbundle":
        return True
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def patch_file(path: str | Path) -> Path:
    """The patch JSON to load for `path`: the path itself, or, for a bundle, its patch in the cache.

    Raises BundleError (a NeuropatchError naming the bundle and the member) for an unsafe or
    corrupt bundle, and leaves plain files and missing paths to the patch loader's errors.
    """
    path = Path(path)
    return unpack_cached(path) if is_bundle(path) else path


def unpack_cached(bundle: str | Path) -> Path:
    """Verify `bundle`, unpack it into the cache (once) and return its patch file there."""
    bundle = Path(bundle)
    try:
        digest = sha256_file(bundle)
    except OSError as exc:
        raise BundleError(f"{bundle}: cannot read ({exc.strerror or exc})") from None
    root = bundle_cache_dir()
    dest = root / digest[:32]
    patch = _verified(dest, digest)
    if patch is not None:
        return patch
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=root))
    except OSError as exc:
        raise BundleError(f"{bundle}: cannot unpack into the bundle cache {root} ({exc.strerror or exc})") from None
    try:
        patch = open_bundle(bundle, tmp)
        files = {p.relative_to(tmp).as_posix(): sha256_file(p)
                 for p in sorted(tmp.rglob("*")) if p.is_file()}
        record = {"bundle_sha256": digest, "source": str(bundle.resolve()),
                  "patch": patch.relative_to(tmp).as_posix(), "files": files}
        (tmp / RECORD).write_text(json.dumps(record, indent=1))
        if dest.exists():  # stale or tampered copy (it failed verification above)
            shutil.rmtree(dest, ignore_errors=True)
        try:
            os.rename(tmp, dest)
        except OSError:
            if _verified(dest, digest) is None:  # not another process winning the same race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    patch = _verified(dest, digest)
    if patch is None:
        raise BundleError(f"{bundle}: the unpacked copy in {dest} changed while it was being opened")
    return patch


def _verified(dest: Path, digest: str) -> Path | None:
    """The patch path when `dest` holds an intact unpacked copy of the bundle `digest`, else None."""
    try:
        record = json.loads((dest / RECORD).read_text())
        if record.get("bundle_sha256") != digest:
            return None
        for rel, sha in record["files"].items():
            if sha256_file(dest / rel) != sha:
                return None
        return dest / record["patch"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None

