"""Tab quick-add: a popup at the cursor with fuzzy search over node types. Opened from a
cable dropped on empty canvas it lists only the types with a port that cable fits, and
connects the chosen node."""
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


def exact_bonus(query: str, entry: dict) -> float:
    """Exact matches first: the whole title or type id, then a whole word of either
    ("out" finds "Audio Out" and io.audio_out before "Outlet")."""
    q = query.strip().lower()
    if not q:
        return 0.0
    title, type_id = entry["title"].lower(), entry["type"].lower()
    if q in (title, type_id, type_id.rsplit(".", 1)[-1]):
        return 1000.0
    words = set(title.replace("-", " ").split()) | set(type_id.replace(".", " ").replace("_", " ").split())
    return 500.0 if q in words else 0.0


def rank(query: str, entries: list[dict]) -> list[dict]:
    scored = []
    for e in entries:
        s = max((v for v in (fuzzy_score(query, e["title"]), fuzzy_score(query, e["type"])) if v is not None),
                default=None)
        if s is not None:
            scored.append((s + exact_bonus(query, e), e))
    scored.sort(key=lambda t: (-t[0], t[1]["type"]))
    return [e for _, e in scored]


class QuickAdd(QFrame):
    """Popup; emits ``chosen(type_id)`` on Enter/click and closes."""

    chosen = Signal(str)

    def __init__(self, registry, parent=None, accept=None):
        super().__init__(parent, Qt.Popup)
        self.setFrameShape(QFrame.StyledPanel)
        self.entries = [e for e in node_entries(registry) if accept is None or accept(e["type"])]
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


def fitting_port(registry, type_id: str, kind: str, want_input: bool) -> str | None:
    """The first port of a fresh `type_id` node of stream `kind` on the wanted side."""
    cls = registry.resolve(type_id)
    if cls is None:
        return None
    try:
        node = cls()
        ports = node.input_ports() if want_input else node.output_ports()
    except Exception:   # a node type that cannot be built bare is not offered
        return None
    return next((p.name for p in ports if p.kind == kind), None)


def open_quick_add(parent, registry, doc, scene, view, scene_pos, from_port=None) -> QuickAdd:
    """Show the quick-add popup at `scene_pos` of `view`; the chosen type is added to `doc`
    there (one undo step) and selected in `scene`. With `from_port` (the PortItem a cable was
    dragged from) only types with a port of its kind on the other side are listed, and the
    new node is connected to it."""
    accept = None
    if from_port is not None:
        accept = lambda t: fitting_port(registry, t, from_port.kind, from_port.output) is not None  # noqa: E731
    popup = QuickAdd(registry, parent, accept)
    start = None if from_port is None else (from_port.node_id, from_port.name, from_port.kind, from_port.output)
    pos = (round(scene_pos.x()), round(scene_pos.y()))

    def chosen(type_id):
        node_id = doc.add_node(type_id, pos)
        if node_id:
            scene.select_nodes([node_id])
        if node_id and start is not None:
            start_node, start_name, kind, output = start
            other = fitting_port(registry, type_id, kind, output)
            if output:
                doc.connect_ports(start_node, start_name, node_id, other)
            else:
                doc.connect_ports(node_id, other, start_node, start_name)

    popup.chosen.connect(chosen)
    popup.popup_at(view.viewport().mapToGlobal(view.mapFromScene(scene_pos)))
    return popup


def insert_into_cable(parent, registry, doc, scene, view, scene_pos, edge) -> QuickAdd:
    """Quick-add listing the node types with an input and an output of `edge`'s stream kind;
    the chosen node is added at `scene_pos` and the cable rewired through it (src -> new ->
    dst, one undo step after the add)."""
    from neuropatch.engine import Batch, Connect, Disconnect, Edge

    kind = doc.port_kind(edge.src, edge.src_port, output=True)

    def fits(type_id):
        return (fitting_port(registry, type_id, kind, True) is not None
                and fitting_port(registry, type_id, kind, False) is not None)

    popup = QuickAdd(registry, parent, fits)
    pos = (round(scene_pos.x()), round(scene_pos.y()))

    def chosen(type_id):
        node_id = doc.add_node(type_id, pos)
        if not node_id:
            return
        scene.select_nodes([node_id])
        new_in = fitting_port(registry, type_id, kind, True)
        new_out = fitting_port(registry, type_id, kind, False)
        doc.execute(Batch([Disconnect(edge), Connect(Edge(edge.src, edge.src_port, node_id, new_in)),
                           Connect(Edge(node_id, new_out, edge.dst, edge.dst_port))]),
                    f"Insert {node_id}")

    popup.chosen.connect(chosen)
    popup.popup_at(view.viewport().mapToGlobal(view.mapFromScene(scene_pos)))
    return popup
