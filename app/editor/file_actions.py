"""Patch files in the editor: new, open (patches and bundles), save, save as, recent files."""
from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox

from neuropatch.engine import Graph, PatchError, load_patch
from neuropatch.engine.bundle_cache import is_bundle
from neuropatch.engine.patch import save_patch

APP_NAME = "neuropatch"
MAX_RECENT = 10


def settings() -> QSettings:
    """The editor's per-user settings (recent files, model folders, window layout)."""
    return QSettings(APP_NAME, "editor")


def read_only_origin(path: Path | None) -> bool:
    """A patch that Save must not write back to: unpacked from a bundle (the cache), an
    example installed with the package, or a file in a folder the user cannot write."""
    if path is None:
        return False
    from neuropatch.engine.bundle_cache import bundle_cache_dir
    import neuropatch.patches

    path = Path(path).resolve()
    installed = Path(neuropatch.patches.__file__).resolve().parent
    return (path.is_relative_to(bundle_cache_dir().resolve())
            or (path.is_relative_to(installed) and bool({"site-packages", "dist-packages"} & set(installed.parts)))
            or not os.access(path.parent, os.W_OK))


def recent_files() -> list[str]:
    """Recently opened or saved patches, newest first."""
    value = settings().value("recent", [])
    if isinstance(value, str):
        value = [value]
    return [v for v in (value or []) if v]


def add_recent(path: Path) -> None:
    p = str(Path(path).resolve())
    recent = [p] + [r for r in recent_files() if r != p]
    settings().setValue("recent", recent[:MAX_RECENT])


class FileActions:
    """Opens and saves the window's document; reports through the window's status and
    error hooks and keeps its dirty state, recovery file and recent list in step."""

    def __init__(self, window):
        self.window = window

    @property
    def doc(self):
        return self.window.doc

    def new_patch(self) -> bool:
        w = self.window
        if not self.maybe_save():
            return False
        w._force_dirty = False
        self.doc.set_graph(Graph(), None)
        w.problems = []
        w.recovery.clear()
        w._update_title()
        return True

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        start = str(self.doc.base_dir or Path.cwd())
        path, _ = QFileDialog.getOpenFileName(self.window, "Open patch", start,
                                              "Patches (*.json *.npbundle);;All files (*)")
        if path:
            self.window.open_path(Path(path), ask_save=False)

    def open_path(self, path, ask_save: bool = True) -> bool:
        path = Path(path)
        if ask_save and not self.maybe_save():
            return False
        if is_bundle(path):
            return self._open_bundle(path)
        return self._open_patch(path, recent=path)

    def _open_patch(self, path: Path, recent: Path) -> bool:
        w = self.window
        t0 = time.perf_counter()
        try:
            graph = load_patch(path, w.registry)
        except PatchError as exc:
            w.report_error("Cannot open patch", f"{exc.file or path}\n{exc.path}: {exc.message}")
            return False
        w._force_dirty = False
        self.doc.set_graph(graph, path)
        w.recovery.clear()
        w.problems = [f"node '{nid}': unknown node type {spec.type!r} (kept as a placeholder)"
                      for nid, spec in graph.nodes.items() if spec.raw is not None]
        add_recent(recent)
        w.view.frame_readable()
        w.status(f"opened {path.name}: {len(graph.nodes)} nodes, {len(graph.edges)} cables "
                 f"in {1000 * (time.perf_counter() - t0):.0f} ms")
        w._update_title()
        return True

    def _open_bundle(self, path: Path) -> bool:
        """Verify the bundle, unpack it into the bundle cache (once), open its patch there.
        The recent-files list keeps the bundle; saving asks where (never into the cache)."""
        from neuropatch.engine.bundle_cache import unpack_cached
        from neuropatch.engine.errors import NeuropatchError

        try:
            patch_file = unpack_cached(path)
        except NeuropatchError as exc:
            self.window.report_error("Cannot open bundle", str(exc))
            return False
        return self._open_patch(patch_file, recent=path)

    def save(self) -> bool:
        if self.doc.path is None or read_only_origin(self.doc.path):
            return self.window.save_as()
        return self._write(self.doc.path)

    def save_as(self, path=None) -> bool:
        if path is None:
            start = str(self.doc.path if self.doc.path and not read_only_origin(self.doc.path)
                        else Path.cwd() / (self.doc.path.name if self.doc.path else "untitled.json"))
            chosen, _ = QFileDialog.getSaveFileName(self.window, "Save patch", start, "Patches (*.json)")
            if not chosen:
                return False
            path = chosen
        path = Path(path)
        if not path.suffix:
            path = path.with_suffix(".json")
        return self._write(path)

    def _write(self, path: Path) -> bool:
        from neuropatch.engine.errors import NeuropatchError
        from neuropatch.engine.relocate import relocate_resources

        w = self.window
        try:
            if self.doc.base_dir is not None:  # keep resource paths valid from the new folder
                relocate_resources(self.doc.graph, self.doc.base_dir, path.parent,
                                   copy=read_only_origin(self.doc.path))
            save_patch(self.doc.graph, path)
        except NeuropatchError as exc:
            w.report_error("Cannot save patch", str(exc))
            return False
        except OSError as exc:
            w.report_error("Cannot save patch", f"{path}: {exc.strerror or exc}")
            return False
        self.doc.path = path
        w._force_dirty = False
        self.doc.undo_stack.setClean()
        w.recovery.clear()
        w.autosave_timer.stop()
        add_recent(path)
        w._update_title()
        w.status(f"saved {path}")
        return True

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; False when the user cancels."""
        w = self.window
        if not w.is_dirty():
            return True
        if w.confirm_hook is not None:
            return bool(w.confirm_hook("Unsaved changes", "Discard unsaved changes?"))
        answer = QMessageBox.question(w, "Unsaved changes", "Save changes to the patch first?",
                                      QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel)
        if answer == QMessageBox.Save:
            return w.save()
        return answer == QMessageBox.Discard

    def fill_recent_menu(self, menu) -> None:
        menu.clear()
        for p in recent_files():
            act = menu.addAction(p)
            act.triggered.connect(lambda _c=False, p=p: self.window.open_path(Path(p)))
        if not menu.actions():
            menu.addAction("(none)").setEnabled(False)
