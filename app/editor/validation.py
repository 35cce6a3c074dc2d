"""Check-only compiles after edits: bypassed nodes marked on the canvas, errors in the status."""
from __future__ import annotations

import re

from PySide6.QtCore import QTimer

from neuropatch.engine import CompileError, compile_graph

VALIDATE_DELAY_MS = 400
_NODE_NOTE = re.compile(r"^node '([^']+)': (.*)$", re.S)


def notes_by_node(notes) -> dict:
    """Schedule notes ("node 'pitch': frame_length 2048 limits fmin ...") grouped by node id."""
    out: dict = {}
    for note in notes:
        m = _NODE_NOTE.match(str(note))
        if m:
            out.setdefault(m.group(1), []).append(m.group(2))
    return out


class Validator:
    """Compiles the window's graph a moment after the last edit (`timer`) while audio is
    stopped; an untrusted TorchScript file is asked about once per file and session."""

    def __init__(self, window, delay_ms: int = VALIDATE_DELAY_MS):
        self.window = window
        self.declined: set[str] = set()
        self.timer = QTimer(window, singleShot=True, interval=delay_ms)
        self.timer.timeout.connect(self.validate)

    def validate(self) -> None:
        """Compile the graph off the audio path to mark bypassed nodes and report errors."""
        from neuropatch.engine.trust import UntrustedModelError

        w = self.window
        try:
            # check-only: no model loads, no files opened or written (recorders stay intact)
            schedule = compile_graph(w.doc.graph, w.registry, base_dir=w.doc.base_dir, check_only=True)
        except UntrustedModelError as exc:
            w.scene.set_errors({})
            w.status(f"not trusted: {exc}", 0)
            if exc.sha256 not in self.declined:   # ask once per file and session
                if w.drops.trust(exc.path, exc.sha256):
                    self.validate()
                else:
                    self.declined.add(exc.sha256)
            return
        except CompileError as exc:
            w.scene.set_errors({})
            w.status(f"patch does not compile: {exc}", 0)
            return
        except Exception as exc:  # a node bug must not take the editor down
            w.status(f"patch does not compile: {exc!r}", 0)
            return
        w.scene.set_errors(schedule.errors)
        w.inspector.set_notes(notes_by_node(schedule.notes))
        if schedule.errors:
            nid, msg = next(iter(schedule.errors.items()))
            w.status(f"{len(schedule.errors)} node(s) bypassed; {nid}: {msg}")
