"""Tab quick-add: a popup at the cursor with fuzzy search over node types."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout

from .palette import TYPE_ROLE, node_entries


def fuzzy_score(query: str, text: str) -> float | None:
    """Score of `query` as an in-order subsequence of `text` (higher is better), None if absent.

    Consecutive matches and matches at word starts score more; shorter texts win ties.
    """
    query, text = query.lower().replace(" ", ""), text.lower()
    if not query:
        return 0.0
    score, pos, run = 0.0, 0, 0
    for ch in query:
        i = text.find(ch, pos)
        if i < 0:
            return None
        run = run + 1 if i == pos else 0
        start = i == 0 or text[i - 1] in " ._-"
        score += 1.0 + run * 2.0 + (3.0 if start else 0.0)
        pos = i + 1
    return score - 0.01 * len(text)


def rank(query: str, entries: list[dict]) -> list[dict]:
    scored = []
    for e in entries:
        s = max((v for v in (fuzzy_score(query, e["title"]), fuzzy_score(query, e["type"])) if v is not None),
                default=None)
        if s is not None:
            scored.append((s, e))
    scored.sort(key=lambda t: (-t[0], t[1]["type"]))
    return [e for _, e in scored]


class QuickAdd(QFrame):
    """Popup; emits ``chosen(type_id)`` on Enter/click and closes."""

    chosen = Signal(str)

    def __init__(self, registry, parent=None):
        super().__init__(parent, Qt.Popup)
        self.setFrameShape(QFrame.StyledPanel)
        self.entries = node_entries(registry)
        self.edit = QLineEdit(placeholderText="Add node…")
        self.list = QListWidget()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(3, 3, 3, 3)
        lay.addWidget(self.edit)
        lay.addWidget(self.list)
        self.resize(280, 300)
        self.edit.textChanged.connect(self.refresh)
        self.edit.returnPressed.connect(self.accept_current)
        self.list.itemActivated.connect(lambda _item: self.accept_current())
        self.list.itemClicked.connect(lambda _item: self.accept_current())
        self.edit.installEventFilter(self)
        self.refresh("")

    def refresh(self, text: str) -> None:
        self.list.clear()
        for e in rank(text, self.entries):
            item = QListWidgetItem(f"{e['title']}   ({e['type']})")
            item.setData(TYPE_ROLE, e["type"])
            item.setToolTip(e["doc"])
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def eventFilter(self, obj, event):
        if obj is self.edit and event.type() == event.Type.KeyPress and event.key() in (Qt.Key_Down, Qt.Key_Up):
            row = self.list.currentRow() + (1 if event.key() == Qt.Key_Down else -1)
            if 0 <= row < self.list.count():
                self.list.setCurrentRow(row)
            return True
        return super().eventFilter(obj, event)

    def accept_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            type_id = item.data(TYPE_ROLE)
            self.close()
            self.chosen.emit(type_id)

    def popup_at(self, global_pos) -> None:
        self.move(global_pos)
        self.show()
        self.edit.setFocus()


def open_quick_add(parent, registry, doc, scene, view, scene_pos) -> QuickAdd:
    """Show the quick-add popup at `scene_pos` of `view`; the chosen type is added to `doc`
    there (one undo step) and selected in `scene`."""
    popup = QuickAdd(registry, parent)
    pos = (round(scene_pos.x()), round(scene_pos.y()))

    def chosen(type_id):
        node_id = doc.add_node(type_id, pos)
        if node_id:
            scene.select_nodes([node_id])

    popup.chosen.connect(chosen)
    popup.popup_at(view.viewport().mapToGlobal(view.mapFromScene(scene_pos)))
    return popup
