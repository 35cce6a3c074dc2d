"""Undo/redo over the engine's graph commands.

Each :class:`GraphUndoCommand` holds a graph command and its inverse (as returned by
``Graph.apply``). Undo applies the inverse and keeps the re-derived forward command, so
node order and edge indices come back exactly. Param drags share a ``merge_key`` and
collapse into one undo step.
"""
from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from neuropatch.engine.errors import GraphError

MERGE_ID = 4711


class GraphUndoCommand(QUndoCommand):
    """One undoable edit. Created after the command was applied (the first redo is a no-op)."""

    def __init__(self, document, command, inverse, text: str, merge_key=None):
        super().__init__(text)
        self.document = document
        self.command = command
        self.inverse = inverse
        self.merge_key = merge_key
        self._applied = True

    def id(self) -> int:
        return MERGE_ID if self.merge_key is not None else -1

    def mergeWith(self, other) -> bool:
        key = getattr(other, "merge_key", None)
        if key is None or key != self.merge_key:
            return False
        self.command = other.command  # keep our inverse: it restores the value before the drag
        return True

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        try:
            self.inverse = self.document.graph.apply(self.command)
        except GraphError as exc:
            self.document.message.emit(f"redo failed: {exc}")

    def undo(self) -> None:
        try:
            self.command = self.document.graph.apply(self.inverse)
        except GraphError as exc:
            self.document.message.emit(f"undo failed: {exc}")
