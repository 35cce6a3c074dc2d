"""The node palette: node types by category, searchable, dragged onto the canvas."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from .canvas import NODE_MIME

TYPE_ROLE = Qt.UserRole + 1


def node_entries(registry) -> list[dict]:
    """One entry per registered type: type, title, category, doc (looked up at run time)."""
    out = []
    for cls in registry.classes():
        out.append({"type": cls.type_id, "title": cls.title or cls.type_id,
                    "category": cls.category or cls.type_id.split(".")[0], "doc": cls.doc or ""})
    return out


def node_mime(type_id: str) -> QMimeData:
    mime = QMimeData()
    mime.setData(NODE_MIME, type_id.encode("utf-8"))
    mime.setText(type_id)
    return mime


class _Tree(QTreeWidget):
    def mimeTypes(self):
        return [NODE_MIME]

    def mimeData(self, items):
        types = [i.data(0, TYPE_ROLE) for i in items if i.data(0, TYPE_ROLE)]
        return node_mime(types[0]) if types else QMimeData()


class Palette(QWidget):
    addRequested = Signal(str)   # type id (double-click: add at the view centre)

    def __init__(self, registry, parent=None):
        super().__init__(parent)
        self.registry = registry
        self.search = QLineEdit(placeholderText="Search nodes…")
        self.search.setClearButtonEnabled(True)
        self.tree = _Tree()
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QTreeWidget.DragOnly)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.search)
        lay.addWidget(self.tree)
        self.search.textChanged.connect(self.apply_filter)
        self.tree.itemDoubleClicked.connect(self._double_clicked)
        self.populate()

    def populate(self) -> None:
        self.tree.clear()
        cats: dict[str, QTreeWidgetItem] = {}
        for e in sorted(node_entries(self.registry), key=lambda e: (e["category"], e["title"])):
            cat = cats.get(e["category"])
            if cat is None:
                cat = cats[e["category"]] = QTreeWidgetItem(self.tree, [e["category"]])
                cat.setFlags(Qt.ItemIsEnabled)
            item = QTreeWidgetItem(cat, [e["title"]])
            item.setData(0, TYPE_ROLE, e["type"])
            item.setToolTip(0, f"{e['type']}\n{e['doc']}")
            item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsDragEnabled)
        self.tree.expandAll()

    def apply_filter(self, text: str) -> None:
        text = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            cat = self.tree.topLevelItem(i)
            visible = 0
            for j in range(cat.childCount()):
                item = cat.child(j)
                hay = f"{item.text(0)} {item.data(0, TYPE_ROLE)} {item.toolTip(0)}".lower()
                hit = not text or all(w in hay for w in text.split())
                item.setHidden(not hit)
                visible += hit
            cat.setHidden(visible == 0)

    def visible_types(self) -> list[str]:
        out = []
        for i in range(self.tree.topLevelItemCount()):
            cat = self.tree.topLevelItem(i)
            for j in range(cat.childCount()):
                if not cat.child(j).isHidden() and not cat.isHidden():
                    out.append(cat.child(j).data(0, TYPE_ROLE))
        return out

    def _double_clicked(self, item, column) -> None:
        type_id = item.data(0, TYPE_ROLE)
        if type_id:
            self.addRequested.emit(type_id)
