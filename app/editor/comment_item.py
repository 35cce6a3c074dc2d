"""A comment on the canvas: a resizable box of text behind the nodes.

The item mirrors one entry of ``graph.comments``; moving it (committed by the view with the
nodes), resizing it by its corner grip and editing its text (double-click; the edit ends
when the box loses focus or on Escape) go through the document's undoable
``edit_comment``.
"""
from __future__ import annotations

from PySide6.QtCore import QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QGraphicsTextItem

from .document import new_merge_token

GRIP = 12.0
PAD = 6.0
MIN_W, MIN_H = 60.0, 30.0


class CommentText(QGraphicsTextItem):
    """The editable text of a comment: ends its edit when it loses focus or on Escape."""

    def __init__(self, comment: "CommentItem"):
        super().__init__(comment)
        self.comment = comment
        self.setDefaultTextColor(QColor("#e8e2c0"))

    def focusOutEvent(self, event):
        super().focusOutEvent(event)
        self.comment.finish_edit()

    def keyPressEvent(self, event):
        if event.key() == Qt.Key_Escape:
            self.clearFocus()
            event.accept()
            return
        super().keyPressEvent(event)


class CommentItem(QGraphicsObject):
    """Draws one comment; its id names the entry of ``document.graph.comments``."""

    def __init__(self, document, comment_id: str):
        super().__init__()
        self.document = document
        self.comment_id = comment_id
        self.size = QSizeF(MIN_W, MIN_H)
        self.text_item = CommentText(self)
        self.text_item.setPos(PAD, PAD)
        self._resize = None       # (press position, size at press, merge token)
        self.setFlags(QGraphicsItem.ItemIsMovable | QGraphicsItem.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(-1)        # behind nodes and cables
        self.sync()

    @property
    def data(self) -> dict | None:
        return self.document.graph.comment(self.comment_id)

    def sync(self) -> None:
        """Take position, size and text from the graph."""
        c = self.data
        if c is None:
            return
        self.setPos(float(c["pos"][0]), float(c["pos"][1]))
        size = QSizeF(float(c["size"][0]), float(c["size"][1]))
        if size != self.size:
            self.prepareGeometryChange()
            self.size = size
        self.text_item.setTextWidth(max(10.0, size.width() - 2 * PAD))
        if not self.editing() and self.text_item.toPlainText() != c["text"]:
            self.text_item.setPlainText(c["text"])
        self.setToolTip("comment: double-click to edit, drag the corner to resize")
        self.update()

    def text(self) -> str:
        return self.text_item.toPlainText()

    # ---- drawing --------------------------------------------------------------------------

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.size.width(), self.size.height())

    def grip_rect(self) -> QRectF:
        return QRectF(self.size.width() - GRIP, self.size.height() - GRIP, GRIP, GRIP)

    def paint(self, painter, option, widget=None):
        border = QColor("#ffcc00") if self.isSelected() else QColor("#7a7350")
        painter.setPen(QPen(border, 1.5, Qt.SolidLine if self.isSelected() else Qt.DashLine))
        painter.setBrush(QColor(90, 84, 50, 120))
        painter.drawRoundedRect(self.boundingRect().adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        painter.setPen(QPen(QColor("#b0a878"), 1))
        g = self.grip_rect()
        for k in (3.0, 6.0, 9.0):
            painter.drawLine(g.right() - k, g.bottom() - 1, g.right() - 1, g.bottom() - k)

    # ---- editing the text ------------------------------------------------------------------

    def editing(self) -> bool:
        return bool(self.text_item.textInteractionFlags() & Qt.TextEditorInteraction)

    def begin_edit(self) -> None:
        self.text_item.setTextInteractionFlags(Qt.TextEditorInteraction)
        self.text_item.setFocus(Qt.MouseFocusReason)
        cursor = self.text_item.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        self.text_item.setTextCursor(cursor)

    def finish_edit(self) -> None:
        if not self.editing():
            return
        self.text_item.setTextInteractionFlags(Qt.NoTextInteraction)
        self.document.edit_comment(self.comment_id, text=self.text())

    def mouseDoubleClickEvent(self, event):
        self.begin_edit()
        event.accept()

    # ---- resizing ---------------------------------------------------------------------------

    def hoverMoveEvent(self, event):
        self.setCursor(Qt.SizeFDiagCursor if self.grip_rect().contains(event.pos()) else Qt.ArrowCursor)
        super().hoverMoveEvent(event)

    def mousePressEvent(self, event):
        if event.button() == Qt.LeftButton and self.grip_rect().contains(event.pos()):
            self._resize = (event.pos(), QSizeF(self.size), new_merge_token())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event):
        if self._resize is not None:
            start, size, token = self._resize
            d = event.pos() - start
            w = max(MIN_W, round(size.width() + d.x()))
            h = max(MIN_H, round(size.height() + d.y()))
            self.document.edit_comment(self.comment_id, size=(w, h), merge_key=("comment-size", token))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):
        if self._resize is not None:
            self._resize = None
            event.accept()
            return
        super().mouseReleaseEvent(event)
