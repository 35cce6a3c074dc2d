"""Trust for TorchScript model files (.ts, RAVE / nn~ exports).

A TorchScript file is code: loading it runs code (``__setstate__``) and calling it runs
more. The engine loads one only after the user trusted that exact file: its sha256 is
recorded in a per-user trust store, shared by every entry point (``render``, ``run``,
``batch`` with ``--trust FILE``, the editor's dialog). A changed file has another hash
and is untrusted again.

Store: JSON ``{"trusted": {sha256: {"path": str, "added": ISO-8601}}}`` at
``$NEUROPATCH_TRUST_FILE`` or ``$XDG_CONFIG_HOME/neuropatch/trusted_models.json``
(``~/.config/...``). Files shipped inside the neuropatch package are trusted by hash in
``assets/trusted.json``.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from neuropatch.assets import path as shipped_path

from .errors import ResourceError
from .resources import resource_sha256

TORCHSCRIPT_SUFFIXES = (".ts", ".torchscript", ".pt", ".jit")
_SHIPPED = shipped_path("trusted.json")   # optional; absent means no shipped TorchScript


class UntrustedModelError(ResourceError):
    """A TorchScript file the user has not trusted; the message says how to trust it."""

    def __init__(self, path: Path, sha256: str):
        self.path, self.sha256 = Path(path), sha256
        super().__init__(f"{self.path.name} is TorchScript (code that runs on this computer) and is not "
                         f"trusted (sha256 {sha256[:16]}…): trust it with --trust {self.path} "
                         f"or in the editor's dialog")


def is_torchscript(path: str | Path) -> bool:
    return Path(path).suffix.lower() in TORCHSCRIPT_SUFFIXES


def store_path() -> Path:
    env = os.environ.get("NEUROPATCH_TRUST_FILE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "neuropatch" / "trusted_models.json"


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text("utf-8"))
        entries = data.get("trusted", {}) if isinstance(data, dict) else {}
        return entries if isinstance(entries, dict) else {}
    except (OSError, ValueError):
        return {}


def trusted_hashes() -> set:
    return set(_read(store_path())) | set(_read(_SHIPPED))


def is_trusted(path: str | Path) -> bool:
    digest = resource_sha256(path)
    return digest is not None and digest in trusted_hashes()


def require_trusted(path: str | Path) -> str:
    """Return the file's sha256, or raise :class:`UntrustedModelError` (or ResourceError when
    the file cannot be read)."""
    digest = resource_sha256(path)
    if digest is None:
        raise ResourceError(f"cannot read {path}")
    if digest not in trusted_hashes():
        raise UntrustedModelError(Path(path), digest)
    return digest


def trust(path: str | Path) -> str:
    """Record the file's sha256 in the user's trust store (atomic write); returns the hash."""
    digest = resource_sha256(path)
    if digest is None:
        raise ResourceError(f"cannot trust {path}: the file cannot be read")
    target = store_path()
    entries = _read(target)
    entries[digest] = {"path": str(Path(path).resolve()), "added": time.strftime("%Y-%m-%dT%H:%M:%S")}
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".trusted-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"trusted": entries}, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest
