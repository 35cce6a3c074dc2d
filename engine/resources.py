"""Resource files (models, IRs, audio files): hashing and the checks a compile makes.

One helper per fact: :func:`sha256_file` is the only place a resource is hashed.
"""
from __future__ import annotations

import hashlib
import itertools
import os
from pathlib import Path

from .errors import ResourceError

_hash_cache: dict = {}  # (path, mtime_ns, size) -> sha256 hex; a file that changes gets a new key


def sha256_file(path: str | Path) -> str:
    """sha256 (hex) of the file's bytes. Raises OSError when it cannot be read."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resource_sha256(path: str | Path) -> str | None:
    """sha256 of the file at `path` (cached by path, mtime and size), or None when unreadable."""
    try:
        st = os.stat(path)
        key = (str(path), st.st_mtime_ns, st.st_size)
        digest = _hash_cache.get(key)
        if digest is None:
            digest = sha256_file(path)
            if len(_hash_cache) > 1024:
                _hash_cache.clear()
            _hash_cache[key] = digest
        return digest
    except (OSError, ValueError):
        return None


def check_resource_files(node, node_id: str) -> None:
    """Raise :class:`ResourceError` naming the node and file when a required resource is not
    set, or a set one is missing or unreadable; TorchScript files must be trusted
    (:func:`~.trust.require_trusted`). Reads nothing but file metadata (and, for
    TorchScript, the file's hash)."""
    from .trust import is_torchscript, require_trusted

    for res in node.resources:
        path = node.resource_paths.get(res.name)
        if path is None:
            if res.required:
                raise ResourceError(f"node '{node_id}': no {res.name} file set ({res.doc or res.name})")
            continue
        path = Path(path)
        if not path.is_file():
            raise ResourceError(f"node '{node_id}': {res.name} file not found: {path}")
        if not os.access(path, os.R_OK):
            raise ResourceError(f"node '{node_id}': {res.name} file is not readable: {path}")
        if is_torchscript(path):
            require_trusted(path)


# ---- finding a resource that moved ----------------------------------------------------------

MODEL_PATH_ENV = "NEUROPATCH_MODEL_PATH"
MAX_FILES_SEARCHED = 20_000    # per compile and folder tree: a huge folder must not stall it
_found_by_hash: dict = {}      # sha256 -> path where it was last found


def model_folders() -> list[Path]:
    """The user's model folders: ``$NEUROPATCH_MODEL_PATH`` (``os.pathsep``-separated; the
    editor's settings add theirs to it), existing folders only, in order."""
    seen, folders = set(), []
    for part in os.environ.get(MODEL_PATH_ENV, "").split(os.pathsep):
        if part.strip():
            p = Path(part.strip()).expanduser()
            if p.is_dir() and p.resolve() not in seen:
                seen.add(p.resolve())
                folders.append(p)
    return folders


def shipped_folder() -> list[Path]:
    """The models, IRs and demo files shipped with neuropatch, searched after the user's
    model folders (so a copied example patch still finds them)."""
    from neuropatch.assets import path as shipped_path

    folder = shipped_path()
    return [folder] if folder.is_dir() else []


def resolve_resource(entry: dict, base_dir: str | Path | None) -> tuple[Path | None, str | None]:
    """Where the file a patch's resource entry (``{"path", "sha256"}``) names is now, and how it
    was found: (path, None) where the patch says; (path, note) when found elsewhere: in a
    model folder (then the shipped assets) under its recorded relative path or its name, or
    anywhere in them by its recorded sha256; (the path the patch says, None) when missing."""
    raw = entry.get("path", "") if isinstance(entry, dict) else ""
    if not raw:
        return None, None
    rel = Path(raw).expanduser()
    where = rel if rel.is_absolute() or base_dir is None else Path(base_dir) / rel
    if where.is_file():
        return where, None
    sha = str(entry.get("sha256") or "").lower() or None
    folders = model_folders() + shipped_folder()
    inside = not rel.is_absolute() and ".." not in rel.parts   # a path that stays in the folder
    for folder in folders:
        for candidate in ([folder / rel] if inside else []) + [folder / rel.name]:
            if candidate.is_file() and (sha is None or resource_sha256(candidate) == sha):
                return candidate, f"'{raw}' not found next to the patch; using {candidate}"
    if sha is not None:
        found = _search_by_hash(sha, rel.suffix.lower(), folders)
        if found is not None:
            return found, f"'{raw}' not found next to the patch; found by its sha256 at {found}"
    else:   # no recorded hash: the first file of that name in the folders' trees
        found = next((p for f in folders for p in itertools.islice(f.rglob(rel.name), MAX_FILES_SEARCHED)
                      if p.is_file()), None)
        if found is not None:
            return found, f"'{raw}' not found next to the patch; using {found} (same name)"
    return where, None


def _search_by_hash(sha: str, suffix: str, folders: list[Path]) -> Path | None:
    known = _found_by_hash.get(sha)
    if (known is not None and any(known.is_relative_to(f) for f in folders)
            and resource_sha256(known) == sha):
        return known
    for folder in folders:
        for k, path in enumerate(folder.rglob(f"*{suffix}" if suffix else "*")):
            if k >= MAX_FILES_SEARCHED:
                break
            if path.is_file() and resource_sha256(path) == sha:
                _found_by_hash[sha] = path
                return path
    return None


def missing_message(name: str, entry: dict) -> str:
    """What a node with a missing resource shows: 'missing: NAME (sha256 …)' and where it looked."""
    raw = entry.get("path", "") if isinstance(entry, dict) else ""
    sha = str(entry.get("sha256") or "") if isinstance(entry, dict) else ""
    looked = f"next to the patch, in the model folders (${MODEL_PATH_ENV}) or the shipped assets"
    return (f"missing: {Path(raw).name or name}" + (f" (sha256 {sha[:12]}…)" if sha else "")
            + f"; not found {looked}" + (" or by its hash" if sha else "") + "; locate it to use it")
