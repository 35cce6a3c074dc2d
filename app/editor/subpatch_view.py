"""Editing inside a subpatch: a document for its inner graph and the window showing it.

:class:`SubpatchDocument` mirrors the inner graph of one ``sys.subpatch`` node of a parent
document. Each edit made inside is tried on a copy of the inner graph, turned into one
command on the parent (``replace_subgraph``: the new state, plus the outer cables that
follow a renamed port or go with a removed one) and executed there, so it lands on the
parent's undo stack as one step, reaches the live engine and is saved with the patch.
Inlets and outlets added inside are the subpatch's ports. Nested subpatches open a
``SubpatchDocument`` of a ``SubpatchDocument``.
"""
from __future__ import annotations

import copy

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow

from neuropatch.engine.errors import GraphError, PatchError
from neuropatch.engine.subpatch import inner_graph, is_subpatch, replace_subgraph, state_from_graph
from neuropatch.engine.subpatch_ports import INLET_TYPE, OUTLET_TYPE

from .canvas import PatchScene, PatchView
from .document import PatchDocument, unique_id
from .inspector import Inspector

CRUMB_SEPARATOR = " › "


class SubpatchDocument(PatchDocument):
    """The inner graph of subpatch `node_id` of `parent_doc`, edited through the parent."""

    closed = Signal()   # the subpatch is gone (deleted, ungrouped, another patch opened)

    def __init__(self, parent_doc: PatchDocument, node_id: str):
        super().__init__(parent_doc.registry, parent_doc)
        self.parent_doc = parent_doc
        self.node_id = node_id
        self.undo_stack = parent_doc.undo_stack     # one history for the whole patch
        self._pending = None                       # the inner command being executed
        spec = parent_doc.graph.nodes[node_id]
        self._state = copy.deepcopy(spec.extra)
        self._replace_graph(inner_graph(self._state, self.registry))
        parent_doc.commandApplied.connect(self._parent_changed)
        parent_doc.graphReplaced.connect(self._parent_replaced)
        if isinstance(parent_doc, SubpatchDocument):
            parent_doc.closed.connect(self.closed)

    @property
    def base_dir(self):
        return self.parent_doc.base_dir

    def crumbs(self) -> list[str]:
        """Names from the patch down to this subpatch (``["patch.json", "sub", "inner"]``)."""
        if isinstance(self.parent_doc, SubpatchDocument):
            return self.parent_doc.crumbs() + [self.node_id]
        root = self.parent_doc.path.name if self.parent_doc.path else "untitled"
        return [root, self.node_id]

    def execute(self, command, text: str, merge_key=None) -> bool:
        trial = self.graph.copy()
        try:
            trial.apply(command)
        except GraphError as exc:
            self.message.emit(str(exc))
            return False
        try:
            outer = replace_subgraph(self.parent_doc.graph, self.node_id, state_from_graph(trial),
                                     self.registry)
        except GraphError as exc:
            self.message.emit(str(exc))
            return False
        self._pending = command
        try:
            return self.parent_doc.execute(outer, f"{text} in {self.node_id}", merge_key)
        finally:
            self._pending = None

    def add_node(self, type_id: str, pos=(0.0, 0.0), params=None, resources=None) -> str | None:
        """Add a node inside; a new inlet or outlet gets the first free port name."""
        if type_id in (INLET_TYPE, OUTLET_TYPE) and "name" not in (params or {}):
            base = "in" if type_id == INLET_TYPE else "out"
            params = {**(params or {}), "name": unique_id(base, self._port_names(type_id))}
        return super().add_node(type_id, pos, params, resources)

    def paste(self, fragment: dict, offset=(30.0, 30.0)) -> list:
        """Paste inside; pasted inlets and outlets whose port name is taken get a free one."""
        taken = {t: self._port_names(t) for t in (INLET_TYPE, OUTLET_TYPE)}
        nodes = []
        for spec in fragment["nodes"]:
            if spec.type in taken and spec.raw is None:
                spec = spec.copy()
                name = unique_id(spec.params.get("name") or "port", taken[spec.type])
                spec.params["name"] = name
                taken[spec.type].add(name)
            nodes.append(spec)
        return super().paste({**fragment, "nodes": nodes}, offset)

    def _port_names(self, type_id: str) -> set:
        return {s.params.get("name") for s in self.graph.nodes.values() if s.type == type_id}

    def _replace_graph(self, graph) -> None:
        self.graph.unsubscribe(self._on_graph_command)
        self.graph = graph
        self.graph.subscribe(self._on_graph_command)

    def _parent_changed(self, *_args) -> None:
        spec = self.parent_doc.graph.nodes.get(self.node_id)
        if spec is None or not is_subpatch(spec):
            self.closed.emit()
            return
        if spec.extra == self._state:
            return
        self._state = copy.deepcopy(spec.extra)
        if self._pending is not None:
            command, self._pending = self._pending, None
            self.graph.apply(command)             # our own edit: the scene follows it step by step
            return
        try:                                      # undo/redo or an outer edit: show the new state
            graph = inner_graph(self._state, self.registry)
        except PatchError as exc:
            self.message.emit(f"subpatch {self.node_id}: {exc}")
            self.closed.emit()
            return
        self._replace_graph(graph)
        self.graphReplaced.emit()

    def _parent_replaced(self) -> None:
        if isinstance(self.parent_doc, SubpatchDocument):
            self._parent_changed()
        else:
            self.closed.emit()                    # another patch was opened


class SubpatchWindow(QMainWindow):
    """A canvas and inspector on a :class:`SubpatchDocument`, with a breadcrumb bar."""

    def __init__(self, document: SubpatchDocument, opener, parent=None):
        super().__init__(parent)
        self.doc = document
        self.scene = PatchScene(document, self)
        self.view = PatchView(self.scene, self)
        self.setCentralWidget(self.view)
        self.inspector = Inspector(document)
        dock = QDockWidget("Inspector", self)
        dock.setObjectName("Inspector")
        dock.setWidget(self.inspector)
        self.addDockWidget(Qt.RightDockWidgetArea, dock)
        self.crumb = QLabel()
        bar = self.addToolBar("Location")
        bar.setObjectName("location")
        bar.addWidget(self.crumb)

        edit = self.menuBar().addMenu("&Edit")
        undo = document.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.Undo)
        redo = document.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence.Redo)
        edit.addAction(undo)
        edit.addAction(redo)
        edit.addSeparator()
        edit.addAction("&Delete", self.view.delete_selection)
        self.group_action = edit.addAction("&Group into subpatch", self.group_selection)
        self.group_action.setShortcut(QKeySequence("Ctrl+G"))
        self.ungroup_action = edit.addAction("&Ungroup", self.ungroup_selection)
        self.ungroup_action.setShortcut(QKeySequence("Ctrl+Shift+G"))

        view_menu = self.menuBar().addMenu("&View")
        frame = view_menu.addAction("&Frame All", self.view.frame_all)
        frame.setShortcut(QKeySequence("F"))
        view_menu.addAction("Zoom &In", lambda: self.view.set_zoom(self.view.zoom() * 1.25)).setShortcut(
            QKeySequence.ZoomIn)
        view_menu.addAction("Zoom &Out", lambda: self.view.set_zoom(self.view.zoom() / 1.25)).setShortcut(
            QKeySequence.ZoomOut)
        view_menu.addAction("&Actual Size", lambda: self.view.set_zoom(1.0)).setShortcut(QKeySequence("Ctrl+0"))
        view_menu.addSeparator()
        view_menu.addAction(dock.toggleViewAction())
        self._framed = False

        self.view.openSubpatchRequested.connect(lambda node_id: opener(document, node_id))
        self.view.status.connect(self.status)
        self.view.quickAddRequested.connect(self.quick_add)
        document.message.connect(self.status)
        document.closed.connect(self.close)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.setAttribute(Qt.WA_DeleteOnClose)
        self.crumb.setText(CRUMB_SEPARATOR.join(document.crumbs()))
        self.setWindowTitle(f"{CRUMB_SEPARATOR.join(document.crumbs())} — neuropatch")
        self.resize(900, 600)

    def showEvent(self, event):
        super().showEvent(event)
        if not self._framed:          # open on the subpatch's nodes, not on empty space
            self._framed = True
            self.view.frame_readable()

    def closeEvent(self, event):
        self.doc.deleteLater()        # stop following the parent once the window is gone
        super().closeEvent(event)

    def status(self, text: str) -> None:
        self.statusBar().showMessage(text, 6000)

    def quick_add(self, scene_pos):
        """Tab on the canvas: pick a node type and add it inside the subpatch at `scene_pos`."""
        from .quick_add import open_quick_add

        self._quick_add = open_quick_add(self, self.doc.registry, self.doc, self.scene, self.view, scene_pos)
        return self._quick_add

    def group_selection(self) -> str | None:
        return self.doc.group(self.scene.selected_node_ids())

    def ungroup_selection(self) -> list:
        ids = self.scene.selected_node_ids()
        return self.doc.ungroup(ids[0]) if len(ids) == 1 else []

    def _selection_changed(self) -> None:
        ids = self.scene.selected_node_ids()
        self.inspector.show_node(ids[0] if len(ids) == 1 else None)
