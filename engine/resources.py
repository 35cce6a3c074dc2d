"""Resource files (models, IRs, audio files): hashing and the checks a compile makes.

One helper per fact: :func:`sha256_file` is the only place a resource is hashed.
"""
from __future__ import annotations

import hashlib
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
