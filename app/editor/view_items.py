"""View nodes on the canvas: their display drawn inside the node (resizable by the corner
grip), popped out into a window by a double-click, fed from the node's input tap while
audio plays and emptied when it stops.

The audio side does nothing for a view node beyond the tap of its ``in`` port: the live
controller's frame timer reads the tap (:class:`ViewSink`) at screen rate.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QWidget

from neuropatch.engine import Batch, SetParam

from .views import make_display

GRIP = 11.0


class ViewSink:
    """What the live controller feeds: the tap of a view node's input."""

    def __init__(self, node_id: str, display, on_fed):
        self.node_id, self.port = node_id, "in"
        self.display = display
        self.on_fed = on_fed

    def feed(self, data) -> None:
        self.display.feed(data)
        self.on_fed()


class ViewItem(QGraphicsObject):
    """A node's display, drawn in the node's body. Drag the corner grip to resize (one undo
    step setting the node's ``width`` and ``height``); double-click to pop it out."""

    def __init__(self, binder, node_id: str, display):
        super().__init__()
        self.binder = binder
        self.node_id = node_id
        self.display = display
        self._size = (float(display.params.get("width", 320)), float(display.params.get("height", 180)))
        self._resize_from = None
        self.setAcceptHoverEvents(True)
        self.setCacheMode(QGraphicsItem.NoCache)

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, *self._size)

    def set_size(self, width: float, height: float) -> None:
        if (width, height) != self._size:
            self.prepareGeometryChange()
            self._size = (float(width), float(height))
            parent = self.parentItem()
            if parent is not None:
                parent.body_resized()

    def paint(self, painter, option, widget=None):
        rect = self.boundingRect()
        self.display.paint(painter, rect)
        painter.setPen(QPen(QColor("#707480"), 1))
        for k in (3.0, 7.0):   # the resize grip
            painter.drawLine(QPointF(rect.right() - k, rect.bottom() - 1), QPointF(rect.right() - 1, rect.bottom() - k))

    def _in_grip(self, pos) -> bool:
        r = self.boundingRect()
        return pos.x() >= r.right() - GRIP and pos.y() >= r.bottom() - GRIP

    def hoverMoveEvent(self, event):
        self.setCursor(Qt.SizeFDiagCursor if self._in_grip(event.pos()) else Qt.ArrowCursor)

    def mousePressEvent(self, event):
        if event.button() == Qt.LeftButton and self._in_grip(event.pos()):
            self._resize_from = (event.scenePos(), self._size)
            event.accept()
            return
        event.ignore()       # the node moves and selects as usual

    def mouseMoveEvent(self, event):
        if self._resize_from is None:
            return super().mouseMoveEvent(event)
        start, (w, h) = self._resize_from
        d = event.scenePos() - start
        width, height = self.binder.clamped_size(self.node_id, w + d.x(), h + d.y())
        self.set_size(width, height)

    def mouseReleaseEvent(self, event):
        if self._resize_from is None:
            return super().mouseReleaseEvent(event)
        self._resize_from = None
        self.binder.commit_size(self.node_id, *self._size)

    def mouseDoubleClickEvent(self, event):
        self.binder.pop_out(self.node_id)
        event.accept()


class DisplayWindow(QWidget):
    """A view node's display in a window of its own (shares the display the node draws)."""

    def __init__(self, node_id: str, display, parent=None):
        super().__init__(parent)
        self.setWindowFlag(Qt.Window, True)
        self.setWindowTitle(f"{node_id} — {display.name.replace('_', ' ')}")
        self.display = display
        self.resize(max(int(display.params.get("width", 320)) * 2, 480),
                    max(int(display.params.get("height", 180)) * 2, 320))

    def paintEvent(self, event):
        painter = QPainter(self)
        self.display.paint(painter, QRectF(self.rect()))
        painter.end()


class ViewBinder(QObject):
    """Gives every view node on a scene its display, keeps it in step with the node's params,
    feeds it through the live controller and empties it when audio stops."""

    def __init__(self, scene, live, parent=None):
        super().__init__(parent)
        self.scene = scene
        self.document = scene.document
        self.live = live
        self.items: dict = {}      # node id -> ViewItem
        self.sinks: dict = {}      # node id -> ViewSink
        self.windows: dict = {}    # node id -> DisplayWindow
        scene.nodeItemAdded.connect(self.attach)
        self.document.commandApplied.connect(self._on_command)
        self.document.graphReplaced.connect(self._graph_replaced)
        live.runningChanged.connect(self._running_changed)
        for item in list(scene.node_items.values()):
            self.attach(item)

    def display_kind(self, node_id: str) -> str:
        cls = self.document.node_class(node_id)
        return getattr(cls, "display", "") if cls is not None else ""

    def attach(self, node_item) -> None:
        """Put a display into `node_item` when its node is a view node."""
        node_id = node_item.node_id
        kind = self.display_kind(node_id)
        if not kind:
            return
        params = self._params(node_id)
        display = make_display(kind, params, int(self.live.settings.get("sample_rate", 48000)))
        if display is None:
            return
        self._detach(node_id)
        item = ViewItem(self, node_id, display)
        node_item.set_body(item)
        self.items[node_id] = item
        sink = ViewSink(node_id, display, lambda nid=node_id: self._repaint(nid))
        self.sinks[node_id] = sink
        self.live.add_sink(sink)
        item.destroyed.connect(lambda _o=None, nid=node_id, s=sink: self._forget(nid, s))

    def _params(self, node_id: str) -> dict:
        cls = self.document.node_class(node_id)
        values = {p.name: p.default for p in cls.params}
        values.update(self.document.graph.nodes[node_id].params)
        return values

    def _forget(self, node_id: str, sink) -> None:
        self.live.remove_sink(sink)
        if self.sinks.get(node_id) is sink:
            self.sinks.pop(node_id, None)
            self.items.pop(node_id, None)

    def _detach(self, node_id: str) -> None:
        sink = self.sinks.pop(node_id, None)
        if sink is not None:
            self.live.remove_sink(sink)
        self.items.pop(node_id, None)

    def _graph_replaced(self) -> None:
        """A new patch: the scene attached displays to its view nodes; drop the old ones."""
        current = {nid for nid, item in self.scene.node_items.items() if nid in self.items
                   and item.body is self.items[nid]}
        for node_id in list(self.sinks):
            if node_id not in current:
                self._detach(node_id)
        for node_id in list(self.windows):
            if node_id not in current:
                self.windows.pop(node_id).close()

    def _repaint(self, node_id: str) -> None:
        item = self.items.get(node_id)
        if item is not None:
            item.update()
        window = self.windows.get(node_id)
        if window is not None:
            window.update()

    # ---- params -----------------------------------------------------------------------------

    def _on_command(self, command) -> None:
        commands = command.commands if isinstance(command, Batch) else [command]
        for c in commands:
            node_id = getattr(c, "node_id", None)
            if node_id in self.items and node_id in self.document.graph.nodes:
                params = self._params(node_id)
                item = self.items[node_id]
                item.display.configure(params)
                item.set_size(float(params["width"]), float(params["height"]))
                self._repaint(node_id)
            elif node_id is not None and node_id not in self.document.graph.nodes:
                self._detach(node_id)
                window = self.windows.pop(node_id, None)
                if window is not None:
                    window.close()

    def clamped_size(self, node_id: str, width: float, height: float) -> tuple[float, float]:
        cls = self.document.node_class(node_id)
        w, h = cls.param_spec("width"), cls.param_spec("height")
        return float(w.clamp(round(width))), float(h.clamp(round(height)))

    def commit_size(self, node_id: str, width: float, height: float) -> bool:
        """Save a resized view in the node's params (one undo step)."""
        spec = self.document.graph.nodes.get(node_id)
        if spec is None:
            return False
        values = {"width": int(round(width)), "height": int(round(height))}
        commands = [SetParam(node_id, k, v) for k, v in values.items() if spec.params.get(k) != v]
        if not commands:
            return False
        return self.document.execute(Batch(commands), f"Resize {node_id}")

    # ---- windows and transport ------------------------------------------------------------------

    def pop_out(self, node_id: str):
        """Show the node's display in a window of its own (raised if already open); returns it."""
        item = self.items.get(node_id)
        if item is None:
            return None
        window = self.windows.get(node_id)
        if window is None:
            window = DisplayWindow(node_id, item.display, self.parent() if isinstance(self.parent(), QWidget) else None)
            window.setAttribute(Qt.WA_DeleteOnClose)
            window.destroyed.connect(lambda _o=None, nid=node_id: self.windows.pop(nid, None))
            self.windows[node_id] = window
        window.show()
        window.raise_()
        return window

    def _running_changed(self, running: bool) -> None:
        if running:
            self._learn_streams()
            return
        for node_id, item in self.items.items():
            item.display.reset()
            self._repaint(node_id)

    def _learn_streams(self) -> None:
        """Tell each display the sample rate and, for frames inputs, the hop (a check-only
        compile: no model loads, no files written)."""
        from neuropatch.engine import compile_graph

        rate = int(self.live.settings.get("sample_rate", 48000))
        try:
            schedule = compile_graph(self.document.graph, self.document.registry, sample_rate=rate,
                                     base_dir=self.document.base_dir, check_only=True)
            in_specs = schedule.in_specs
        except Exception:   # an uncompilable patch does not play either; keep the defaults
            in_specs = {}
        for node_id, item in self.items.items():
            spec = (in_specs.get(node_id) or {}).get("in")
            hop = getattr(spec, "hop", 0) or 0
            bins = getattr(spec, "bins", 0) or 0
            stft_bins = bins > 2 and ((bins - 1) & (bins - 2)) == 0   # n_fft / 2 + 1, n_fft a power of 2
            item.display.set_stream(rate, hop, stft_bins or getattr(spec, "kind", "audio") != "frames")
