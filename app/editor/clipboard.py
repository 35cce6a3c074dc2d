"""Copy, cut, paste and duplicate of node fragments through the system clipboard."""
from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, QPointF
from PySide6.QtGui import QGuiApplication

from neuropatch.engine import Graph, PatchError
from neuropatch.engine.patch import graph_from_dict, graph_to_dict

FRAGMENT_MIME = "application/x-neuropatch-fragment"


def release_clipboard() -> None:
    """Drop node fragments we put on the clipboard. Called before the application object
    goes away: Qt would otherwise delete Python-created mime data during interpreter
    shutdown, which crashes."""
    clipboard = QGuiApplication.clipboard()
    mime = clipboard.mimeData()
    if mime is not None and mime.hasFormat(FRAGMENT_MIME):
        clipboard.clear()


class ClipboardActions:
    """Clipboard commands on the window's selection; every edit is one undo step."""

    def __init__(self, window):
        self.window = window

    def can_paste(self) -> bool:
        mime = QGuiApplication.clipboard().mimeData()
        return mime is not None and mime.hasFormat(FRAGMENT_MIME)

    def copy(self) -> bool:
        w = self.window
        ids = w.scene.selected_node_ids()
        if not ids:
            return False
        frag = w.doc.fragment(ids)
        g = Graph()
        g.nodes = {s.id: s for s in frag["nodes"]}
        g.edges = frag["edges"]
        text = json.dumps(graph_to_dict(g))
        mime = QMimeData()
        mime.setData(FRAGMENT_MIME, text.encode("utf-8"))
        mime.setText(text)
        QGuiApplication.clipboard().setMimeData(mime)
        return True

    def cut(self) -> None:
        if self.copy():
            self.window.view.delete_selection()

    def paste(self, at: QPointF | None = None) -> list:
        """Paste the clipboard's nodes with their top-left node at scene point `at` (default:
        the mouse when it is over the canvas, else a little below and right of the originals)."""
        w = self.window
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not mime.hasFormat(FRAGMENT_MIME):
            return []
        try:
            g = graph_from_dict(json.loads(bytes(mime.data(FRAGMENT_MIME)).decode("utf-8")), w.registry)
        except (PatchError, ValueError) as exc:
            w.status(f"cannot paste: {exc}")
            return []
        nodes = list(g.nodes.values())
        ids = w.doc.paste({"nodes": nodes, "edges": g.edges}, self._offset(nodes, at))
        w.scene.select_nodes(ids)
        return ids

    def duplicate(self, at: QPointF | None = None) -> list:
        """Copies of the selected nodes (and the cables between them) at `at` (default: the
        mouse, as for paste)."""
        w = self.window
        ids = w.scene.selected_node_ids()
        if not ids:
            return []
        frag = w.doc.fragment(ids)
        new = w.doc.paste(frag, self._offset(frag["nodes"], at))
        w.scene.select_nodes(new)
        return new

    def _offset(self, nodes, at: QPointF | None) -> tuple:
        """How far to move `nodes` so their top-left position lands on `at` (or the mouse)."""
        if at is None:
            at = self.window.view.mouse_over_canvas()
        if at is None or not nodes:
            return (30.0, 30.0)
        xs = [float(s.ui.get("pos", [0.0, 0.0])[0]) for s in nodes]
        ys = [float(s.ui.get("pos", [0.0, 0.0])[1]) for s in nodes]
        return (round(at.x()) - min(xs), round(at.y()) - min(ys))
