"""View nodes in the editor: palette, displays with axes and units, size and settings
saved with the patch, "watch with…", node faces and their badges."""
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter

from neuropatch.app.editor.views import make_display
from neuropatch.app.editor.views.axes import BACKGROUND, plot_rect
from neuropatch.app.editor.views.spectrogram import axis_frequency
from neuropatch.engine import default_registry
from neuropatch.engine.events import NOTE_OFF, NOTE_ON

REPO = Path(__file__).resolve().parents[2]
SR = 48000
VIEW_TYPES = [cls.type_id for cls in default_registry().classes() if cls.display]
UNITS = {"view.spectrogram": {"Hz", "s", "dB"}, "view.scope": {"ms", "FS"}, "view.meter": {"dBFS"},
         "view.pitch": {"s", "note"}, "view.latent": {"frames", "dim", "z"}, "view.piano_roll": {"s", "note"}}


def tone(freq_hz=1000.0, seconds=1.0, level=0.5):
    t = np.arange(int(seconds * SR)) / SR
    return (level * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)[None]


def sample_stream(type_id):
    """What the view's input tap would deliver: audio, pitch frames, latent frames or events."""
    if type_id == "view.pitch":
        return np.full((200, 1, 1), 220.0, np.float32)
    if type_id == "view.latent":
        return np.random.default_rng(0).standard_normal((100, 8)).astype(np.float32)
    if type_id == "view.piano_roll":
        return np.array([[0.1, NOTE_ON, 0, 60, 100, 0], [0.9, NOTE_OFF, 0, 60, 0, 0],
                         [1.0, NOTE_ON, 0, 67, 90, 0]], np.float32)
    return tone()


def render(display, width, height) -> QImage:
    image = QImage(width, height, QImage.Format_RGB32)
    painter = QPainter(image)
    display.paint(painter, QRectF(0, 0, width, height))
    painter.end()
    return image


def coloured_pixels(image: QImage, rect) -> int:
    """Pixels inside rect (x0, y0, x1, y1) that are neither background nor grey (axis lines)."""
    count = 0
    bg = BACKGROUND.rgb()
    for y in range(rect[1], rect[3], 2):
        for x in range(rect[0], rect[2], 2):
            c = QColor(image.pixel(x, y))
            if c.rgb() != bg and max(c.red(), c.green(), c.blue()) - min(c.red(), c.green(), c.blue()) > 30:
                count += 1
    return count


class TestPalette:
    def test_searching_the_palette_finds_the_views_under_view(self, qtbot):
        from neuropatch.app.editor.palette import Palette, node_entries

        palette = Palette(default_registry())
        qtbot.addWidget(palette)
        for word, type_id in (("spectrogram", "view.spectrogram"), ("scope", "view.scope"),
                              ("meter", "view.meter"), ("piano roll", "view.piano_roll")):
            palette.apply_filter(word)
            assert type_id in palette.visible_types(), word
        categories = {e["type"]: e["category"] for e in node_entries(default_registry())}
        assert {categories[t] for t in VIEW_TYPES} == {"view"}


class TestDisplays:
    @pytest.mark.parametrize("type_id", VIEW_TYPES)
    def test_display_draws_its_data_and_axes_with_units(self, type_id, qtbot):
        cls = default_registry().resolve(type_id)
        params = {p.name: p.default for p in cls.params}
        display = make_display(cls.display, params, SR)
        display.hop = 256 if type_id == "view.pitch" else 0
        empty = render(display, params["width"], params["height"])
        display.feed(sample_stream(type_id))
        drawn = render(display, params["width"], params["height"])
        assert UNITS[type_id] <= set(display.labels), display.labels
        assert len(display.labels) >= len(UNITS[type_id]) + 3       # tick labels besides the units
        r = plot_rect(QRectF(0, 0, params["width"], params["height"]), display.has_colour_bar)
        plot = (int(r.left()) + 2, int(r.top()) + 2, int(r.right()) - 1, int(r.bottom()) - 1)
        assert coloured_pixels(drawn, plot) > coloured_pixels(empty, plot) + 5

    @pytest.mark.parametrize("scale", ["linear", "log", "mel"])
    def test_spectrogram_draws_a_tone_at_its_frequency_on_each_scale(self, scale, qtbot):
        display = make_display("spectrogram", {"scale": scale, "n_fft": 2048, "floor_db": -100.0,
                                               "history_s": 2.0}, SR)
        display.feed(tone(2000.0, 2.0))
        height = 300
        image = render(display, 400, height)
        plot = plot_rect(QRectF(0, 0, 400, height), colour_bar=True)
        x = int(plot.right()) - 3
        rows = range(int(plot.top()) + 1, int(plot.bottom()) - 1)
        bright = max(rows, key=lambda y: QColor(image.pixel(x, y)).lightness())
        fraction = (plot.bottom() - bright - 0.5) / plot.height()
        found = float(axis_frequency(fraction, SR / 2, scale))
        assert found == pytest.approx(2000.0, rel=0.12)

    def test_scope_starts_its_sweep_on_a_rising_zero_crossing(self):
        display = make_display("scope", {"time_ms": 5.0, "trigger": "rising", "trigger_level": 0.0,
                                         "amplitude": 1.0}, SR)
        signal = np.roll(tone(200.0, 0.2), 37, axis=1)    # an arbitrary phase
        display.feed(signal)
        sweep = display.current_sweep()
        assert display.triggered and sweep.shape[0] == 240
        assert abs(sweep[0]) < 0.01 and sweep[3] > sweep[0]

    def test_meter_reads_peak_and_rms_in_dbfs_and_lights_on_clipping(self):
        display = make_display("meter", {"floor_db": -60.0, "hold_s": 1.5}, SR)
        display.feed(tone(1000.0, 0.1, 0.5))
        assert display.peak_db[0] == pytest.approx(-6.02, abs=0.05)
        assert display.rms_db[0] == pytest.approx(-9.03, abs=0.05)
        assert not display.clipped[0]
        display.feed(tone(1000.0, 0.1, 1.2))
        assert display.clipped[0] and display.hold_db[0] == pytest.approx(20 * np.log10(1.2), abs=0.05)


@pytest.fixture
def patch_with_views(fake_window, tmp_path):
    w = fake_window
    path = tmp_path / "tone.json"
    path.write_bytes((REPO / "patches" / "hello_tone.json").read_bytes())
    assert w.open_path(path)
    return w


def add_view(window, type_id, src="gain", port="out"):
    from neuropatch.app.editor.watch import watch_with

    return watch_with(window.doc, window.scene, src, port, type_id)


class TestOnTheCanvas:
    def test_watch_with_adds_a_cabled_view_node_in_one_undo_step(self, patch_with_views):
        w = patch_with_views
        from neuropatch.app.editor.context_menus import port_menu

        menu = port_menu(w, w.scene.node_items["gain"].outputs["out"])
        watch = next(a.menu() for a in menu.actions() if a.text() == "Watch with…")
        titles = [a.text() for a in watch.actions()]
        assert {"Spectrogram", "Scope", "Meter"} <= set(titles) and "Piano roll" not in titles
        depth = w.doc.undo_stack.count()
        next(a for a in watch.actions() if a.text() == "Meter").trigger()
        node_id = w.scene.selected_node_ids()[0]
        assert w.doc.graph.nodes[node_id].type == "view.meter"
        assert any(e.src == "gain" and e.dst == node_id for e in w.doc.graph.edges)
        assert w.doc.undo_stack.count() == depth + 1
        w.doc.undo_stack.undo()
        assert node_id not in w.doc.graph.nodes and node_id not in w.scene.node_items

    def test_a_cable_menu_offers_the_views_of_its_stream(self, patch_with_views):
        from neuropatch.app.editor.context_menus import cable_menu

        w = patch_with_views
        cable = next(iter(w.scene.cable_items.values()))
        menu = cable_menu(w, cable)
        watch = next(a.menu() for a in menu.actions() if a.text() == "Watch with…")
        assert "Spectrogram" in [a.text() for a in watch.actions()]

    def test_view_draws_inside_its_node_and_resizes_in_one_undo_step(self, patch_with_views):
        w = patch_with_views
        node_id = add_view(w, "view.spectrogram")
        node_item = w.scene.node_items[node_id]
        view = w.views.items[node_id]
        assert node_item.body is view
        assert node_item.width() >= 360 and node_item.height() > 200
        depth = w.doc.undo_stack.count()
        assert w.views.commit_size(node_id, 500, 260)
        assert w.doc.undo_stack.count() == depth + 1
        assert w.doc.graph.nodes[node_id].params["width"] == 500
        assert view.boundingRect().width() == 500 and node_item.width() >= 500
        w.doc.undo_stack.undo()
        assert view.boundingRect().width() == 360 and w.doc.graph.nodes[node_id].params["width"] == 360

    def test_view_size_and_settings_survive_save_and_load(self, patch_with_views, tmp_path):
        w = patch_with_views
        node_id = add_view(w, "view.spectrogram")
        w.doc.set_param(node_id, "scale", "mel")
        w.doc.set_param(node_id, "freeze", True)
        w.doc.set_param(node_id, "floor_db", -80.0)
        w.views.commit_size(node_id, 480, 240)
        path = tmp_path / "saved.json"
        assert w.save_as(path)
        assert w.new_patch() and node_id not in w.views.items
        assert w.open_path(path)
        display = w.views.items[node_id].display
        assert (display.params["scale"], display.params["freeze"], display.params["floor_db"]) == ("mel", True, -80.0)
        assert w.views.items[node_id].boundingRect().size().toTuple() == (480.0, 240.0)

    def test_view_pops_out_into_a_window_sharing_its_display(self, patch_with_views, qtbot):
        w = patch_with_views
        node_id = add_view(w, "view.scope")
        window = w.views.pop_out(node_id)
        qtbot.addWidget(window)
        assert window.isVisible() and window.display is w.views.items[node_id].display

    def test_meter_resets_to_floor_after_stop(self, patch_with_views):
        w = patch_with_views
        node_id = add_view(w, "view.meter")
        w.toggle_transport()
        w.live.feed_visualizers()
        display = w.views.items[node_id].display
        assert display.peak_db[0] == pytest.approx(20 * np.log10(0.25), abs=0.2)   # the fake tap's sine
        w.toggle_transport()
        assert display.items_fed == 0 and display.peak_db[0] < -100 and display.hold_db[0] < -100


class TestFaces:
    def test_face_shows_primary_params_and_edits_them_undoably(self, patch_with_views):
        from neuropatch.app.editor.node_face import FACE_W, FaceItem

        w = patch_with_views
        face = w.scene.node_items["osc"].body
        assert isinstance(face, FaceItem)
        assert [p.name for p in face.params] == ["freq_hz", "level_db"]
        level = face.params[1]
        assert face.set_from_x(level, FACE_W * 0.5, token=None)
        assert w.doc.graph.nodes["osc"].params["level_db"] == pytest.approx(-48.0)
        w.doc.undo_stack.undo()
        assert w.doc.graph.nodes["osc"].params["level_db"] == -18.0

    def test_face_names_the_loaded_file(self, fake_window, tmp_path):
        w = fake_window
        wav = tmp_path / "loop.wav"
        import soundfile as sf

        sf.write(wav, np.zeros(480, np.float32), SR)
        node_id = w.add_file_node(wav, (0, 0))
        assert w.scene.node_items[node_id].body.file_name(w.scene.node_items[node_id].body.resources[0]) == "loop.wav"

    def test_badges_show_cpu_share_while_playing_and_clear_on_stop(self, patch_with_views):
        w = patch_with_views
        w.toggle_transport()
        w.live.metersUpdated.emit({"node_cpu": {"gain": 0.034}, "sample_rate": SR,
                                   "lanes": {"osc": {"buffer_latency": 480, "model_delay": 0}}})
        assert w.scene.node_items["gain"].badges == ["3.4%"]
        assert w.scene.node_items["osc"].badges == ["10.0 ms"]
        w.toggle_transport()
        assert w.scene.node_items["gain"].badges == []
