"""A node on the canvas: header with title and badges, typed ports, an optional body (the
node's face or its display) and error/placeholder notes."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject

from neuropatch.engine.streams import KIND_COLOURS
from neuropatch.engine.subpatch import SUBPATCH_TYPE

NODE_WIDTH = 168.0
HEADER_H = 24.0
PORT_SPACING = 20.0
PORT_R = 5.5
BODY_PAD = 8.0
TYPE_LINE_H = 16.0
SUBPATCH_MARK = "⊞"   # DejaVu Sans has it; "⧉" is in no font the environment installs
SUBPATCH_HEADER = "#2f5d8a"
BYPASS_HEADER = "#6b5a22"
HEADER_CONTROL_W = 18.0   # room at the header's right end for the bypass switch


def kind_colour(kind: str) -> QColor:
    return QColor(KIND_COLOURS.get(kind, KIND_COLOURS["any"]))


class PortItem(QGraphicsItem):
    """A port circle. ``output`` ports sit on the right edge, inputs on the left."""

    def __init__(self, node_item: "NodeItem", name: str, kind: str, output: bool, index: int):
        super().__init__(node_item)
        self.node_item = node_item
        self.name = name
        self.kind = kind
        self.output = output
        self.dimmed = False
        self.highlight = False
        y = HEADER_H + TYPE_LINE_H + PORT_SPACING * index + PORT_SPACING / 2
        self.setPos(NODE_WIDTH if output else 0.0, y)
        self.setAcceptHoverEvents(True)
        self.setToolTip(f"{'output' if output else 'input'} {name}: {kind}")

    @property
    def node_id(self) -> str:
        return self.node_item.node_id

    def boundingRect(self) -> QRectF:
        r = PORT_R + 4
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self) -> QPainterPath:
        p = QPainterPath()
        p.addEllipse(self.boundingRect())
        return p

    def paint(self, painter, option, widget=None):
        colour = kind_colour(self.kind)
        if self.dimmed:
            colour.setAlpha(50)
        painter.setPen(QPen(QColor("#fff") if self.highlight else QColor("#202020"), 2 if self.highlight else 1))
        painter.setBrush(QBrush(colour))
        painter.drawEllipse(QPointF(0, 0), PORT_R, PORT_R)

    def set_dimmed(self, dimmed: bool) -> None:
        if dimmed != self.dimmed:
            self.dimmed = dimmed
            self.update()

    def set_highlight(self, on: bool) -> None:
        if on != self.highlight:
            self.highlight = on
            self.update()


class NodeItem(QGraphicsObject):
    """Draws one NodeSpec. Position changes move attached cables; the scene commits moves."""

    def __init__(self, node_id: str, type_id: str, title: str, inputs, outputs,
                 placeholder_reason: str | None = None, caption: str | None = None):
        super().__init__()
        self.node_id = node_id
        self.type_id = type_id
        self.title = title
        self.caption = caption   # an inlet's or outlet's port name, shown beside the type
        self.placeholder_reason = placeholder_reason
        self.label = node_id       # the name shown: the node's display title, else its id
        self.bypassed = False      # switched off by the user
        self.header_control = None  # an item at the header's right end (the bypass switch)
        self.is_subpatch = type_id == SUBPATCH_TYPE and placeholder_reason is None
        self.error: str | None = None
        self.badges: list[str] = []   # short texts in the header (CPU share, latency)
        self.body = None               # child item below the ports (face controls, a display)
        self.cables: set = set()
        self.inputs: dict[str, PortItem] = {}
        self.outputs: dict[str, PortItem] = {}
        for name, kind in inputs:
            self.add_port(name, kind, False)
        for name, kind in outputs:
            self.add_port(name, kind, True)
        self.setFlags(QGraphicsItem.ItemIsMovable | QGraphicsItem.ItemIsSelectable
                      | QGraphicsItem.ItemSendsGeometryChanges)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self._update_tooltip()

    # ---- ports ---------------------------------------------------------------------------

    def add_port(self, name: str, kind: str, output: bool) -> PortItem:
        ports = self.outputs if output else self.inputs
        if name not in ports:
            self.prepareGeometryChange()
            ports[name] = PortItem(self, name, kind, output, len(ports))
        return ports[name]

    def port(self, name: str, output: bool, create: bool = False) -> PortItem | None:
        ports = self.outputs if output else self.inputs
        if name not in ports and create:
            return self.add_port(name, "any", output)
        return ports.get(name)

    def ports(self):
        return list(self.inputs.values()) + list(self.outputs.values())

    # ---- geometry and drawing -------------------------------------------------------------

    def ports_bottom(self) -> float:
        rows = max(len(self.inputs), len(self.outputs), 1)
        return HEADER_H + TYPE_LINE_H + rows * PORT_SPACING

    def width(self) -> float:
        if self.body is None:
            return NODE_WIDTH
        return max(NODE_WIDTH, self.body.boundingRect().width() + 2 * BODY_PAD)

    def height(self) -> float:
        extra = 18.0 if (self.placeholder_reason or self.error) else 0.0
        body = self.body.boundingRect().height() + BODY_PAD if self.body is not None else 0.0
        return self.ports_bottom() + BODY_PAD + body + extra

    def boundingRect(self) -> QRectF:
        return QRectF(-2, -2, self.width() + 4, self.height() + 4)

    def set_body(self, body) -> None:
        """Show `body` (a QGraphicsItem, or None) below the ports; the node grows to fit it."""
        if self.body is not None and self.body is not body and self.scene() is not None:
            self.scene().removeItem(self.body)
        self.body = body
        if body is not None:
            body.setParentItem(self)
        self.body_resized()

    def body_resized(self) -> None:
        """Call after the body changed size: lays out the body, the output ports, the cables."""
        self.prepareGeometryChange()
        w = self.width()
        if self.body is not None:
            self.body.setPos(BODY_PAD, self.ports_bottom() + BODY_PAD / 2)
        for port in self.outputs.values():
            port.setPos(w, port.pos().y())
        if self.header_control is not None:
            self.header_control.setPos(w - HEADER_CONTROL_W / 2 - 4, HEADER_H / 2)
        for cable in self.cables:
            cable.update_path()
        self.update()

    def set_header_control(self, item) -> None:
        """Place `item` (about 14 px) at the right end of the header, following the width."""
        self.header_control = item
        item.setParentItem(self)
        self.body_resized()

    def header_inset(self) -> float:
        return HEADER_CONTROL_W if self.header_control is not None else 0.0

    def title_rect(self) -> QRectF:
        """Where the node's name is drawn (double-clicking it renames the node)."""
        return QRectF(0, 0, self.width() - 30 - self.header_inset(), HEADER_H)

    def set_label(self, label: str) -> None:
        if label != self.label:
            self.label = label
            self._update_tooltip()
            self.update()

    def set_bypassed(self, on: bool) -> None:
        if bool(on) != self.bypassed:
            self.bypassed = bool(on)
            self._update_tooltip()
            self.update()
            if self.header_control is not None:
                self.header_control.update()

    def set_badges(self, badges) -> None:
        badges = list(badges)
        if badges != self.badges:
            self.badges = badges
            self.update()

    def paint(self, painter, option, widget=None):
        h = self.height()
        NODE_WIDTH = self.width()   # noqa: N806  (this node's width; wider with a body)
        broken = self.placeholder_reason is not None
        body = QColor("#3a2a2a") if broken else QColor("#2d2f33")
        border = QColor("#ffcc00") if self.isSelected() else (QColor("#e05050") if broken or self.error else QColor("#15171a"))
        pen = QPen(border, 2)
        if broken:
            pen.setStyle(Qt.DashLine)
        painter.setPen(pen)
        painter.setBrush(body)
        painter.drawRoundedRect(QRectF(0, 0, NODE_WIDTH, h), 6, 6)
        header = "#7a3030" if broken else BYPASS_HEADER if self.bypassed else (
            SUBPATCH_HEADER if self.is_subpatch else "#44484f")
        painter.setBrush(QColor(header))
        painter.setPen(Qt.NoPen)
        painter.drawRoundedRect(QRectF(1, 1, NODE_WIDTH - 2, HEADER_H - 1), 5, 5)
        painter.setPen(QColor("#f0f0f0"))
        font = QFont()
        font.setPointSizeF(9)
        font.setBold(True)
        painter.setFont(font)
        inset = self.header_inset()
        name = f"{SUBPATCH_MARK} {self.label}" if self.is_subpatch else self.label
        painter.drawText(QRectF(8, 0, NODE_WIDTH - 30 - inset, HEADER_H), Qt.AlignVCenter | Qt.AlignLeft,
                         painter.fontMetrics().elidedText(name, Qt.ElideRight, int(NODE_WIDTH - 30 - inset)))
        font.setBold(False)
        font.setPointSizeF(7.5)
        painter.setFont(font)
        painter.setPen(QColor("#b0b0b0"))
        for port in self.ports():
            r = QRectF(10, port.pos().y() - 8, NODE_WIDTH / 2 - 12, 16) if not port.output else \
                QRectF(NODE_WIDTH / 2, port.pos().y() - 8, NODE_WIDTH / 2 - 10, 16)
            painter.drawText(r, Qt.AlignVCenter | (Qt.AlignRight if port.output else Qt.AlignLeft), port.name)
        painter.setPen(QColor("#909090"))
        type_line = f"{self.type_id} “{self.caption}”" if self.caption is not None else self.type_id
        if self.label != self.node_id:
            type_line = f"{self.node_id} · {type_line}"
        if self.bypassed:
            type_line = f"bypassed · {type_line}"
        painter.drawText(QRectF(8, HEADER_H + 1, NODE_WIDTH - 16, 12), Qt.AlignLeft,
                         painter.fontMetrics().elidedText(type_line, Qt.ElideRight, int(NODE_WIDTH - 16)))
        note = self.placeholder_reason or self.error
        if note:
            painter.setPen(QColor("#ff8080"))
            painter.drawText(QRectF(8, h - 20, NODE_WIDTH - 16, 16), Qt.AlignLeft | Qt.AlignVCenter,
                             painter.fontMetrics().elidedText(note, Qt.ElideRight, int(NODE_WIDTH - 16)))
        if self.error and not broken:  # error badge
            painter.setBrush(QColor("#e05050"))
            painter.setPen(Qt.NoPen)
            painter.drawEllipse(QPointF(NODE_WIDTH - 12 - inset, HEADER_H / 2), 7, 7)
            painter.setPen(QColor("#fff"))
            painter.drawText(QRectF(NODE_WIDTH - 19 - inset, 0, 14, HEADER_H), Qt.AlignCenter, "!")
        if self.badges:
            self._paint_badges(painter, NODE_WIDTH - inset - (26 if self.error and not broken else 6))

    def _paint_badges(self, painter, right: float) -> None:
        """Badges right-aligned in the header, ending at x = `right`."""
        font = QFont()
        font.setPointSizeF(6.5)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        for text in reversed(self.badges):
            w = metrics.horizontalAdvance(text) + 8
            rect = QRectF(right - w, 5, w, HEADER_H - 10)
            painter.setPen(Qt.NoPen)
            painter.setBrush(QColor(0, 0, 0, 120))
            painter.drawRoundedRect(rect, 3, 3)
            painter.setPen(QColor("#d8e0a0"))
            painter.drawText(rect, Qt.AlignCenter, text)
            right -= w + 3

    def set_error(self, message: str | None) -> None:
        if message != self.error:
            self.prepareGeometryChange()
            self.error = message
            self._update_tooltip()
            self.update()

    def _update_tooltip(self) -> None:
        tip = f"{self.label} ({self.type_id})" if self.label == self.node_id else \
            f"{self.label}: {self.node_id} ({self.type_id})"
        if self.bypassed:
            tip += "\nbypassed: passes its input through"
        if self.is_subpatch:
            tip += "\ndouble-click to open"
        if self.badges:
            tip += "\n" + ", ".join(self.badges)
        if self.placeholder_reason:
            tip += f"\nplaceholder: {self.placeholder_reason}"
        if self.error:
            tip += f"\nbypassed: {self.error}"
        self.setToolTip(tip)

    def itemChange(self, change, value):
        if change == QGraphicsItem.ItemPositionHasChanged:
            for cable in self.cables:
                cable.update_path()
        return super().itemChange(change, value)
