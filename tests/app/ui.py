"""UI gestures for tests: palette drops, cable drags, clicks, as real Qt events."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, QUrl, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from neuropatch.app.editor.palette import node_mime


def send_drop(window, mime: QMimeData, view_pos: QPoint) -> bool:
    vp = window.view.viewport()
    enter = QDragEnterEvent(view_pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(vp, enter)
    if not enter.isAccepted():
        return False
    move = QDragMoveEvent(view_pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(vp, move)
    drop = QDropEvent(QPointF(view_pos), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(vp, drop)
    return drop.isAccepted()


def drop_node(window, type_id: str, view_pos) -> str:
    """Drag a palette entry onto the canvas; returns the new node's id."""
    before = set(window.doc.graph.nodes)
    assert send_drop(window, node_mime(type_id), QPoint(*view_pos))
    (new,) = set(window.doc.graph.nodes) - before
    return new


def drop_files(window, paths, view_pos=(300, 300)) -> bool:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return send_drop(window, mime, QPoint(*view_pos))


def port_pos(window, node_id: str, port: str, output: bool) -> QPoint:
    item = window.scene.node_items[node_id].port(port, output)
    return window.view.mapFromScene(item.scenePos())


def drag(window, a: QPoint, b: QPoint) -> None:
    vp = window.view.viewport()
    QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, a)
    mid = QPoint((a.x() + b.x()) // 2, (a.y() + b.y()) // 2)
    QTest.mouseMove(vp, mid)
    QTest.mouseMove(vp, b)
    QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, b)


def drag_cable(window, src: str, src_port: str, dst: str, dst_port: str) -> None:
    drag(window, port_pos(window, src, src_port, True), port_pos(window, dst, dst_port, False))


def header_pos(window, node_id: str) -> QPoint:
    item = window.scene.node_items[node_id]
    return window.view.mapFromScene(item.scenePos() + QPointF(60, 10))


def click_node(window, node_id: str, modifier=Qt.NoModifier) -> None:
    QTest.mouseClick(window.view.viewport(), Qt.LeftButton, modifier, header_pos(window, node_id))
