"""One window per open subpatch, keyed by its path of node ids from the top patch."""
from __future__ import annotations

from PySide6.QtCore import Qt


class SubpatchWindows(dict):
    """crumbs tuple -> SubpatchWindow; opening one that is open raises it."""

    def __init__(self, parent_window):
        super().__init__()
        self.parent_window = parent_window

    def open(self, document, node_id: str):
        """Open (or raise) the window editing subpatch `node_id` of `document`; returns it."""
        from .subpatch_view import SubpatchDocument, SubpatchWindow

        sub_doc = SubpatchDocument(document, node_id)
        key = tuple(sub_doc.crumbs()[1:])
        window = self.get(key)
        if window is not None:
            sub_doc.deleteLater()
        else:
            window = SubpatchWindow(sub_doc, self.open, self.parent_window)
            window.setWindowFlag(Qt.Window, True)
            self[key] = window
            window.destroyed.connect(lambda _obj=None, key=key: self.pop(key, None))
            sub_doc.closed.connect(lambda key=key: self.pop(key, None))
        window.show()
        window.raise_()
        window.activateWindow()
        return window
