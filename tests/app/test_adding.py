"""Adding nodes: palette search and drag data, Tab quick-add with fuzzy search."""
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from neuropatch.app.editor.canvas import NODE_MIME
from neuropatch.app.editor.quick_add import fuzzy_score, rank


def test_palette_lists_every_registered_type_and_filters_by_search(window, registry):
    pal = window.palette
    assert sorted(pal.visible_types()) == sorted(registry.types())
    pal.search.setText("gen.noise")
    assert pal.visible_types() == ["gen.noise"]
    pal.search.setText("noise")
    assert "gen.noise" in pal.visible_types() and "util.gain" not in pal.visible_types()
    pal.search.setText("io out")
    assert set(pal.visible_types()) >= {"io.audio_out"} and "gen.noise" not in pal.visible_types()
    pal.search.clear()
    gen = next(pal.tree.topLevelItem(i) for i in range(pal.tree.topLevelItemCount())
               if pal.tree.topLevelItem(i).text(0) == "generators")
    item = next(gen.child(j) for j in range(gen.childCount()) if gen.child(j).text(0) == "Oscillator")
    mime = pal.tree.mimeData([item])
    assert bytes(mime.data(NODE_MIME)).decode() == "gen.oscillator"
    pal.tree.itemDoubleClicked.emit(item, 0)
    assert [s.type for s in window.doc.graph.nodes.values()] == ["gen.oscillator"]


def test_fuzzy_search_ranks_subsequence_matches():
    assert fuzzy_score("osc", "Oscillator") > fuzzy_score("osc", "Noise Gate Mosc")
    assert fuzzy_score("xyz", "Oscillator") is None
    entries = [{"type": "util.gain", "title": "Gain"}, {"type": "gen.oscillator", "title": "Oscillator"},
               {"type": "io.audio_out", "title": "Audio Out"}]
    assert rank("osc", entries)[0]["type"] == "gen.oscillator"
    assert rank("aout", entries)[0]["type"] == "io.audio_out"
    assert rank("gn", entries)[0]["type"] == "util.gain"


def test_tab_opens_quick_add_at_the_cursor_and_enter_adds_the_best_match(window, qtbot):
    vp = window.view.viewport()
    QTest.mouseMove(vp, QPoint(300, 250))
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key_Tab)
    popup = window._quick_add
    assert popup.isVisible()
    QTest.keyClicks(popup.edit, "gain")
    assert popup.list.currentItem().text().startswith("Gain")
    QTest.keyClick(popup.edit, Qt.Key_Return)
    assert not popup.isVisible()
    (spec,) = window.doc.graph.nodes.values()
    assert spec.type == "util.gain"
    assert window.scene.selected_node_ids() == [spec.id]
