"""Renaming a node in place: a line edit over the node's header on the canvas.

Enter or leaving the field gives the node its new display title (``ui.title``, one undo
step through the document); Escape leaves it as it was. An empty title shows the id again.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from .node_item import HEADER_H


class TitleEditor(QLineEdit):
    """Edits one node's display title; closes itself when done."""

    def __init__(self, view, node_id: str):
        super().__init__(view.viewport())
        self.view = view
        self.node_id = node_id
        self._done = False
        item = view.patch_scene.node_items[node_id]
        rect = item.mapRectToScene(item.title_rect())
        top_left = view.mapFromScene(rect.topLeft())
        zoom = view.zoom()
        self.setGeometry(top_left.x(), top_left.y(), max(80, int(rect.width() * zoom)),
                         max(20, int(HEADER_H * zoom)))
        self.setText(view.document.title(node_id))
        self.selectAll()
        self.setPlaceholderText(node_id)
        self.setToolTip(f"display name of {node_id} (its id stays {node_id}); empty shows the id")
        self.returnPressed.connect(self.commit)
        self.show()
        self.setFocus(Qt.OtherFocusReason)

    def commit(self) -> bool:
        """Give the node the typed title (once); returns whether the patch changed."""
        if self._done:
            return False
        self._done = True
        changed = self.view.document.rename(self.node_id, self.text())
        self._close()
        return changed

    def cancel(self) -> None:
        self._done = True
        self._close()

    def _close(self) -> None:
        self.hide()
        self.deleteLater()
        self.view.setFocus(Qt.OtherFocusReason)

    def keyPressEvent(self, event):
        if event.key() == Qt.Key_Escape:
            self.cancel()
            event.accept()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event):
        super().focusOutEvent(event)
        if not self._done:
            self.commit()
