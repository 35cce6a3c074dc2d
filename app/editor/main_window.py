"""The editor window: puts the canvas, palette, library and inspector together, builds the
menus, and hands each job to its own object (files, autosave, clipboard, drops, validation,
transport, subpatch windows). The public methods here are the window's scripting surface."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMessageBox  # noqa: F401

from .autosave import AUTOSAVE_MS, Autosave
from .canvas import PatchScene, PatchView
from .clipboard import ClipboardActions, release_clipboard
from .context_menus import cable_menu, canvas_menu, comment_menu, node_menu, port_menu
from .document import PatchDocument
from .drop_policy import DropPolicy
from .file_actions import FileActions, recent_files, settings
from .help_menu import HelpActions
from .inspector import Inspector
from .live import LiveController
from .model_folders import ModelFoldersDialog, apply_folders, configured_folders
from .model_library import ModelLibrary
from .node_face import install_node_bodies
from .palette import Palette
from .quick_add import QuickAdd, open_quick_add
from .recovery import RecoveryStore
from .start_panel import StartPanel
from .subpatch_windows import SubpatchWindows
from .transport import TransportController
from .validation import Validator
from .visualizer_actions import show_visualizer

__all__ = ["MainWindow", "Path", "QFileDialog", "settings"]


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

        self.files = FileActions(self)
        self.autosave = Autosave(self, autosave_ms)
        self.autosave_timer = self.autosave.timer
        self.clipboard = ClipboardActions(self)
        self.drops = DropPolicy(self)
        self.validator = Validator(self)
        self.validate_timer = self.validator.timer
        self.subpatch_windows = SubpatchWindows(self)
        self.faces, self.views = install_node_bodies(self)   # node faces and view nodes' displays
        self.help = HelpActions(self)
        self.inspector.help_requested = self.help.node_help

        self._build_actions()
        self.transport = TransportController(self, self.play_action)
        self.load_label = self.transport.load_label
        self.xrun_label = self.transport.xrun_label
        self.latency_label = self.transport.latency_label
        apply_folders(settings(), configured_folders(settings()))
        self.doc.message.connect(self.status)
        self.view.status.connect(self.status)
        self.view.quickAddRequested.connect(self.quick_add)
        self.view.filesDropped.connect(self.drop_files)
        self.view.portMenuRequested.connect(self._port_menu)
        self.view.canvasMenuRequested.connect(
            lambda pos, global_pos: self._popup(canvas_menu(self, pos), global_pos))
        self.view.nodeMenuRequested.connect(
            lambda node_id, global_pos: self._popup(node_menu(self, node_id), global_pos))
        self.view.commentMenuRequested.connect(
            lambda comment_id, global_pos: self._popup(comment_menu(self, comment_id), global_pos))
        self.view.cableDroppedOnCanvas.connect(self.quick_add_from_port)
        self.view.cableMenuRequested.connect(self._cable_menu)
        self.view.openSubpatchRequested.connect(lambda node_id: self.open_subpatch(self.doc, node_id))
        self.palette.addRequested.connect(self.add_at_centre)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.doc.undo_stack.cleanChanged.connect(self._update_title)
        self.doc.undo_stack.indexChanged.connect(self._stack_changed)
        self.doc.commandApplied.connect(self._graph_changed)
        self.doc.graphReplaced.connect(self._graph_replaced)
        self.live.message.connect(self.status)
        self.resize(1280, 800)
        self.start_panel = StartPanel(self)
        self._update_title()
        self.transport.running_changed(False)

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
        self.recent_menu.aboutToShow.connect(lambda: self.files.fill_recent_menu(self.recent_menu))
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

        self.help.build(mb)
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
        self.autosave.edited()

    def _graph_changed(self, _command) -> None:
        if not self.live.running:
            self.validate_timer.start()

    def _graph_replaced(self) -> None:
        self._update_title()
        self.inspector.show_node(None)
        if not self.live.running:
            self.validate_timer.start()

    # ---- files (file_actions.FileActions) -----------------------------------------------------

    def new_patch(self) -> bool:
        return self.files.new_patch()

    def open_dialog(self) -> None:
        self.files.open_dialog()

    def open_path(self, path, ask_save: bool = True) -> bool:
        return self.files.open_path(path, ask_save)

    def save(self) -> bool:
        return self.files.save()

    def save_as(self, path=None) -> bool:
        return self.files.save_as(path)

    def maybe_save(self) -> bool:
        return self.files.maybe_save()

    def recent_files(self) -> list[str]:
        return recent_files()

    def edit_model_folders(self, dialog_hook=None) -> None:
        """Edit the model folders; a patch's moved resources are looked up again at once."""
        dialog = ModelFoldersDialog(configured_folders(settings()), self)
        if not (dialog_hook(dialog) if dialog_hook is not None else dialog.exec()):
            return
        apply_folders(settings(), dialog.folders())
        self.library.refresh()
        self.inspector.show_node(self.inspector.node_id)
        self.validate()

    # ---- autosave / recovery (autosave.Autosave) -----------------------------------------------

    def autosave_now(self) -> None:
        self.autosave.save_now()

    def offer_recovery(self) -> bool:
        return self.autosave.offer_recovery()

    def closeEvent(self, event):
        if not self.maybe_save():
            event.ignore()
            return
        self.live.shutdown()
        self.recovery.clear()
        self.autosave_timer.stop()
        if self.remember_layout:
            self.save_layout()
        event.accept()

    # ---- window layout (the application remembers it; windows made by scripts do not) ----------

    remember_layout = False

    def save_layout(self) -> None:
        s = settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())

    def restore_layout(self) -> bool:
        """Window geometry and docks as the user left them; from now on they are remembered."""
        self.remember_layout = True
        s = settings()
        geometry, state = s.value("window/geometry"), s.value("window/state")
        ok = bool(geometry) and self.restoreGeometry(geometry)
        if state:
            ok = self.restoreState(state) and ok
        return ok

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

    def quick_add_from_port(self, port, scene_pos: QPointF) -> QuickAdd:
        """Quick-add listing the node types a cable from `port` fits; the choice is connected."""
        self._quick_add = open_quick_add(self, self.registry, self.doc, self.scene, self.view, scene_pos,
                                         from_port=port)
        return self._quick_add

    def insert_node_on(self, edge) -> QuickAdd | None:
        """Quick-add between the two ends of `edge`: the chosen node (with an input and an
        output of the cable's kind) takes the cable's place, in one undo step."""
        from .quick_add import insert_into_cable

        src_item = self.scene.node_items.get(edge.src)
        dst_item = self.scene.node_items.get(edge.dst)
        if src_item is None or dst_item is None:
            return None
        mid = (src_item.scenePos() + dst_item.scenePos()) / 2
        self._quick_add = insert_into_cable(self, self.registry, self.doc, self.scene, self.view, mid, edge)
        return self._quick_add

    def add_comment(self, scene_pos: QPointF | None = None, text: str = "") -> str | None:
        """A comment box at `scene_pos` (the view's centre by default), its text open for typing."""
        if scene_pos is None:
            scene_pos = self.view.mapToScene(self.view.viewport().rect().center())
        comment_id = self.doc.add_comment((scene_pos.x(), scene_pos.y()), text=text)
        item = self.scene.comment_items.get(comment_id) if comment_id else None
        if item is not None:
            self.scene.clearSelection()
            item.setSelected(True)
            item.begin_edit()
        return comment_id

    def _popup(self, menu, global_pos) -> None:
        menu.popup(global_pos)
        self._menu = menu

    # ---- clipboard (clipboard.ClipboardActions) -------------------------------------------------

    def copy(self) -> bool:
        return self.clipboard.copy()

    def cut(self) -> None:
        self.clipboard.cut()

    def paste(self, at: QPointF | None = None) -> list:
        return self.clipboard.paste(at)

    def duplicate(self, at: QPointF | None = None) -> list:
        return self.clipboard.duplicate(at)

    release_clipboard = staticmethod(release_clipboard)

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
        return self.subpatch_windows.open(document, node_id)

    # ---- file drops (drop_policy.DropPolicy) ----------------------------------------------------

    def node_type_for_file(self, path: Path) -> tuple[str | None, str]:
        return self.drops.node_type_for_file(path)

    def drop_files(self, paths, scene_pos: QPointF) -> list:
        return self.drops.drop_files(paths, scene_pos)

    def add_file_node(self, path: Path, pos) -> str | None:
        return self.drops.add_file_node(path, pos)

    # ---- validation and transport -----------------------------------------------------------------

    def validate(self) -> None:
        self.validator.validate()

    def toggle_transport(self) -> None:
        self.transport.toggle()

    def audio_settings(self) -> None:
        self.transport.audio_settings()

    def _running_changed(self, running: bool) -> None:
        self.transport.running_changed(running)

    # ---- visualizers ------------------------------------------------------------------------

    def _port_menu(self, port, global_pos) -> None:
        menu = port_menu(self, port)
        menu.popup(global_pos)
        self._menu = menu

    def _cable_menu(self, cable, global_pos) -> None:
        menu = cable_menu(self, cable)
        menu.popup(global_pos)
        self._menu = menu

    def show_visualizer(self, node_id: str, port: str, view: str | None = None, inline: bool = False):
        """Bind a visualizer to node_id.port (fed while audio plays); returns it."""
        return show_visualizer(self, node_id, port, view, inline)
