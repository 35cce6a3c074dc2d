"""The patch canvas: a scene mirroring the document's graph and the view users edit it in.

The scene never edits the graph itself; user gestures become document commands, and the
scene follows ``commandApplied`` (model apart from scene, as in Orange canvas).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsScene, QGraphicsView

from neuropatch.engine import (AddComment, AddNode, Batch, ClearParam, Connect, Disconnect, Edge, EditComment,
                               MoveNode, Node, RemoveComment, RemoveNode, SetBypass, SetNodeUi, SetParam,
                               SetResource)

from .cable_item import CableItem, cable_path
from .comment_item import CommentItem
from neuropatch.engine.patch import node_ports
from neuropatch.engine.subpatch import SEPARATOR, SetSubgraph
from neuropatch.engine.subpatch_ports import PORT_NODE_TYPES

from .node_item import NodeItem, PortItem, kind_colour

NODE_MIME = "application/x-neuropatch-node"
MIN_ZOOM, MAX_ZOOM = 0.15, 3.0
#: the smallest zoom at which node titles stay legible (9 pt titles: about 8 px high)
READABLE_ZOOM = 0.7
SCENE_EXTENT = 200_000.0


class PatchScene(QGraphicsScene):
    """Node and cable items for every node and edge of ``document.graph``."""

    nodeItemAdded = Signal(object)   # a NodeItem just created (faces and displays attach here)

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.node_items: dict[str, NodeItem] = {}
        self.cable_items: dict[Edge, CableItem] = {}
        self.comment_items: dict[str, CommentItem] = {}
        self.errors: dict[str, str] = {}
        self.probe = None
        self.setSceneRect(QRectF(-SCENE_EXTENT, -SCENE_EXTENT, 2 * SCENE_EXTENT, 2 * SCENE_EXTENT))
        self.setBackgroundBrush(QColor("#1e1f22"))
        self.setItemIndexMethod(QGraphicsScene.NoIndex)
        document.commandApplied.connect(self.on_command)
        document.graphReplaced.connect(self.rebuild)
        self.rebuild()

    # ---- sync ----------------------------------------------------------------------------

    def rebuild(self) -> None:
        self.clear()
        self.node_items.clear()
        self.cable_items.clear()
        self.comment_items.clear()
        graph = self.document.graph
        for node_id in graph.nodes:
            self._add_node_item(node_id)
        for edge in graph.edges:
            self._add_cable(edge)
        for comment in graph.comments:
            self._add_comment_item(comment["id"])

    def on_command(self, command) -> None:
        if isinstance(command, Batch):
            for c in command.commands:
                self.on_command(c)
        elif isinstance(command, AddNode):
            self._add_node_item(command.node.id)
        elif isinstance(command, RemoveNode):
            self._remove_node_item(command.node_id)
        elif isinstance(command, Connect):
            self._add_cable(command.edge)
        elif isinstance(command, Disconnect):
            self._remove_cable(command.edge)
        elif isinstance(command, MoveNode):
            item = self.node_items.get(command.node_id)
            spec = self.document.graph.nodes.get(command.node_id)
            if item is not None and spec is not None:
                x, y = spec.ui.get("pos", (0.0, 0.0))
                if item.pos() != QPointF(x, y):
                    item.setPos(x, y)
        elif isinstance(command, SetBypass):
            item = self.node_items.get(command.node_id)
            spec = self.document.graph.nodes.get(command.node_id)
            if item is not None and spec is not None:
                item.set_bypassed(spec.bypass)
        elif isinstance(command, SetNodeUi):
            item = self.node_items.get(command.node_id)
            if item is not None:
                item.set_label(self.document.title(command.node_id))
        elif isinstance(command, AddComment):
            self._add_comment_item(command.comment["id"])
        elif isinstance(command, RemoveComment):
            item = self.comment_items.pop(command.comment_id, None)
            if item is not None:
                self.removeItem(item)
        elif isinstance(command, EditComment):
            item = self.comment_items.get(command.comment_id)
            if item is not None:
                item.sync()
        elif isinstance(command, SetSubgraph):
            self._refresh_node_item(command.node_id)
        elif isinstance(command, (SetParam, ClearParam)) and self._ports_follow_params(command.node_id):
            self._refresh_node_item(command.node_id)     # an inlet's name or kind: new port, new caption
        elif isinstance(command, (SetParam, ClearParam, SetResource)):
            item = self.node_items.get(command.node_id)
            if item is not None:
                item.update()

    def _ports_follow_params(self, node_id: str) -> bool:
        spec = self.document.graph.nodes.get(node_id)
        cls = self.document.node_class(node_id)
        return spec is not None and cls is not None and (
            spec.type in PORT_NODE_TYPES or cls.input_ports is not Node.input_ports
            or cls.output_ports is not Node.output_ports)

    def _add_node_item(self, node_id: str) -> NodeItem | None:
        if node_id in self.node_items:
            return self.node_items[node_id]
        graph = self.document.graph
        spec = graph.nodes.get(node_id)
        if spec is None:
            return None
        cls = self.document.node_class(node_id)
        if cls is None:
            ins = sorted({e.dst_port for e in graph.edges if e.dst == node_id})
            outs = sorted({e.src_port for e in graph.edges if e.src == node_id})
            reason = (f"unknown node type {spec.type!r}" if spec.raw is not None or spec.type not in self.document.registry
                      else "cannot be loaded")
            item = NodeItem(node_id, spec.type, spec.type, [(p, "any") for p in ins],
                            [(p, "any") for p in outs], placeholder_reason=reason)
        else:
            ins, outs = node_ports(spec, self.document.registry)
            caption = spec.params.get("name") if spec.type in PORT_NODE_TYPES else None
            item = NodeItem(node_id, spec.type, cls.title or cls.type_id,
                            [(p.name, p.kind) for p in ins], [(p.name, p.kind) for p in outs],
                            caption=caption)
        x, y = spec.ui.get("pos", (0.0, 0.0))
        item.setPos(float(x), float(y))
        item.set_label(self.document.title(node_id))
        item.set_bypassed(spec.bypass)
        if node_id in self.errors:
            item.set_error(self.errors[node_id])
        self.addItem(item)
        self.node_items[node_id] = item
        self.nodeItemAdded.emit(item)
        return item

    def _add_comment_item(self, comment_id: str) -> CommentItem | None:
        if comment_id in self.comment_items or self.document.graph.comment(comment_id) is None:
            return self.comment_items.get(comment_id)
        item = CommentItem(self.document, comment_id)
        self.addItem(item)
        self.comment_items[comment_id] = item
        return item

    def _refresh_node_item(self, node_id: str) -> None:
        """Redraw a node whose ports may have changed (a subpatch's), keeping its selection."""
        old = self.node_items.get(node_id)
        selected = old is not None and old.isSelected()
        self._remove_node_item(node_id)
        item = self._add_node_item(node_id)
        for edge in self.document.graph.edges:
            if node_id in (edge.src, edge.dst):
                self._add_cable(edge)
        if item is not None and selected:
            item.setSelected(True)

    def _remove_node_item(self, node_id: str) -> None:
        item = self.node_items.pop(node_id, None)
        for edge in [e for e in self.cable_items if node_id in (e.src, e.dst)]:
            self._remove_cable(edge)
        if item is not None:
            self.removeItem(item)

    def _add_cable(self, edge: Edge) -> None:
        if edge in self.cable_items:
            return
        a, b = self.node_items.get(edge.src), self.node_items.get(edge.dst)
        if a is None or b is None:
            return
        sp = a.port(edge.src_port, True, create=a.placeholder_reason is not None)
        dp = b.port(edge.dst_port, False, create=b.placeholder_reason is not None)
        if sp is None or dp is None:
            return
        kind = sp.kind if sp.kind != "any" else dp.kind
        cable = CableItem(edge, sp, dp, kind)
        cable.probe = self.probe
        self.addItem(cable)
        self.cable_items[edge] = cable

    def _remove_cable(self, edge: Edge) -> None:
        cable = self.cable_items.pop(edge, None)
        if cable is not None:
            cable.detach()
            self.removeItem(cable)

    def set_probe(self, probe) -> None:
        self.probe = probe
        for cable in self.cable_items.values():
            cable.probe = probe

    def set_errors(self, errors: dict) -> None:
        """Mark bypassed nodes (id -> reason); clears the marks of the others."""
        self.errors = dict(errors)
        for flat_id, message in errors.items():   # a node inside a subpatch marks the subpatch
            outer, sep, inner = flat_id.partition(SEPARATOR)
            if sep and outer in self.node_items:
                self.errors.setdefault(outer, f"{inner}: {message}")
        for node_id, item in self.node_items.items():
            item.set_error(self.errors.get(node_id))

    def mismatches(self) -> list[str]:
        """Differences between the items and the graph (empty when they agree)."""
        graph = self.document.graph
        out = []
        if set(self.node_items) != set(graph.nodes):
            out.append(f"nodes differ: scene-only {set(self.node_items) - set(graph.nodes)}, "
                       f"graph-only {set(graph.nodes) - set(self.node_items)}")
        if set(self.cable_items) != set(graph.edges):
            out.append(f"edges differ: scene-only {set(self.cable_items) - set(graph.edges)}, "
                       f"graph-only {set(graph.edges) - set(self.cable_items)}")
        for node_id, item in self.node_items.items():
            spec = graph.nodes.get(node_id)
            if spec is not None:
                x, y = spec.ui.get("pos", (0.0, 0.0))
                if (item.pos().x(), item.pos().y()) != (float(x), float(y)):
                    out.append(f"{node_id}: item at {item.pos().toTuple()}, graph at {(x, y)}")
        items = {i for i in self.items() if isinstance(i, (NodeItem, CableItem))}
        known = set(self.node_items.values()) | set(self.cable_items.values())
        if items != known:
            out.append(f"{len(items - known)} stray items in the scene")
        for edge, cable in self.cable_items.items():
            if cable.src_port.node_id != edge.src or cable.dst_port.node_id != edge.dst:
                out.append(f"cable {edge} attached to the wrong ports")
        return out

    # ---- selection -------------------------------------------------------------------------

    def selected_node_ids(self) -> list[str]:
        return [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]

    def selected_edges(self) -> list[Edge]:
        return [i.edge for i in self.selectedItems() if isinstance(i, CableItem)]

    def selected_comment_ids(self) -> list[str]:
        return [i.comment_id for i in self.selectedItems() if isinstance(i, CommentItem)]

    def select_nodes(self, node_ids) -> None:
        self.clearSelection()
        for n in node_ids:
            item = self.node_items.get(n)
            if item is not None:
                item.setSelected(True)


class PatchView(QGraphicsView):
    """Zoom/pan, rubber band, cable dragging and drops (palette entries, files)."""

    status = Signal(str)
    quickAddRequested = Signal(QPointF)          # scene position
    filesDropped = Signal(list, QPointF)         # [Path], scene position
    portMenuRequested = Signal(object, object)   # PortItem, global QPoint
    cableMenuRequested = Signal(object, object)  # CableItem, global QPoint
    openSubpatchRequested = Signal(str)          # node id of a double-clicked subpatch
    cableDroppedOnCanvas = Signal(object, QPointF)   # PortItem the cable starts at, scene position
    canvasMenuRequested = Signal(QPointF, object)    # scene position, global QPoint
    nodeMenuRequested = Signal(str, object)          # node id, global QPoint
    commentMenuRequested = Signal(str, object)       # comment id, global QPoint

    def __init__(self, scene: PatchScene, parent=None):
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.StrongFocus)
        self._drag_port: PortItem | None = None
        self._drag_line: QGraphicsPathItem | None = None
        self._hover_port: PortItem | None = None
        self._pan_from = None
        self._press_positions: dict = {}
        self._detached = None          # the edge whose input end is being dragged off
        self.last_mouse_scene: QPointF | None = None   # where the mouse was last over the canvas
        self.title_editor = None       # the open in-place rename, if any
        self.setMouseTracking(True)

    @property
    def patch_scene(self) -> PatchScene:
        return self.scene()

    @property
    def document(self):
        return self.patch_scene.document

    # ---- zoom / pan -----------------------------------------------------------------------

    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float, anchor=None) -> None:
        factor = min(max(factor, MIN_ZOOM), MAX_ZOOM)
        s = factor / self.zoom()
        if abs(s - 1.0) > 1e-9:
            self.scale(s, s)

    def wheelEvent(self, event):
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.set_zoom(self.zoom() * (1.15 ** steps))
        event.accept()

    def frame_all(self) -> None:
        items = list(self.patch_scene.node_items.values())
        if not items:
            self.resetTransform()
            self.centerOn(0, 0)
            return
        rect = QRectF()
        for item in items:
            rect = rect.united(item.sceneBoundingRect())
        rect.adjust(-60, -60, 60, 60)
        self.fitInView(rect, Qt.KeepAspectRatio)
        if self.zoom() > 1.0:
            self.set_zoom(1.0)
        elif self.zoom() < MIN_ZOOM:
            self.set_zoom(MIN_ZOOM)
        self.centerOn(rect.center())

    def frame_readable(self) -> None:
        """Frame the patch for reading: all of it when it fits at a legible zoom, otherwise
        its start (top left) at READABLE_ZOOM, the rest a scroll away."""
        self.frame_all()
        items = list(self.patch_scene.node_items.values())
        if not items or self.zoom() >= READABLE_ZOOM:
            return
        rect = QRectF()
        for item in items:
            rect = rect.united(item.sceneBoundingRect())
        self.set_zoom(READABLE_ZOOM)
        view = self.mapToScene(self.viewport().rect()).boundingRect()
        self.centerOn(rect.left() - 40 + view.width() / 2, rect.top() - 40 + view.height() / 2)

    # ---- ports under the cursor --------------------------------------------------------------

    def port_at(self, view_pos) -> PortItem | None:
        for item in self.items(view_pos):
            if isinstance(item, PortItem):
                return item
        return None

    def _endpoints(self, a: PortItem, b: PortItem):
        """(src_port, dst_port) for a drag from a to b, or a reason string."""
        if a.output == b.output:
            return "both ports are " + ("outputs" if a.output else "inputs") + ": drag from an output to an input"
        return (a, b) if a.output else (b, a)

    def problem(self, a: PortItem, b: PortItem) -> str | None:
        ends = self._endpoints(a, b)
        if isinstance(ends, str):
            return ends
        s, d = ends
        return self.document.connection_problem(s.node_id, s.name, d.node_id, d.name)

    # ---- mouse ---------------------------------------------------------------------------------

    def mousePressEvent(self, event):
        if event.button() == Qt.MiddleButton:
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        if event.button() == Qt.LeftButton:
            port = self.port_at(event.position().toPoint())
            if port is not None:
                edge = self._edge_into(port)
                if edge is not None:     # drag the cable's end off this input
                    src_item = self.patch_scene.node_items.get(edge.src)
                    src = src_item.port(edge.src_port, True) if src_item is not None else None
                    if src is not None:
                        self._detached = edge
                        port = src
                self._start_cable(port)
                event.accept()
                return
            if event.modifiers() & Qt.ShiftModifier:
                node = self._node_at(event.position().toPoint())
                if node is not None:     # Shift+click adds to (or takes from) the selection
                    node.setSelected(not node.isSelected())
                    event.accept()
                    return
        super().mousePressEvent(event)
        self._press_positions = {i.node_id: i.pos() for i in self.patch_scene.selectedItems()
                                 if isinstance(i, NodeItem)}

    def mouse_over_canvas(self) -> QPointF | None:
        """Scene position of the mouse while it is over the canvas (None once it left)."""
        return self.last_mouse_scene

    def leaveEvent(self, event):
        self.last_mouse_scene = None
        super().leaveEvent(event)

    def _node_at(self, view_pos) -> NodeItem | None:
        for item in self.items(view_pos):
            while item is not None and not isinstance(item, NodeItem):
                item = item.parentItem()
            if item is not None:
                return item
        return None

    def _edge_into(self, port: PortItem) -> Edge | None:
        """The cable plugged into input `port`, if any (an input takes one cable)."""
        if port.output:
            return None
        return next((e for e in self.document.graph.edges
                     if e.dst == port.node_id and e.dst_port == port.name), None)

    def mouseMoveEvent(self, event):
        self.last_mouse_scene = self.mapToScene(event.position().toPoint())
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            event.accept()
            return
        if self._drag_port is not None:
            self._update_cable(event.position().toPoint())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):
        if self._pan_from is not None and event.button() == Qt.MiddleButton:
            self._pan_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        if self._drag_port is not None:
            self._finish_cable(event.position().toPoint())
            event.accept()
            return
        super().mouseReleaseEvent(event)
        moves, comment_moves = {}, {}
        for item in self.patch_scene.selectedItems():
            if isinstance(item, NodeItem):
                spec = self.document.graph.nodes.get(item.node_id)
                if spec is None:
                    continue
                x, y = spec.ui.get("pos", (0.0, 0.0))
                if (item.pos().x(), item.pos().y()) != (float(x), float(y)):
                    moves[item.node_id] = (item.pos().x(), item.pos().y())
            elif isinstance(item, CommentItem) and item.data is not None:
                if [item.pos().x(), item.pos().y()] != item.data["pos"]:
                    comment_moves[item.comment_id] = (round(item.pos().x()), round(item.pos().y()))
        if moves or comment_moves:
            self.document.move(moves, comment_moves)

    def _start_cable(self, port: PortItem) -> None:
        self._drag_port = port
        self._drag_line = QGraphicsPathItem()
        self._drag_line.setPen(QPen(kind_colour(port.kind), 2, Qt.DashLine))
        self._drag_line.setZValue(5)
        self.patch_scene.addItem(self._drag_line)
        for item in self.patch_scene.node_items.values():
            for other in item.ports():
                other.set_dimmed(other is not port and self.problem(port, other) is not None)
        self.status.emit(f"connecting {port.node_id}.{port.name} ({port.kind})")

    def _update_cable(self, view_pos) -> None:
        a = self._drag_port.scenePos()
        b = self.mapToScene(view_pos)
        target = self.port_at(view_pos)
        if self._hover_port is not None and self._hover_port is not target:
            self._hover_port.set_highlight(False)
        self._hover_port = target
        if target is not None and target is not self._drag_port:
            target.set_highlight(True)
            b = target.scenePos()
            problem = self.problem(self._drag_port, target)
            if problem:
                self.status.emit(problem)
        path = cable_path(a, b) if self._drag_port.output else cable_path(b, a)
        self._drag_line.setPath(path)

    def _finish_cable(self, view_pos) -> None:
        start = self._drag_port
        target = self.port_at(view_pos)
        detached, self._detached = self._detached, None
        self._drag_port = None
        if self._drag_line is not None:
            self.patch_scene.removeItem(self._drag_line)
            self._drag_line = None
        if self._hover_port is not None:
            self._hover_port.set_highlight(False)
            self._hover_port = None
        for item in self.patch_scene.node_items.values():
            for p in item.ports():
                p.set_dimmed(False)
        if detached is not None:
            self._move_cable_end(detached, start, target, view_pos)
            return
        if target is None and self._node_at(view_pos) is None:
            self.cableDroppedOnCanvas.emit(start, self.mapToScene(view_pos))
            return
        if target is None or target is start:
            self.status.emit("")
            return
        self.connect_ports(start, target, at=view_pos)

    def refuse(self, text: str, view_pos) -> None:
        """A refused gesture: `text` in the status bar and as a tooltip where it ended."""
        from .notices import notice_at

        notice_at(self, view_pos, text, self.status.emit)

    def _move_cable_end(self, edge: Edge, src: PortItem, target: PortItem | None, view_pos=None) -> None:
        """A cable's input end was dragged from its input: onto another input it moves there
        (one undo step); dropped anywhere else the cable is removed."""
        if target is not None and not target.output and (target.node_id, target.name) == (edge.dst, edge.dst_port):
            self.status.emit("")
            return
        if target is None or target.output:
            self.document.remove((), [edge])
            self.status.emit(f"disconnected {edge.src}.{edge.src_port} -> {edge.dst}.{edge.dst_port}")
            return
        problem = self.problem(src, target)
        if problem:                      # the cable stays where it was
            if view_pos is None:
                self.status.emit(problem)
            else:
                self.refuse(problem, view_pos)
            return
        moved = Edge(src.node_id, src.name, target.node_id, target.name)
        if self.document.execute(Batch([Disconnect(edge), Connect(moved)]),
                                 f"Move cable to {target.node_id}.{target.name}"):
            self.status.emit(f"connected {moved.src}.{moved.src_port} -> {moved.dst}.{moved.dst_port}")

    def connect_ports(self, a: PortItem, b: PortItem, at=None) -> bool:
        """Cable ports `a` and `b`; a refusal is shown at view point `at` too, when given."""
        problem = self.problem(a, b)
        if problem:
            if at is None:
                self.status.emit(problem)
            else:
                self.refuse(problem, at)
            return False
        s, d = self._endpoints(a, b)
        ok = self.document.connect_ports(s.node_id, s.name, d.node_id, d.name)
        if ok:
            self.status.emit(f"connected {s.node_id}.{s.name} -> {d.node_id}.{d.name}")
        return ok

    def mouseDoubleClickEvent(self, event):
        if event.button() == Qt.LeftButton:
            for item in self.items(event.position().toPoint()):
                if isinstance(item, PortItem):
                    break
                if isinstance(item, NodeItem):
                    if item.is_subpatch:
                        self.openSubpatchRequested.emit(item.node_id)
                        event.accept()
                        return
                    if item.title_rect().contains(item.mapFromScene(self.mapToScene(event.position().toPoint()))):
                        self.rename_node(item.node_id)
                        event.accept()
                        return
                    break
                if item.parentItem() is not None and not isinstance(item, CommentItem):
                    break      # a control on a node (its bypass switch, a face slider)
        super().mouseDoubleClickEvent(event)

    def rename_node(self, node_id: str):
        """Edit node `node_id`'s display title in place, over its header; returns the editor."""
        from .rename import TitleEditor

        item = self.patch_scene.node_items.get(node_id)
        if item is None:
            return None
        self.title_editor = TitleEditor(self, node_id)
        return self.title_editor

    def contextMenuEvent(self, event):
        port = self.port_at(event.pos())
        if port is not None:
            self.portMenuRequested.emit(port, event.globalPos())
            event.accept()
            return
        cable = next((i for i in self.items(event.pos()) if isinstance(i, CableItem)), None)
        if cable is not None:
            self.cableMenuRequested.emit(cable, event.globalPos())
            event.accept()
            return
        node = self._node_at(event.pos())
        comment = next((i for i in self.items(event.pos()) if isinstance(i, CommentItem)), None)
        if node is not None:
            if not node.isSelected():
                self.patch_scene.select_nodes([node.node_id])
            self.nodeMenuRequested.emit(node.node_id, event.globalPos())
        elif comment is not None:
            self.commentMenuRequested.emit(comment.comment_id, event.globalPos())
        else:
            self.canvasMenuRequested.emit(self.mapToScene(event.pos()), event.globalPos())
        event.accept()

    # ---- keys ---------------------------------------------------------------------------------

    def keyPressEvent(self, event):
        focus = self.patch_scene.focusItem()
        flags = getattr(focus, "textInteractionFlags", None)
        if flags is not None and flags() & Qt.TextEditorInteraction:
            super().keyPressEvent(event)     # typing into a comment: keys are text
            return
        if event.key() == Qt.Key_Tab:
            pos = self.mapFromGlobal(self.cursor().pos())
            if not self.viewport().rect().contains(pos):
                pos = self.viewport().rect().center()
            self.quickAddRequested.emit(self.mapToScene(pos))
            event.accept()
            return
        if event.key() in (Qt.Key_Delete, Qt.Key_Backspace):
            self.delete_selection()
            event.accept()
            return
        super().keyPressEvent(event)

    def focusNextPrevChild(self, next):
        return False  # Tab opens quick-add instead of moving focus

    def delete_selection(self) -> bool:
        sc = self.patch_scene
        return self.document.remove(sc.selected_node_ids(), sc.selected_edges(), sc.selected_comment_ids())

    # ---- drops ----------------------------------------------------------------------------------

    def _accepts(self, mime) -> bool:
        return mime.hasFormat(NODE_MIME) or mime.hasUrls()

    def dragEnterEvent(self, event):
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event):
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event):
        mime = event.mimeData()
        scene_pos = self.mapToScene(event.position().toPoint())
        if mime.hasFormat(NODE_MIME):
            type_id = bytes(mime.data(NODE_MIME)).decode("utf-8")
            node_id = self.document.add_node(type_id, (round(scene_pos.x()), round(scene_pos.y())))
            if node_id:
                self.patch_scene.select_nodes([node_id])
            event.acceptProposedAction()
            return
        if mime.hasUrls():
            paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
            if paths:
                self.filesDropped.emit(paths, scene_pos)
                event.acceptProposedAction()
                return
        event.ignore()
