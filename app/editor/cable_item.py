"""A cable between two ports: a bezier coloured by stream kind; hover shows a probe."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from .node_item import kind_colour


def cable_path(a: QPointF, b: QPointF) -> QPainterPath:
    path = QPainterPath(a)
    dx = max(40.0, abs(b.x() - a.x()) * 0.5)
    path.cubicTo(QPointF(a.x() + dx, a.y()), QPointF(b.x() - dx, b.y()), b)
    return path


class CableItem(QGraphicsPathItem):
    def __init__(self, edge, src_port, dst_port, kind: str):
        super().__init__()
        self.edge = edge
        self.src_port = src_port
        self.dst_port = dst_port
        self.kind = kind
        self.probe = None  # callable(edge) -> str, set by the scene while the engine runs
        self.setFlags(QGraphicsItem.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(0)
        self._hover = False
        self._apply_pen()
        src_port.node_item.cables.add(self)
        dst_port.node_item.cables.add(self)
        self.update_path()

    def _apply_pen(self) -> None:
        colour = kind_colour(self.kind)
        if self.isSelected():
            colour = QColor("#ffcc00")
        pen = QPen(colour, 3.5 if self._hover else 2.5)
        pen.setCapStyle(Qt.RoundCap)
        self.setPen(pen)

    def update_path(self) -> None:
        self.setPath(cable_path(self.src_port.scenePos(), self.dst_port.scenePos()))

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        return stroker.createStroke(self.path())

    def detach(self) -> None:
        self.src_port.node_item.cables.discard(self)
        self.dst_port.node_item.cables.discard(self)

    def itemChange(self, change, value):
        if change == QGraphicsItem.ItemSelectedHasChanged:
            self._apply_pen()
        return super().itemChange(change, value)

    def hoverEnterEvent(self, event):
        self._hover = True
        self._apply_pen()
        text = f"{self.edge} ({self.kind})"
        if self.probe is not None:
            reading = self.probe(self.edge)
            if reading:
                text += f"\n{reading}"
        self.setToolTip(text)
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event):
        self._hover = False
        self._apply_pen()
        super().hoverLeaveEvent(event)
