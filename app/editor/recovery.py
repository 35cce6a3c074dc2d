"""Crash recovery: the editor autosaves unsaved work to a per-user folder; the next start
offers what a crashed (or killed) editor left behind. Files are only deleted after the user
restores (and the restored patch is autosaved again) or explicitly discards them."""
from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from neuropatch.engine.patch import atomic_write_text, graph_to_dict

ENV_DIR = "NEUROPATCH_RECOVERY_DIR"
SUFFIX = ".recovery.json"


def recovery_dir() -> Path:
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env)
    from PySide6.QtCore import QStandardPaths

    base = QStandardPaths.writableLocation(QStandardPaths.AppLocalDataLocation)
    return Path(base or Path.home() / ".local" / "share" / "neuropatch") / "recovery"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class RecoveryEntry:
    file: Path
    saved_at: float
    patch_path: str | None
    document: dict

    @property
    def title(self) -> str:
        name = Path(self.patch_path).name if self.patch_path else "untitled patch"
        return f"{name} (autosaved {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(self.saved_at))})"


class RecoveryStore:
    """This editor's recovery file plus the ones other, dead editors left."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder else recovery_dir()
        self.file = self.folder / f"{os.getpid()}-{uuid.uuid4().hex[:8]}{SUFFIX}"

    def write(self, graph, patch_path) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        doc = {"pid": os.getpid(), "saved_at": time.time(),
               "patch_path": str(patch_path) if patch_path else None, "patch": graph_to_dict(graph)}
        atomic_write_text(self.file, json.dumps(doc))

    def clear(self) -> None:
        try:
            self.file.unlink()
        except FileNotFoundError:
            pass

    def orphans(self) -> list[RecoveryEntry]:
        """Recovery files of editors that are no longer running, newest first."""
        out = []
        if not self.folder.is_dir():
            return out
        for f in self.folder.glob(f"*{SUFFIX}"):
            if f == self.file:
                continue
            try:
                doc = json.loads(f.read_text(encoding="utf-8"))
                pid = int(doc.get("pid", 0))
            except (OSError, ValueError, TypeError, AttributeError):
                continue
            if pid != os.getpid() and _pid_alive(pid):
                continue
            out.append(RecoveryEntry(f, float(doc.get("saved_at", 0)), doc.get("patch_path"),
                                     doc.get("patch", {})))
        out.sort(key=lambda e: -e.saved_at)
        return out

    @staticmethod
    def discard(entry: RecoveryEntry) -> None:
        try:
            entry.file.unlink()
        except FileNotFoundError:
            pass
