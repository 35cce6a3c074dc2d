"""Node faces: what a node shows on the canvas beyond its ports — the name of its loaded
file, a compact slider per param the node marks ``primary`` (edited in place through the
document's undoable ``set_param``, like the inspector), and, while audio plays, badges
for its CPU share and latency in the header.

Sliders: drag left/right (a log param moves in log space); double-click sets the default.
A flag toggles and a choice steps to the next value on a click. Every node has a bypass
switch at the right end of its header (one undo step through the document's
``set_bypass``).
"""
from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPen
from PySide6.QtWidgets import QGraphicsItem

from neuropatch.engine import Batch, SetParam, SetResource
from neuropatch.engine.streams import KIND_COLOURS

from .document import new_merge_token
from .node_item import BODY_PAD, NODE_WIDTH

ROW_H = 17.0
FACE_W = NODE_WIDTH - 2 * BODY_PAD


def primary_params(cls) -> list:
    return [p for p in cls.params if p.primary]


def value_text(param, value) -> str:
    if param.type is bool:
        return "on" if value else "off"
    if param.type is str:
        return str(value)
    v = float(value)
    text = f"{v:.0f}" if param.type is int or abs(v) >= 100 else f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"
    return f"{text} {param.unit}".strip()


def to_fraction(param, value) -> float:
    """Slider position 0..1 of a number param's value (log params in log space)."""
    lo, hi, v = float(param.min), float(param.max), float(value)
    if hi <= lo:
        return 0.0
    if param.log and lo > 0:
        return (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return (v - lo) / (hi - lo)


def from_fraction(param, frac: float):
    lo, hi = float(param.min), float(param.max)
    frac = min(max(frac, 0.0), 1.0)
    value = math.exp(math.log(lo) + frac * (math.log(hi) - math.log(lo))) if param.log and lo > 0 \
        else lo + frac * (hi - lo)
    return param.clamp(value)


class FaceItem(QGraphicsItem):
    """The body of an ordinary node: its file's name and its primary params."""

    def __init__(self, document, node_id: str, cls):
        super().__init__()
        self.document = document
        self.node_id = node_id
        self.cls = cls
        self.params = primary_params(cls)
        self.resources = list(cls.resources)
        self._drag = None      # (param, token)

    def rows(self) -> list:
        """[("file", resource) | ("param", Param)] top to bottom."""
        return [("file", r) for r in self.resources] + [("param", p) for p in self.params]

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, FACE_W, ROW_H * len(self.rows()))

    def value(self, param):
        return self.document.graph.nodes[self.node_id].params.get(param.name, param.default)

    def file_name(self, resource) -> str:
        entry = self.document.graph.nodes[self.node_id].resources.get(resource.name)
        path = entry.get("path") if isinstance(entry, dict) else None
        return Path(path).name if path else f"no {resource.name}"

    def paint(self, painter, option, widget=None):
        if self.node_id not in self.document.graph.nodes:
            return
        font = QFont()
        font.setPointSizeF(7.0)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        for i, (what, obj) in enumerate(self.rows()):
            r = QRectF(0, i * ROW_H + 1, FACE_W, ROW_H - 3)
            if what == "file":
                painter.setPen(QColor("#d0d0d0"))
                painter.drawText(r, Qt.AlignVCenter | Qt.AlignLeft,
                                 metrics.elidedText("▤ " + self.file_name(obj), Qt.ElideMiddle, int(FACE_W)))
                continue
            value = self.value(obj)
            painter.setPen(Qt.NoPen)
            painter.setBrush(QColor("#1d1f23"))
            painter.drawRoundedRect(r, 3, 3)
            if obj.type in (int, float):
                fill = QRectF(r.left(), r.top(), r.width() * to_fraction(obj, value), r.height())
                colour = QColor(KIND_COLOURS["control"])
                colour.setAlpha(110)
                painter.setBrush(colour)
                painter.drawRoundedRect(fill, 3, 3)
            elif obj.type is bool and value:
                painter.setBrush(QColor(KIND_COLOURS["control"]))
                painter.drawRoundedRect(QRectF(r.right() - 14, r.top() + 2, 10, r.height() - 4), 2, 2)
            painter.setPen(QColor("#e8e8e8"))
            painter.drawText(r.adjusted(4, 0, -4, 0), Qt.AlignVCenter | Qt.AlignLeft, obj.name)
            painter.drawText(r.adjusted(4, 0, -4 - (16 if obj.type is bool else 0), 0),
                             Qt.AlignVCenter | Qt.AlignRight, value_text(obj, value))

    # ---- editing -------------------------------------------------------------------------------

    def param_at(self, pos):
        i = int(pos.y() // ROW_H)
        rows = self.rows()
        if 0 <= i < len(rows) and rows[i][0] == "param":
            return rows[i][1]
        return None

    def set_from_x(self, param, x: float, token) -> bool:
        return self.document.set_param(self.node_id, param.name, from_fraction(param, x / FACE_W), token)

    def mousePressEvent(self, event):
        param = self.param_at(event.pos())
        if param is None or event.button() != Qt.LeftButton:
            event.ignore()
            return
        if param.type is bool:
            self.document.set_param(self.node_id, param.name, not self.value(param))
        elif param.choices:
            choices = list(param.choices)
            current = self.value(param)
            nxt = choices[(choices.index(current) + 1) % len(choices)] if current in choices else choices[0]
            self.document.set_param(self.node_id, param.name, nxt)
        elif param.type in (int, float):
            self._drag = (param, new_merge_token())
            self.set_from_x(param, event.pos().x(), self._drag[1])
        event.accept()

    def mouseMoveEvent(self, event):
        if self._drag is not None:
            self.set_from_x(self._drag[0], event.pos().x(), self._drag[1])
            event.accept()

    def mouseReleaseEvent(self, event):
        self._drag = None
        event.accept()

    def mouseDoubleClickEvent(self, event):
        param = self.param_at(event.pos())
        if param is not None and param.type in (int, float):
            self.document.set_param(self.node_id, param.name, param.default)
        event.accept()


class BypassSwitch(QGraphicsItem):
    """A round switch in a node's header: lit while the node runs, dark while bypassed.
    A click bypasses the node or switches it back on."""

    R = 6.0

    def __init__(self, document, node_item):
        super().__init__()
        self.document = document
        self.node_item = node_item
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.PointingHandCursor)
        self.setToolTip("bypass: pass the input through unchanged (click to toggle)")

    @property
    def bypassed(self) -> bool:
        spec = self.document.graph.nodes.get(self.node_item.node_id)
        return bool(spec is not None and spec.bypass)

    def boundingRect(self) -> QRectF:
        r = self.R + 2
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(self, painter, option, widget=None):
        on = not self.bypassed
        painter.setPen(QPen(QColor("#15171a"), 1))
        painter.setBrush(QColor("#7ccf6a") if on else QColor("#2a2a2a"))
        painter.drawEllipse(QPointF(0, 0), self.R, self.R)
        painter.setPen(QPen(QColor("#15171a") if on else QColor("#d8b040"), 1.4))
        painter.drawArc(QRectF(-3.2, -2.6, 6.4, 6.4), 120 * 16, 300 * 16)
        painter.drawLine(QPointF(0, -4.0), QPointF(0, 0.2))

    def toggle(self) -> bool:
        return self.document.set_bypass(self.node_item.node_id, not self.bypassed)

    def mousePressEvent(self, event):
        if event.button() == Qt.LeftButton:
            self.toggle()
            event.accept()
        else:
            event.ignore()

    def mouseDoubleClickEvent(self, event):
        event.accept()


class FaceBinder(QObject):
    """Gives ordinary nodes their face and, while audio plays, their CPU and latency badges."""

    def __init__(self, scene, live, parent=None):
        super().__init__(parent)
        self.scene = scene
        self.document = scene.document
        self.live = live
        self.faces: dict = {}
        self.check_latency: dict = {}    # node id -> latency in samples (a check compile)
        scene.nodeItemAdded.connect(self.attach)
        self.document.commandApplied.connect(self._on_command)
        live.metersUpdated.connect(self.show_meters)
        live.runningChanged.connect(self._running_changed)
        for item in list(scene.node_items.values()):
            self.attach(item)

    def attach(self, node_item) -> None:
        node_item.set_header_control(BypassSwitch(self.document, node_item))
        cls = self.document.node_class(node_item.node_id)
        if cls is None or getattr(cls, "display", "") or node_item.placeholder_reason:
            return
        if not primary_params(cls) and not cls.resources:
            return
        face = FaceItem(self.document, node_item.node_id, cls)
        node_item.set_body(face)
        self.faces[node_item.node_id] = face

    def _on_command(self, command) -> None:
        commands = command.commands if isinstance(command, Batch) else [command]
        for c in commands:
            if isinstance(c, (SetParam, SetResource)):
                item = self.scene.node_items.get(c.node_id)
                if item is not None and item.body is not None:
                    item.body.update()

    def badges_for(self, node_id: str, meters: dict) -> list[str]:
        """Badge texts of one node from a meters snapshot: CPU share of the block time and,
        when the node delays its output, its latency in ms."""
        out = []
        cpu = (meters.get("node_cpu") or {}).get(node_id)
        if cpu is not None:
            out.append(f"{100 * cpu:.1f}%")
        rate = meters.get("sample_rate") or self.live.settings.get("sample_rate", 48000)
        lane = (meters.get("lanes") or {}).get(node_id)
        samples = (lane["buffer_latency"] + lane["model_delay"]) if lane else self.check_latency.get(node_id, 0)
        if samples:
            out.append(f"{1000.0 * samples / rate:.1f} ms")
        return out

    def show_meters(self, meters: dict) -> None:
        for node_id, item in self.scene.node_items.items():
            item.set_badges(self.badges_for(node_id, meters))

    def _running_changed(self, running: bool) -> None:
        if running:
            self.check_latency = self._node_latencies()
            return
        for item in self.scene.node_items.values():
            item.set_badges([])

    def _node_latencies(self) -> dict:
        from neuropatch.engine import compile_graph

        try:
            schedule = compile_graph(self.document.graph, self.document.registry,
                                     base_dir=self.document.base_dir, check_only=True)
        except Exception:      # an uncompilable patch does not play: no badges
            return {}
        return {nid: int(node.latency_samples) for nid, node in schedule.nodes.items()
                if getattr(node, "latency_samples", 0)}


def install_node_bodies(window):
    """Faces and displays for the nodes of `window`'s canvas; returns (faces, views)."""
    from .view_items import ViewBinder

    views = ViewBinder(window.scene, window.live, window)
    faces = FaceBinder(window.scene, window.live, window)
    return faces, views
