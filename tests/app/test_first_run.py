"""First run: the start panel over an empty canvas, the Help menu and node help, a readable
zoom for opened patches, window layout remembered."""
from pathlib import Path

from PySide6.QtWidgets import QApplication

from neuropatch.app.editor.canvas import READABLE_ZOOM

EXAMPLES = Path(__file__).resolve().parents[2] / "patches"


def test_the_empty_canvas_shows_the_start_panel_until_the_patch_has_a_node(window):
    panel = window.start_panel
    assert panel.isVisible()
    assert "amp_sim" in panel.example_buttons and not panel.example_buttons["amp_sim"].icon().isNull()
    vp = window.view.viewport().rect()
    assert vp.contains(panel.geometry())
    window.doc.add_node("gen.oscillator", (0, 0))
    assert not panel.isVisible()
    window.doc.undo_stack.undo()
    assert panel.isVisible()
    panel.example_buttons["hello_tone"].click()
    assert window.doc.path.name == "hello_tone.json" and not panel.isVisible()


def test_an_opened_patch_is_framed_no_smaller_than_a_readable_zoom(window):
    window.resize(1280, 800)
    QApplication.processEvents()
    assert window.open_path(EXAMPLES / "amp_sim.json")
    assert window.view.zoom() >= READABLE_ZOOM - 1e-9
    first = min(window.scene.node_items.values(), key=lambda i: (i.scenePos().x(), i.scenePos().y()))
    assert window.view.viewport().rect().contains(window.view.mapFromScene(first.sceneBoundingRect().center()))


def test_f1_shows_the_selected_nodes_doc_ports_params_and_an_example_using_it(window):
    amp = window.doc.add_node("amp.nam", (0, 0))
    window.scene.select_nodes([amp])
    dialog = window.help.node_help()
    text = dialog.browser.toPlainText()
    assert "Neural Amp" in text and "Input gain (dB)" in text and "−24 … 24 dB" in text
    assert "in (audio)" in text and "amp_sim" in text
    window.inspector.help_button.click()
    assert len(window.help.open_dialogs) == 2
    for d in list(window.help.open_dialogs):
        d.close()


def test_window_geometry_and_docks_are_remembered_by_the_application(qtbot, tmp_path):
    from neuropatch.app.editor.main_window import MainWindow

    first = MainWindow(recovery_folder=tmp_path / "r")
    qtbot.addWidget(first)
    first.restore_layout()
    first.resize(760, 560)   # inside the offscreen screen: restoring clamps to the screen
    first.library_dock.hide()
    first.show()
    QApplication.processEvents()
    size = first.size()
    first.close()
    second = MainWindow(recovery_folder=tmp_path / "r")
    qtbot.addWidget(second)
    assert second.restore_layout()
    second.show()
    assert second.size() == size and size.height() == 560 and second.library_dock.isHidden()
    second.library_dock.show()
    second.close()
