"""Editor side of latent streams: the inspector's XY pad and the latent-space visualizer."""
import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from neuropatch.app.editor.inspector import XYPad
from neuropatch.app.editor.visualizers import LatentSpaceView, views_for_kind


def mouse(widget, kind, pos: QPointF, buttons=Qt.LeftButton) -> None:
    button = Qt.LeftButton if kind != QEvent.MouseMove else Qt.NoButton
    event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, Qt.NoModifier)
    QApplication.sendEvent(widget, event)


def drag(widget, points) -> None:
    """Press at the first point, move through the others, release at the last."""
    mouse(widget, QEvent.MouseButtonPress, points[0])
    for p in points[1:]:
        mouse(widget, QEvent.MouseMove, p)
    mouse(widget, QEvent.MouseButtonRelease, points[-1], Qt.NoButton)


def add_selected(window, type_id: str) -> str:
    node = window.doc.add_node(type_id, (0, 0))
    window.scene.select_nodes([node])
    return node


class TestXYPad:
    def test_the_inspector_shows_an_xy_pad_for_latent_xy(self, window):
        add_selected(window, "latent.xy")
        pad = window.inspector.xy_pads[("x", "y")]
        assert isinstance(pad, XYPad) and pad.isVisible()
        assert pad.width() == pad.height()
        add_selected(window, "gen.oscillator")
        assert window.inspector.xy_pads == {}

    def test_any_node_type_declaring_xy_pad_gets_one(self, window, monkeypatch):
        from neuropatch.nodes.latent import OffsetScale

        monkeypatch.setattr(OffsetScale, "xy_pad", ("offset_2", "offset_5"), raising=False)
        add_selected(window, "latent.offset_scale")
        assert ("offset_2", "offset_5") in window.inspector.xy_pads

    def test_dragging_sets_x_and_y_and_one_undo_restores_both(self, window):
        node = add_selected(window, "latent.xy")
        pad = window.inspector.xy_pads[("x", "y")]
        params = window.doc.graph.nodes[node].params
        steps = window.doc.undo_stack.count()
        w, h = pad.width(), pad.height()
        # up and left of the centre is negative x, positive y
        mouse(pad, QEvent.MouseButtonPress, QPointF(w * 0.25, h * 0.25))
        assert params["x"] < -1.0 and params["y"] > 1.0
        mouse(pad, QEvent.MouseMove, QPointF(w * 0.75, h * 0.6))
        assert params["x"] > 1.0 and params["y"] < 0.0
        mouse(pad, QEvent.MouseMove, QPointF(w + 20, -20))
        mouse(pad, QEvent.MouseButtonRelease, QPointF(w + 20, -20), Qt.NoButton)
        assert (params["x"], params["y"]) == (4.0, 4.0)          # clamped at the top-right corner
        assert window.doc.undo_stack.count() == steps + 1
        assert (pad.x, pad.y) == (4.0, 4.0)
        assert window.inspector.editors["x"].spin.value() == 4.0

        window.doc.undo_stack.undo()
        params = window.doc.graph.nodes[node].params
        assert (params["x"], params["y"]) == (0.0, 0.0)
        assert (pad.x, pad.y) == (0.0, 0.0)                       # the pad follows undo
        assert window.inspector.editors["y"].spin.value() == 0.0
        window.doc.undo_stack.redo()
        assert (params["x"], params["y"]) == (4.0, 4.0)

    def test_a_second_drag_is_its_own_undo_step(self, window):
        node = add_selected(window, "latent.xy")
        pad = window.inspector.xy_pads[("x", "y")]
        w, h = pad.width(), pad.height()
        drag(pad, [QPointF(w * 0.5, h * 0.5), QPointF(w + 5, h * 0.5)])
        drag(pad, [QPointF(w * 0.5, h * 0.5), QPointF(w * 0.5, -5)])
        params = window.doc.graph.nodes[node].params
        assert (params["x"], params["y"]) == (0.0, 4.0)
        window.doc.undo_stack.undo()
        assert (params["x"], params["y"]) == (4.0, 0.0)

    def test_editing_x_in_its_spin_box_moves_the_pad_point(self, window):
        node = add_selected(window, "latent.xy")
        pad = window.inspector.xy_pads[("x", "y")]
        window.inspector.editors["x"].spin.setValue(-3.0)
        assert window.doc.graph.nodes[node].params["x"] == -3.0
        assert pad.x == -3.0


class TestLatentSpaceView:
    def test_bars_show_the_latest_fed_frame(self, qtbot):
        view = LatentSpaceView()
        qtbot.addWidget(view)
        frames = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
        view.feed(frames)
        heights = np.asarray(view.bars.opts["height"], np.float32)
        assert np.array_equal(heights, frames[-1])
        assert list(view.bars.opts["x"]) == list(range(8))

    def test_the_trail_keeps_the_first_two_dims_of_the_last_200_frames(self, qtbot):
        view = LatentSpaceView()
        qtbot.addWidget(view)
        frames = np.random.default_rng(1).standard_normal((260, 4)).astype(np.float32)
        view.feed(frames[:60])
        view.feed(frames[60:])
        x, y = view.path_points.getData()
        assert len(x) == 200
        assert np.array_equal(x, frames[-200:, 0]) and np.array_equal(y, frames[-200:, 1])
        head_x, head_y = view.head.getData()
        assert (head_x[0], head_y[0]) == (frames[-1, 0], frames[-1, 1])
        # the trail fades: older points are more transparent than newer ones
        alphas = [b.color().alpha() for b in view.path_points.data["brush"]]
        assert alphas[0] < alphas[100] < alphas[-1]

    def test_axes_are_labelled(self, qtbot):
        view = LatentSpaceView()
        qtbot.addWidget(view)
        assert view.path_plot.getAxis("bottom").labelText == "z0"
        assert view.path_plot.getAxis("left").labelText == "z1"
        assert view.bar_plot.getAxis("bottom").labelText == "dimension"
        assert view.zero_line.value() == 0.0

    def test_a_one_dimensional_stream_is_drawn_on_the_z0_axis(self, qtbot):
        view = LatentSpaceView()
        qtbot.addWidget(view)
        view.feed(np.array([[0.5], [-1.5]], np.float32))
        x, y = view.path_points.getData()
        assert list(x) == [0.5, -1.5] and list(y) == [0.0, 0.0]
        assert list(view.bars.opts["height"]) == [-1.5]

    def test_latent_ports_offer_the_latent_space_view(self, window):
        assert "latent space" in views_for_kind("latent")
        node = window.doc.add_node("latent.noise", (0, 0))
        port = window.scene.node_items[node].port("out", True)
        window._port_menu(port, QPoint(100, 100))
        texts = [a.text() for a in window._menu.actions()]
        window._menu.close()
        assert "Show latent space in a dock" in texts
        dock = window.show_visualizer(node, "out", "latent space")
        assert isinstance(dock.view, LatentSpaceView)
        dock.feed(np.full((3, 8), 0.25, np.float32))
        assert np.all(np.asarray(dock.view.bars.opts["height"]) == 0.25)
        dock.close()
