"""Autosave of unsaved work to the recovery folder, and the offer to restore it after a crash."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from neuropatch.engine import PatchError
from neuropatch.engine.patch import graph_from_dict

AUTOSAVE_MS = 15_000


class Autosave:
    """Writes the window's document to its recovery file a while after the last unsaved edit
    (`timer`), and restores a patch an editor that crashed left behind."""

    def __init__(self, window, interval_ms: int = AUTOSAVE_MS):
        self.window = window
        self.timer = QTimer(window, singleShot=True, interval=interval_ms)
        self.timer.timeout.connect(self.save_now)

    def edited(self) -> None:
        """An edit happened: start the countdown unless it runs already."""
        if self.window.is_dirty() and not self.timer.isActive():
            self.timer.start()

    def save_now(self) -> None:
        w = self.window
        if not w.is_dirty():
            w.recovery.clear()  # back at the saved state: nothing to recover
            return
        try:
            w.recovery.write(w.doc.graph, w.doc.path)
        except OSError as exc:
            w.status(f"autosave failed: {exc.strerror or exc}")

    def offer_recovery(self) -> bool:
        """Offer patches a crashed editor left; returns True when one was restored."""
        w = self.window
        entries = w.recovery.orphans()
        if not entries:
            return False
        entry = entries[0]
        box = QMessageBox(QMessageBox.Warning, "Recover unsaved work",
                          f"neuropatch closed unexpectedly. Restore {entry.title}?"
                          + (f"\n({len(entries) - 1} older recovery files are kept.)" if len(entries) > 1 else ""),
                          parent=w)
        restore = box.addButton("Restore", QMessageBox.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.DestructiveRole)
        box.addButton("Later", QMessageBox.RejectRole)
        box.setObjectName("recovery_offer")
        box.exec()
        clicked = box.clickedButton()
        if clicked is discard:
            w.recovery.discard(entry)
            return False
        if clicked is not restore:
            return False
        try:
            graph = graph_from_dict(entry.document, w.registry)
        except PatchError as exc:
            w.report_error("Cannot restore", f"{entry.file}: {exc}")
            return False
        w.doc.set_graph(graph, Path(entry.patch_path) if entry.patch_path else None)
        w._force_dirty = True
        self.save_now()  # our own recovery file now holds it
        w.recovery.discard(entry)
        w._update_title()
        w.view.frame_readable()
        w.status(f"restored {entry.title}")
        return True
