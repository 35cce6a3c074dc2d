"""The subpatch window opens on its nodes, has a View menu (F frames), and the subpatch mark
on a node is a glyph the installed fonts have."""
from PySide6.QtGui import QFont, QFontMetrics

from neuropatch.app.editor.node_item import SUBPATCH_MARK


def test_the_subpatch_window_opens_framed_on_its_nodes_with_a_view_menu(window):
    a = window.doc.add_node("util.gain", (4000, 3000))
    b = window.doc.add_node("util.gain", (4300, 3000))
    window.doc.connect_ports(a, "out", b, "in")
    window.scene.select_nodes([a, b])
    sub = window.group_selection()
    inner = window.open_subpatch(window.doc, sub)
    visible = inner.view.viewport().rect()
    for node_id in (a, b):
        centre = inner.scene.node_items[node_id].sceneBoundingRect().center()
        assert visible.contains(inner.view.mapFromScene(centre)), node_id
    assert "&View" in [act.text() for act in inner.menuBar().actions()]
    frame = next(act for act in inner.menuBar().actions() if act.text() == "&View").menu().actions()[0]
    assert frame.shortcut().toString() == "F"
    inner.view.centerOn(-50000, -50000)
    frame.trigger()
    assert visible.contains(inner.view.mapFromScene(inner.scene.node_items[a].sceneBoundingRect().center()))


def test_the_subpatch_mark_is_in_the_default_font():
    assert all(QFontMetrics(QFont()).inFontUcs4(ord(ch)) for ch in SUBPATCH_MARK)
