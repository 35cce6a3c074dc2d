"""Bypass, rename, comments and the port menu, driven through the canvas as a user would:
each edit is one undo step, is saved with the patch and (bypass) changes what it renders."""
import json

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from neuropatch.app.editor.context_menus import canvas_menu, comment_menu, node_menu, port_menu
from neuropatch.engine import load_patch, render

from .ui import drag, header_pos


def action(menu, text):
    return next(a for a in menu.actions() if a.text() == text)


def chain(window):
    doc = window.doc
    src = doc.add_node("io.audio_in", (0, 0))
    gain = doc.add_node("util.gain", (250, 0), params={"gain_db": -30.0})
    out = doc.add_node("io.audio_out", (500, 0))
    doc.connect_ports(src, "out", gain, "in")
    doc.connect_ports(gain, "out", out, "in")
    window.view.frame_all()
    return src, gain, out


def tone():
    t = np.arange(4800) / 48000.0
    return (0.5 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)[None, :]


def switch_pos(window, node_id) -> QPoint:
    switch = window.scene.node_items[node_id].header_control
    return window.view.mapFromScene(switch.scenePos())


class TestBypass:
    def test_the_face_switch_bypasses_the_gain_and_the_saved_patch_renders_its_input(self, window, tmp_path):
        _, gain, _ = chain(window)
        QTest.mouseClick(window.view.viewport(), Qt.LeftButton, Qt.NoModifier, switch_pos(window, gain))
        assert window.doc.graph.nodes[gain].bypass is True
        assert window.scene.node_items[gain].bypassed
        path = tmp_path / "bypassed.json"
        assert window.save_as(path)
        saved = next(n for n in json.loads(path.read_text())["nodes"] if n["id"] == gain)
        assert saved["bypass"] is True
        x = tone()
        y, _ = render(load_patch(path), x)
        np.testing.assert_allclose(y[0], x[0], atol=1e-6)

    def test_undo_switches_the_gain_back_on_and_it_attenuates_again(self, window):
        _, gain, _ = chain(window)
        window.scene.node_items[gain].header_control.toggle()
        window.doc.undo_stack.undo()
        assert window.doc.graph.nodes[gain].bypass is False
        assert not window.scene.node_items[gain].bypassed
        y, _ = render(window.doc.graph, tone())
        assert np.max(np.abs(y)) < 0.02

    def test_the_node_menu_bypass_entry_is_checked_while_bypassed_and_toggles(self, window):
        _, gain, _ = chain(window)
        entry = action(node_menu(window, gain), "Bypass")
        assert entry.isCheckable() and not entry.isChecked()
        entry.trigger()
        assert window.doc.graph.nodes[gain].bypass is True
        entry = action(node_menu(window, gain), "Bypass")
        assert entry.isChecked()
        entry.trigger()
        assert window.doc.graph.nodes[gain].bypass is False
        assert window.doc.undo_stack.count() == 2 + 5   # 3 adds, 2 cables, 2 toggles

    def test_the_live_engine_gets_the_bypass_as_an_edit(self, window):
        from neuropatch.engine import SetBypass

        from .conftest import FakeClient

        _, gain, _ = chain(window)
        window.live.client_factory = FakeClient
        assert window.live.start()
        window.doc.set_bypass(gain, True)
        assert window.live.client.commands[-1] == SetBypass(gain, True)


class TestRename:
    def test_double_clicking_the_title_renames_the_node_on_its_face(self, window, tmp_path):
        _, gain, _ = chain(window)
        QTest.mouseDClick(window.view.viewport(), Qt.LeftButton, Qt.NoModifier, header_pos(window, gain))
        editor = window.view.title_editor
        assert editor is not None and editor.isVisible() and editor.text() == gain
        editor.selectAll()
        QTest.keyClicks(editor, "Drive")
        QTest.keyClick(editor, Qt.Key_Return)
        assert window.doc.graph.nodes[gain].ui["title"] == "Drive"
        assert window.scene.node_items[gain].label == "Drive"
        assert window.scene.node_items[gain].toolTip().startswith(f"Drive: {gain}")
        assert window.save_as(tmp_path / "named.json")
        assert load_patch(tmp_path / "named.json").nodes[gain].ui["title"] == "Drive"
        window.doc.undo_stack.undo()
        assert "title" not in window.doc.graph.nodes[gain].ui
        assert window.scene.node_items[gain].label == gain

    def test_rename_from_the_node_menu_and_escape_leaves_the_name(self, window):
        _, gain, _ = chain(window)
        action(node_menu(window, gain), "Rename…").trigger()
        editor = window.view.title_editor
        QTest.keyClicks(editor, "Boost")
        QTest.keyClick(editor, Qt.Key_Escape)
        assert "title" not in window.doc.graph.nodes[gain].ui
        action(node_menu(window, gain), "Rename…").trigger()
        editor = window.view.title_editor
        editor.setText("  Boost  ")
        QTest.keyClick(editor, Qt.Key_Return)
        assert window.doc.graph.nodes[gain].ui["title"] == "Boost"

    def test_the_inspector_header_follows_the_name_and_the_bypass(self, window):
        _, gain, _ = chain(window)
        window.scene.select_nodes([gain])
        assert window.inspector.header_text().startswith(f"{gain}")
        window.doc.rename(gain, "Drive")
        window.doc.set_bypass(gain, True)
        assert window.inspector.header_text().replace("\xa0", " ").split() == [
            "Drive", "util.gain", f"({gain})", "bypassed"]


class TestComments:
    def test_add_comment_from_the_canvas_menu_type_and_save(self, window, tmp_path):
        chain(window)
        at = QPointF(40.0, 200.0)
        action(canvas_menu(window, at), "Add comment").trigger()
        (item,) = window.scene.comment_items.values()
        assert item.editing() and item.pos() == at
        QTest.keyClicks(window.view.viewport(), "clean channel")
        item.text_item.clearFocus()
        assert window.doc.graph.comments[0]["text"] == "clean channel"
        path = tmp_path / "noted.json"
        assert window.save_as(path)
        assert json.loads(path.read_text())["comments"] == [
            {"id": "comment", "pos": [40.0, 200.0], "size": [220.0, 80.0], "text": "clean channel"}]
        assert window.open_path(path, ask_save=False)
        (again,) = window.scene.comment_items.values()
        assert again.text() == "clean channel" and again.pos() == at

    def test_moving_and_resizing_a_comment_are_each_one_undo_step(self, window):
        window.add_comment(QPointF(0.0, 0.0), text="note")
        window.view.setFocus()
        item = window.scene.comment_items["comment"]
        window.view.centerOn(item)
        depth = window.doc.undo_stack.count()
        grip = window.view.mapFromScene(item.mapToScene(item.grip_rect().center()))
        drag(window, grip, grip + QPoint(60, 40))
        assert window.doc.graph.comments[0]["size"] == [280.0, 120.0]
        assert window.doc.undo_stack.count() == depth + 1
        body = window.view.mapFromScene(item.mapToScene(QPointF(30, 30)))
        drag(window, body, body + QPoint(50, 20))
        x, y = window.doc.graph.comments[0]["pos"]
        assert (x, y) != (0.0, 0.0) and item.pos() == QPointF(x, y)
        assert window.doc.undo_stack.count() == depth + 2
        window.doc.undo_stack.undo()
        window.doc.undo_stack.undo()
        assert window.doc.graph.comments[0]["pos"] == [0.0, 0.0]
        assert window.doc.graph.comments[0]["size"] == [220.0, 80.0]
        assert item.boundingRect().width() == 220.0

    def test_editing_the_text_is_undoable_and_delete_removes_the_comment(self, window):
        cid = window.add_comment(QPointF(0.0, 0.0), text="first")
        window.scene.comment_items[cid].text_item.clearFocus()
        item = window.scene.comment_items[cid]
        action(comment_menu(window, cid), "Edit text").trigger()
        QTest.keyClicks(window.view.viewport(), " drafts")
        QTest.keyClick(window.view.viewport(), Qt.Key_Backspace)     # a typo, not a deletion
        item.text_item.clearFocus()
        assert window.doc.graph.comments[0]["text"] == "first draft"
        window.doc.undo_stack.undo()
        assert window.doc.graph.comments[0]["text"] == "first" and item.text() == "first"
        action(comment_menu(window, cid), "Delete comment").trigger()
        assert window.doc.graph.comments == [] and window.scene.comment_items == {}
        window.doc.undo_stack.undo()
        assert window.scene.comment_items[cid].text() == "first"


class TestPortMenu:
    def test_a_port_menu_names_the_port_its_kind_and_shape(self, window):
        src, gain, _ = chain(window)
        menu = port_menu(window, window.scene.node_items[gain].outputs["out"])
        assert menu.actions()[0].text() == "output out · audio · 1 channel"
        assert not menu.actions()[0].isEnabled()
        assert any(a.text() == "Watch with…" for a in menu.actions())

    def test_disconnect_all_removes_every_cable_of_the_port_in_one_step(self, window):
        src, gain, out = chain(window)
        window.doc.connect_ports(src, "out", out, "in")
        menu = port_menu(window, window.scene.node_items[out].inputs["in"])
        entry = action(menu, "Disconnect all (2)")
        depth = window.doc.undo_stack.count()
        entry.trigger()
        assert not any(e.dst == out for e in window.doc.graph.edges)
        assert window.doc.undo_stack.count() == depth + 1
        assert window.scene.mismatches() == []

    def test_an_unconnected_input_says_so_and_offers_nothing_to_disconnect(self, window):
        gain = window.doc.add_node("util.gain", (0, 0))
        menu = port_menu(window, window.scene.node_items[gain].inputs["in"])
        assert menu.actions()[0].text() == "input in · audio · not connected"
        assert not action(menu, "Disconnect all").isEnabled()
