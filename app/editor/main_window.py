"""The editor window: canvas, palette, inspector, files, undo, transport, recovery."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QLabel, QMainWindow, QMenu, QMessageBox)

from neuropatch.engine import CompileError, Graph, PatchError, compile_graph, load_patch
from neuropatch.engine.bundle_cache import is_bundle
from neuropatch.engine.patch import graph_from_dict, graph_to_dict, save_patch

from .canvas import PatchScene, PatchView
from .document import PatchDocument
from .inspector import Inspector, file_sha256
from .live import LiveController
from .model_folders import ModelFoldersDialog, apply_folders, configured_folders
from .model_library import ModelLibrary
from .palette import Palette
from .quick_add import QuickAdd, open_quick_add
from .recovery import RecoveryStore

APP_NAME = "neuropatch"
FRAGMENT_MIME = "application/x-neuropatch-fragment"
AUTOSAVE_MS = 15_000
VALIDATE_DELAY_MS = 400
MAX_RECENT = 10

#: file suffix -> preferred node types (looked up in the registry at run time)
FILE_NODE_HINTS = {
    ".wav": ["io.file_player"], ".flac": ["io.file_player"], ".ogg": ["io.file_player"],
    ".aiff": ["io.file_player"], ".aif": ["io.file_player"],
    ".nam": ["amp.nam"], ".json": ["amp.nam"],
    ".ts": ["ml.rave", "rave", "nn.rave"],
    ".mid": ["io.midi_file_player"], ".midi": ["io.midi_file_player"],
}


def _read_only_origin(path: Path | None) -> bool:
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


def settings() -> QSettings:
    return QSettings(APP_NAME, "editor")


class MainWindow(QMainWindow):
    def __init__(self, registry=None, autosave_ms: int = AUTOSAVE_MS, recovery_folder=None,
                 client_factory=None):
        super().__init__()
        self.doc = PatchDocument(registry, self)
        self.registry = self.doc.registry
        self.problems: list[str] = []          # warnings of the open patch (placeholders, bypassed nodes)
        self.error_hook = None                 # callable(title, text) instead of a dialog (tests)
        self.confirm_hook = None               # callable(title, text) -> bool instead of a dialog
        self._force_dirty = False
        self.recovery = RecoveryStore(recovery_folder)

        self.scene = PatchScene(self.doc, self)
        self.view = PatchView(self.scene, self)
        self.setCentralWidget(self.view)
        self.palette = Palette(self.registry)
        self.inspector = Inspector(self.doc)
        self.palette_dock = self._dock("Nodes", self.palette, Qt.LeftDockWidgetArea)
        self.inspector_dock = self._dock("Inspector", self.inspector, Qt.RightDockWidgetArea)
        self.library = ModelLibrary(self)
        self.library_dock = self._dock("Library", self.library, Qt.LeftDockWidgetArea)
        self.tabifyDockWidget(self.palette_dock, self.library_dock)
        self.palette_dock.raise_()
        self.live = LiveController(self.doc, self, client_factory=client_factory)

        self.load_label, self.xrun_label, self.latency_label = QLabel(), QLabel(), QLabel()
        for w in (self.load_label, self.xrun_label, self.latency_label):
            self.statusBar().addPermanentWidget(w)

        self.autosave_timer = QTimer(self, singleShot=True, interval=autosave_ms)
        self.autosave_timer.timeout.connect(self.autosave_now)
        self.validate_timer = QTimer(self, singleShot=True, interval=VALIDATE_DELAY_MS)
        self.validate_timer.timeout.connect(self.validate)

        self._build_actions()
        apply_folders(settings(), configured_folders(settings()))
        self.doc.message.connect(self.status)
        self.view.status.connect(self.status)
        self.view.quickAddRequested.connect(self.quick_add)
        self.view.filesDropped.connect(self.drop_files)
        self.view.portMenuRequested.connect(self._port_menu)
        self.view.openSubpatchRequested.connect(lambda node_id: self.open_subpatch(self.doc, node_id))
        self.subpatch_windows: dict = {}   # crumbs tuple -> SubpatchWindow
        self.palette.addRequested.connect(self.add_at_centre)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.doc.undo_stack.cleanChanged.connect(self._update_title)
        self.doc.undo_stack.indexChanged.connect(self._stack_changed)
        self.doc.commandApplied.connect(self._graph_changed)
        self.doc.graphReplaced.connect(self._graph_replaced)
        self.live.metersUpdated.connect(self._show_meters)
        self.live.runningChanged.connect(self._running_changed)
        self.live.message.connect(self.status)
        self.resize(1280, 800)
        self._update_title()
        self._running_changed(False)

    def _dock(self, title, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # ---- actions ---------------------------------------------------------------------------

    def _action(self, menu, text, slot, shortcut=None, tip="") -> QAction:
        act = QAction(text, self)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(lambda _checked=False: slot())
        menu.addAction(act)
        return act

    def _build_actions(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self._action(f, "&New", self.new_patch, QKeySequence.New)
        self._action(f, "&Open…", self.open_dialog, QKeySequence.Open)
        self.recent_menu = f.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._action(f, "&Save", self.save, QKeySequence.Save)
        self._action(f, "Save &As…", self.save_as, QKeySequence.SaveAs)
        f.addSeparator()
        self._action(f, "&Model Folders…", self.edit_model_folders,
                     tip="folders searched for models and files a patch names but that moved")
        f.addSeparator()
        self._action(f, "&Quit", self.close, QKeySequence.Quit)

        e = mb.addMenu("&Edit")
        undo = self.doc.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.Undo)
        redo = self.doc.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence.Redo)
        e.addAction(undo)
        e.addAction(redo)
        e.addSeparator()
        self._action(e, "Cu&t", self.cut, QKeySequence.Cut)
        self._action(e, "&Copy", self.copy, QKeySequence.Copy)
        self._action(e, "&Paste", self.paste, QKeySequence.Paste)
        self._action(e, "&Duplicate", self.duplicate, "Ctrl+D")
        self._action(e, "&Delete", self.view.delete_selection)
        self._action(e, "Select &All", self._select_all, QKeySequence.SelectAll)
        e.addSeparator()
        self.group_action = self._action(e, "&Group into subpatch", self.group_selection, "Ctrl+G",
                                         "replace the selected nodes by one subpatch node")
        self.ungroup_action = self._action(e, "&Ungroup", self.ungroup_selection, "Ctrl+Shift+G",
                                           "replace the selected subpatch by its nodes")
        e.addSeparator()
        self._action(e, "Add Node…", lambda: self.quick_add(None), "Ctrl+Shift+A")

        v = mb.addMenu("&View")
        self._action(v, "&Frame All", self.view.frame_all, "F")
        self._action(v, "Zoom &In", lambda: self.view.set_zoom(self.view.zoom() * 1.25), QKeySequence.ZoomIn)
        self._action(v, "Zoom &Out", lambda: self.view.set_zoom(self.view.zoom() / 1.25), QKeySequence.ZoomOut)
        self._action(v, "&Actual Size", lambda: self.view.set_zoom(1.0), "Ctrl+0")
        v.addSeparator()
        v.addAction(self.palette_dock.toggleViewAction())
        v.addAction(self.library_dock.toggleViewAction())
        v.addAction(self.inspector_dock.toggleViewAction())

        a = mb.addMenu("&Audio")
        self.play_action = self._action(a, "&Play", self.toggle_transport, "Space")
        self._action(a, "Audio &Settings…", self.audio_settings)
        self.limiter_action = QAction("Safety &Limiter", self, checkable=True, checked=True)
        self.limiter_action.toggled.connect(self.live.set_limiter)
        a.addAction(self.limiter_action)

        tb = self.addToolBar("Transport")
        tb.setObjectName("transport")
        tb.addAction(self.play_action)

        self.probe_menu = None

    # ---- status and dialogs ---------------------------------------------------------------

    def status(self, text: str, timeout: int = 6000) -> None:
        self.statusBar().showMessage(text, timeout)

    def report_error(self, title: str, text: str) -> None:
        self.status(f"{title}: {text}", 0)
        if self.error_hook is not None:
            self.error_hook(title, text)
        else:
            QMessageBox.critical(self, title, text)

    def confirm(self, title: str, text: str) -> bool:
        if self.confirm_hook is not None:
            return bool(self.confirm_hook(title, text))
        return QMessageBox.question(self, title, text) == QMessageBox.Yes

    # ---- dirty state and title -----------------------------------------------------------

    def is_dirty(self) -> bool:
        return self._force_dirty or not self.doc.undo_stack.isClean()

    def _update_title(self, *_args) -> None:
        name = self.doc.path.name if self.doc.path else "untitled"
        self.setWindowTitle(f"{name}[*] — neuropatch")
        self.setWindowModified(self.is_dirty())

    def _stack_changed(self, *_args) -> None:
        self._update_title()
        if self.is_dirty() and not self.autosave_timer.isActive():
            self.autosave_timer.start()

    def _graph_changed(self, _command) -> None:
        if not self.live.running:
            self.validate_timer.start()

    def _graph_replaced(self) -> None:
        self._update_title()
        self.inspector.show_node(None)
        if not self.live.running:
            self.validate_timer.start()

    # ---- files ---------------------------------------------------------------------------

    def new_patch(self) -> bool:
        if not self.maybe_save():
            return False
        self._force_dirty = False
        self.doc.set_graph(Graph(), None)
        self.problems = []
        self.recovery.clear()
        self._update_title()
        return True

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        start = str(self.doc.base_dir or Path.cwd())
        path, _ = QFileDialog.getOpenFileName(self, "Open patch", start,
                                              "Patches (*.json *.npbundle);;All files (*)")
        if path:
            self.open_path(Path(path), ask_save=False)

    def open_path(self, path, ask_save: bool = True) -> bool:
        path = Path(path)
        if ask_save and not self.maybe_save():
            return False
        if is_bundle(path):
            return self._open_bundle(path)
        return self._open_patch(path, recent=path)

    def _open_patch(self, path: Path, recent: Path) -> bool:
        t0 = time.perf_counter()
        try:
            graph = load_patch(path, self.registry)
        except PatchError as exc:
            self.report_error("Cannot open patch", f"{exc.file or path}\n{exc.path}: {exc.message}")
            return False
        self._force_dirty = False
        self.doc.set_graph(graph, path)
        self.recovery.clear()
        self.problems = [f"node '{nid}': unknown node type {spec.type!r} (kept as a placeholder)"
                         for nid, spec in graph.nodes.items() if spec.raw is not None]
        self.add_recent(recent)
        self.view.frame_all()
        self.status(f"opened {path.name}: {len(graph.nodes)} nodes, {len(graph.edges)} cables "
                    f"in {1000 * (time.perf_counter() - t0):.0f} ms")
        self._update_title()
        return True

    def _open_bundle(self, path: Path) -> bool:
        """Verify the bundle, unpack it into the bundle cache (once), open its patch there.
        The recent-files list keeps the bundle; saving asks where (never into the cache)."""
        from neuropatch.engine.bundle_cache import unpack_cached
        from neuropatch.engine.errors import NeuropatchError

        try:
            patch_file = unpack_cached(path)
        except NeuropatchError as exc:
            self.report_error("Cannot open bundle", str(exc))
            return False
        return self._open_patch(patch_file, recent=path)

    def edit_model_folders(self, dialog_hook=None) -> None:
        """Edit the model folders; a patch's moved resources are looked up again at once."""
        dialog = ModelFoldersDialog(configured_folders(settings()), self)
        if not (dialog_hook(dialog) if dialog_hook is not None else dialog.exec()):
            return
        apply_folders(settings(), dialog.folders())
        self.library.refresh()
        self.inspector.show_node(self.inspector.node_id)
        self.validate()

    def save(self) -> bool:
        if self.doc.path is None or _read_only_origin(self.doc.path):
            return self.save_as()
        return self._write(self.doc.path)

    def save_as(self, path=None) -> bool:
        if path is None:
            start = str(self.doc.path if self.doc.path and not _read_only_origin(self.doc.path)
                        else Path.cwd() / (self.doc.path.name if self.doc.path else "untitled.json"))
            chosen, _ = QFileDialog.getSaveFileName(self, "Save patch", start, "Patches (*.json)")
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

        try:
            if self.doc.base_dir is not None:  # keep resource paths valid from the new folder
                relocate_resources(self.doc.graph, self.doc.base_dir, path.parent,
                                   copy=_read_only_origin(self.doc.path))
            save_patch(self.doc.graph, path)
        except NeuropatchError as exc:
            self.report_error("Cannot save patch", str(exc))
            return False
        except OSError as exc:
            self.report_error("Cannot save patch", f"{path}: {exc.strerror or exc}")
            return False
        self.doc.path = path
        self._force_dirty = False
        self.doc.undo_stack.setClean()
        self.recovery.clear()
        self.autosave_timer.stop()
        self.add_recent(path)
        self._update_title()
        self.status(f"saved {path}")
        return True

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; False when the user cancels."""
        if not self.is_dirty():
            return True
        if self.confirm_hook is not None:
            return bool(self.confirm_hook("Unsaved changes", "Discard unsaved changes?"))
        answer = QMessageBox.question(self, "Unsaved changes", "Save changes to the patch first?",
                                      QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel)
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    def recent_files(self) -> list[str]:
        value = settings().value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [v for v in (value or []) if v]

    def add_recent(self, path: Path) -> None:
        p = str(Path(path).resolve())
        recent = [p] + [r for r in self.recent_files() if r != p]
        settings().setValue("recent", recent[:MAX_RECENT])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.recent_files():
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _c=False, p=p: self.open_path(Path(p)))
        if not self.recent_menu.actions():
            self.recent_menu.addAction("(none)").setEnabled(False)

    # ---- autosave / recovery ----------------------------------------------------------------

    def autosave_now(self) -> None:
        if not self.is_dirty():
            self.recovery.clear()  # back at the saved state: nothing to recover
            return
        try:
            self.recovery.write(self.doc.graph, self.doc.path)
        except OSError as exc:
            self.status(f"autosave failed: {exc.strerror or exc}")

    def offer_recovery(self) -> bool:
        """Offer patches a crashed editor left; returns True when one was restored."""
        entries = self.recovery.orphans()
        if not entries:
            return False
        entry = entries[0]
        box = QMessageBox(QMessageBox.Warning, "Recover unsaved work",
                          f"neuropatch closed unexpectedly. Restore {entry.title}?"
                          + (f"\n({len(entries) - 1} older recovery files are kept.)" if len(entries) > 1 else ""),
                          parent=self)
        restore = box.addButton("Restore", QMessageBox.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.DestructiveRole)
        box.addButton("Later", QMessageBox.RejectRole)
        box.setObjectName("recovery_offer")
        box.exec()
        clicked = box.clickedButton()
        if clicked is discard:
            self.recovery.discard(entry)
            return False
        if clicked is not restore:
            return False
        try:
            graph = graph_from_dict(entry.document, self.registry)
        except PatchError as exc:
            self.report_error("Cannot restore", f"{entry.file}: {exc}")
            return False
        self.doc.set_graph(graph, Path(entry.patch_path) if entry.patch_path else None)
        self._force_dirty = True
        self.autosave_now()  # our own recovery file now holds it
        self.recovery.discard(entry)
        self._update_title()
        self.view.frame_all()
        self.status(f"restored {entry.title}")
        return True

    def closeEvent(self, event):
        if not self.maybe_save():
            event.ignore()
            return
        self.live.shutdown()
        self.recovery.clear()
        self.autosave_timer.stop()
        event.accept()

    # ---- editing helpers ----------------------------------------------------------------------

    def _selection_changed(self) -> None:
        ids = self.scene.selected_node_ids()
        self.inspector.show_node(ids[0] if len(ids) == 1 else None)

    def _select_all(self) -> None:
        for item in self.scene.node_items.values():
            item.setSelected(True)

    def add_at_centre(self, type_id: str) -> str | None:
        c = self.view.mapToScene(self.view.viewport().rect().center())
        node_id = self.doc.add_node(type_id, (round(c.x()), round(c.y())))
        if node_id:
            self.scene.select_nodes([node_id])
        return node_id

    def quick_add(self, scene_pos: QPointF | None) -> QuickAdd:
        if scene_pos is None:
            scene_pos = self.view.mapToScene(self.view.viewport().rect().center())
        self._quick_add = open_quick_add(self, self.registry, self.doc, self.scene, self.view, scene_pos)
        return self._quick_add

    # ---- subpatches ---------------------------------------------------------------------------

    def group_selection(self) -> str | None:
        node_id = self.doc.group(self.scene.selected_node_ids())
        if node_id:
            self.scene.select_nodes([node_id])
        return node_id

    def ungroup_selection(self) -> list:
        ids = self.scene.selected_node_ids()
        if len(ids) != 1:
            self.status("select one subpatch to ungroup")
            return []
        new = self.doc.ungroup(ids[0])
        self.scene.select_nodes(new)
        return new

    def open_subpatch(self, document, node_id: str):
        """Open (or raise) the window editing subpatch `node_id` of `document`; returns it."""
        from .subpatch_view import SubpatchDocument, SubpatchWindow

        sub_doc = SubpatchDocument(document, node_id)
        key = tuple(sub_doc.crumbs()[1:])
        window = self.subpatch_windows.get(key)
        if window is not None:
            sub_doc.deleteLater()
        else:
            window = SubpatchWindow(sub_doc, self.open_subpatch, self)
            window.setWindowFlag(Qt.Window, True)
            self.subpatch_windows[key] = window
            window.destroyed.connect(lambda _obj=None, key=key: self.subpatch_windows.pop(key, None))
            sub_doc.closed.connect(lambda key=key: self.subpatch_windows.pop(key, None))
        window.show()
        window.raise_()
        window.activateWindow()
        return window

    def copy(self) -> bool:
        ids = self.scene.selected_node_ids()
        if not ids:
            return False
        frag = self.doc.fragment(ids)
        g = Graph()
        g.nodes = {s.id: s for s in frag["nodes"]}
        g.edges = frag["edges"]
        text = json.dumps(graph_to_dict(g))
        mime = QMimeData()
        mime.setData(FRAGMENT_MIME, text.encode("utf-8"))
        mime.setText(text)
        QGuiApplication.clipboard().setMimeData(mime)
        return True

    @staticmethod
    def release_clipboard() -> None:
        """Drop node fragments we put on the clipboard. Called before the application object
        goes away: Qt would otherwise delete Python-created mime data during interpreter
        shutdown, which crashes."""
        clipboard = QGuiApplication.clipboard()
        mime = clipboard.mimeData()
        if mime is not None and mime.hasFormat(FRAGMENT_MIME):
            clipboard.clear()

    def cut(self) -> None:
        if self.copy():
            self.view.delete_selection()

    def paste(self) -> list:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not mime.hasFormat(FRAGMENT_MIME):
            return []
        try:
            g = graph_from_dict(json.loads(bytes(mime.data(FRAGMENT_MIME)).decode("utf-8")), self.registry)
        except (PatchError, ValueError) as exc:
            self.status(f"cannot paste: {exc}")
            return []
        ids = self.doc.paste({"nodes": list(g.nodes.values()), "edges": g.edges})
        self.scene.select_nodes(ids)
        return ids

    def duplicate(self) -> list:
        ids = self.scene.selected_node_ids()
        if not ids:
            return []
        new = self.doc.paste(self.doc.fragment(ids))
        self.scene.select_nodes(new)
        return new

    # ---- file drops ---------------------------------------------------------------------------

    def node_type_for_file(self, path: Path) -> tuple[str | None, str]:
        """(type id, reason) of the installed node type that takes `path`."""
        suffix = path.suffix.lower()
        for t in FILE_NODE_HINTS.get(suffix, []):
            if t in self.registry:
                return t, ""
        for cls in self.registry.classes():
            if any(suffix in r.extensions for r in cls.resources):
                return cls.type_id, ""
        what = {".ts": "a RAVE (TorchScript) node", ".nam": "the amp.nam node", ".json": "the amp.nam node",
                ".mid": "a MIDI file player", ".midi": "a MIDI file player"}.get(suffix, "a node for it")
        return None, f"{path.name}: no installed node type takes {suffix} files ({what} is not installed)"

    def drop_files(self, paths, scene_pos: QPointF) -> list:
        """Add a node per dropped file; a patch or bundle opens; one model dropped onto a node
        that takes such files swaps that node's file (one undo step)."""
        added = []
        x, y = round(scene_pos.x()), round(scene_pos.y())
        one = Path(paths[0]) if len(paths) == 1 else None
        if one is not None and not (is_bundle(one) or self._is_patch(one)) and self.swap_file_on_node(one, scene_pos):
            return added
        for path in paths:
            path = Path(path)
            if is_bundle(path) or self._is_patch(path):
                self.open_path(path)
                return added
            node_id = self.add_file_node(path, (x, y))
            if node_id:
                added.append(node_id)
                y += 90
        return added

    def swap_file_on_node(self, path: Path, scene_pos: QPointF) -> bool:
        """Set `path` as the file of the node under `scene_pos` when it takes such files."""
        from .inspector import resource_entry
        from .node_item import NodeItem

        item = None
        for hit in self.scene.items(scene_pos):
            while hit is not None and not isinstance(hit, NodeItem):
                hit = hit.parentItem()
            if hit is not None:
                item = hit
                break
        cls = self.doc.node_class(item.node_id) if item is not None else None
        res = next((r for r in (cls.resources if cls else []) if path.suffix.lower() in r.extensions), None)
        if res is None:
            return False
        try:
            entry = resource_entry(path, self.doc.base_dir)
        except OSError as exc:
            self.report_error("Cannot use file", f"{path}: {exc.strerror or exc}")
            return True
        if path.suffix.lower() == ".ts" and not self._trust(path, entry["sha256"]):
            return True
        self.doc.set_resource(item.node_id, res.name, entry)
        self.scene.select_nodes([item.node_id])
        self.status(f"{item.node_id}: {res.name} is now {path.name}")
        return True

    @staticmethod
    def _is_patch(path: Path) -> bool:
        if path.suffix.lower() != ".json":
            return False
        try:
            with open(path, "rb") as f:
                head = f.read(1 << 20)
            return json.loads(head.decode("utf-8", "replace")).get("format") == "neuropatch"
        except (OSError, ValueError, AttributeError):
            return False

    def add_file_node(self, path: Path, pos) -> str | None:
        type_id, reason = self.node_type_for_file(path)
        if type_id is None:
            self.report_error("Cannot add file", reason)
            return None
        cls = self.registry.resolve(type_id)
        suffix = path.suffix.lower()
        res = next((r for r in cls.resources if suffix in r.extensions), cls.resources[0] if cls.resources else None)
        if res is None:
            self.report_error("Cannot add file", f"{type_id} takes no files")
            return None
        try:
            digest = file_sha256(path)
        except OSError as exc:
            self.report_error("Cannot add file", f"{path}: {exc.strerror or exc}")
            return None
        if suffix == ".ts" and not self._trust(path, digest):
            self.status(f"{path.name} not loaded (not trusted)")
            return None
        from .inspector import resource_entry
        entry = resource_entry(path, self.doc.base_dir)
        node_id = self.doc.add_node(type_id, pos, resources={res.name: entry})
        if node_id:
            self.scene.select_nodes([node_id])
        return node_id

    def _trust(self, path: Path, digest: str) -> bool:
        """Ask before a TorchScript file is used; a yes goes to the per-user trust store that
        ``render --trust`` and ``run --trust`` write too (neuropatch.engine.trust)."""
        from neuropatch.engine.trust import is_trusted, trust

        if is_trusted(path):
            return True
        ok = self.confirm("Trust this model?",
                          f"{path.name} is a TorchScript file: it contains code that runs on this computer.\n"
                          f"sha256 {digest[:16]}…\nOnly load models from sources you trust. Load it?")
        if ok:
            trust(path)
        return ok

    # ---- validation and live -----------------------------------------------------------------

    def validate(self) -> None:
        """Compile the graph off the audio path to mark bypassed nodes and report errors."""
        from neuropatch.engine.trust import UntrustedModelError

        try:
            # check-only: no model loads, no files opened or written (recorders stay intact)
            schedule = compile_graph(self.doc.graph, self.registry, base_dir=self.doc.base_dir,
                                     check_only=True)
        except UntrustedModelError as exc:
            self.scene.set_errors({})
            self.status(f"not trusted: {exc}", 0)
            declined = self.__dict__.setdefault("_declined_models", set())
            if exc.sha256 not in declined:   # ask once per file and session
                if self._trust(exc.path, exc.sha256):
                    self.validate()
                else:
                    declined.add(exc.sha256)
            return
        except CompileError as exc:
            self.scene.set_errors({})
            self.status(f"patch does not compile: {exc}", 0)
            return
        except Exception as exc:  # a node bug must not take the editor down
            self.status(f"patch does not compile: {exc!r}", 0)
            return
        self.scene.set_errors(schedule.errors)
        if schedule.errors:
            nid, msg = next(iter(schedule.errors.items()))
            self.status(f"{len(schedule.errors)} node(s) bypassed; {nid}: {msg}")

    def toggle_transport(self) -> None:
        if self.live.running:
            self.live.stop()
        else:
            self.live.start()

    def audio_settings(self) -> None:
        from .settings_dialog import AudioSettingsDialog

        dlg = AudioSettingsDialog(self.live.settings, self)
        if dlg.exec():
            self.live.configure(dlg.values())

    def _running_changed(self, running: bool) -> None:
        ok, why = self.live.available()
        self.play_action.setEnabled(ok)
        self.play_action.setText("■ Stop" if running else "▶ Play")
        self.play_action.setToolTip(why if not ok else ("stop audio" if running else "start audio"))
        if not running:
            self.load_label.setText("stopped")
            self.xrun_label.setText("")
            self.latency_label.setText("")
            self.scene.set_probe(None)
        else:
            self.scene.set_probe(self.live.probe_text)

    # ---- visualizers ------------------------------------------------------------------------

    def _port_menu(self, port, global_pos) -> None:
        from .visualizers import views_for_kind

        menu = QMenu(self)
        for view in views_for_kind(port.kind):
            act = menu.addAction(f"Show {view} in a dock")
            act.triggered.connect(lambda _c=False, v=view: self.show_visualizer(port.node_id, port.name, v))
        if port.kind in ("audio", "frames", "control"):
            act = menu.addAction("Show scope in the node")
            act.triggered.connect(lambda _c=False: self.show_visualizer(port.node_id, port.name, inline=True))
        if not menu.actions():
            menu.addAction(f"no visualizer for {port.kind} streams").setEnabled(False)
        menu.popup(global_pos)
        self._menu = menu

    def show_visualizer(self, node_id: str, port: str, view: str | None = None, inline: bool = False):
        """Bind a visualizer to node_id.port (fed while audio plays); returns it."""
        from .visualizers import InlineScope, VisualizerDock, views_for_kind

        item = self.scene.node_items.get(node_id)
        if item is None:
            return None
        p = item.port(port, True) or item.port(port, False)
        if p is None:
            return None
        if inline:
            sink = InlineScope(item, port)
        else:
            views = views_for_kind(p.kind)
            view = view or (views[0] if views else "scope")
            sink = VisualizerDock(node_id, port, view, self)
            sink.on_close = self.live.remove_sink
            self.addDockWidget(Qt.BottomDockWidgetArea, sink)
        self.live.add_sink(sink)
        if not self.live.running:
            self.status(f"{node_id}.{port}: the visualizer shows the signal while audio plays")
        return sink

    def _show_meters(self, m: dict) -> None:
        self.load_label.setText(f"load {100 * m.get('load_avg', 0):.0f}% (peak {100 * m.get('load_peak', 0):.0f}%)")
        self.xrun_label.setText(f"xruns {m.get('xruns', 0)}")
        self.latency_label.setText(f"latency {m.get('latency_ms', 0):.1f} ms")
        self.scene.set_errors(m.get("errors", {}) or {})
        problem = m.get("compile_error") or m.get("stream_error")
        if problem:
            self.status(f"engine: {problem}")
