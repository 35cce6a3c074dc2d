"""Inspector of the selected node: params from their specs (labels, ranges, refusals in
number_editor), resources, the node's own warnings next to the params they name, docs.

It fits any dock width: rows put the label above the control, the body scrolls vertically
and never sideways, long paths are elided.
"""
from __future__ import annotations

import html

import re
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QScrollArea, QSizePolicy, QToolButton, QVBoxLayout, QWidget)

from neuropatch.engine import Batch, ClearParam, SetBypass, SetNodeUi, SetParam, SetResource
from neuropatch.engine.subpatch import SetSubgraph

from neuropatch.engine.patch import node_ports
from neuropatch.engine.resources import missing_message, resolve_resource, resource_sha256, sha256_file
from neuropatch.engine.streams import KIND_COLOURS

from .document import new_merge_token
from .number_editor import NumberParamEditor
from .param_labels import param_label, param_tooltip

__all__ = ["Inspector", "NumberParamEditor", "XYPad", "resource_entry", "file_sha256"]

WARNING_STYLE = "color: #ffb74d;"
_UNSET = object()


file_sha256 = sha256_file   # one hashing helper: neuropatch.engine.resources


def resource_entry(path: Path, base_dir: Path | None) -> dict:
    """{"path", "sha256"} with the path relative to the patch folder when the file is inside it."""
    path = Path(path).resolve()
    stored = str(path)
    if base_dir is not None:
        try:
            stored = path.relative_to(Path(base_dir).resolve()).as_posix()
        except ValueError:
            pass
    return {"path": stored, "sha256": file_sha256(path)}


class ElidedLabel(QLabel):
    """One line of text (a file path) shortened in the middle to the width it gets; the
    whole text stays in text() and the tooltip."""

    def __init__(self, text: str = "", parent=None):
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.setToolTip(text)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def minimumSizeHint(self):
        hint = super().minimumSizeHint()
        hint.setWidth(min(hint.width(), 40))
        return hint

    def paintEvent(self, event):
        p = QPainter(self)
        shown = self.fontMetrics().elidedText(self.text(), Qt.ElideMiddle, self.width())
        p.setPen(self.palette().color(self.foregroundRole()))
        p.drawText(self.rect(), int(self.alignment()) | Qt.AlignVCenter, shown)
        p.end()


def wrapping_label(text: str = "") -> QLabel:
    """A label that wraps to the width it gets and never asks for more (long words are cut
    rather than widening the inspector)."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    return label


def params_named_in(message: str, names) -> list:
    """The param names that occur as words in `message` (a node's note)."""
    return [n for n in names if re.search(rf"(?<![\w.]){re.escape(n)}(?![\w])", message)]


class XYPad(QWidget):
    """A square pad that sets two numeric params at once: ``spec_x`` runs left (min) to
    right (max), ``spec_y`` bottom (min) to top (max). Pressing jumps the point under the
    mouse and dragging moves it; every value of one drag carries the same merge token, so
    the whole gesture is one undo step."""

    dragged = Signal(object, object, object)   # x, y, merge token
    SIZE = 180
    MARGIN = 7.0

    def __init__(self, spec_x, spec_y, x, y, parent=None):
        super().__init__(parent)
        self.spec_x, self.spec_y = spec_x, spec_y
        self.x, self.y = x, y
        self._token = None
        self.setFixedSize(self.SIZE, self.SIZE)
        self.setCursor(Qt.CrossCursor)
        self.setToolTip(f"drag: {spec_x.name} (horizontal) and {spec_y.name} (vertical)")

    def set_point(self, x, y) -> None:
        self.x, self.y = x, y
        self.update()

    def _area(self) -> QRectF:
        m = self.MARGIN
        return QRectF(m, m, self.width() - 2 * m, self.height() - 2 * m)

    def to_widget(self, x, y) -> QPointF:
        """Pad position of the param values (x, y)."""
        r = self._area()
        tx = (x - self.spec_x.min) / ((self.spec_x.max - self.spec_x.min) or 1.0)
        ty = (y - self.spec_y.min) / ((self.spec_y.max - self.spec_y.min) or 1.0)
        return QPointF(r.left() + tx * r.width(), r.bottom() - ty * r.height())

    def from_widget(self, pos: QPointF) -> tuple:
        """Param values (clamped to their ranges) under the pad position `pos`."""
        r = self._area()
        tx = (pos.x() - r.left()) / r.width()
        ty = (r.bottom() - pos.y()) / r.height()
        x = self.spec_x.clamp(self.spec_x.min + tx * (self.spec_x.max - self.spec_x.min))
        y = self.spec_y.clamp(self.spec_y.min + ty * (self.spec_y.max - self.spec_y.min))
        return x, y

    def _move(self, pos: QPointF) -> None:
        x, y = self.from_widget(pos)
        self.set_point(x, y)
        self.dragged.emit(x, y, self._token)

    def mousePressEvent(self, event):
        if event.button() != Qt.LeftButton:
            return super().mousePressEvent(event)
        self._token = new_merge_token()
        self._move(event.position())
        event.accept()

    def mouseMoveEvent(self, event):
        if self._token is None:
            return super().mouseMoveEvent(event)
        self._move(event.position())
        event.accept()

    def mouseReleaseEvent(self, event):
        if self._token is None or event.button() != Qt.LeftButton:
            return super().mouseReleaseEvent(event)
        self._move(event.position())
        self._token = None
        event.accept()

    def paintEvent(self, event):
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.fillRect(self.rect(), QColor("#1e1f22"))
        r = self._area()
        p.setPen(QPen(QColor("#3a3d42"), 1))
        for i in range(1, 4):
            p.drawLine(QPointF(r.left() + r.width() * i / 4, r.top()), QPointF(r.left() + r.width() * i / 4, r.bottom()))
            p.drawLine(QPointF(r.left(), r.top() + r.height() * i / 4), QPointF(r.right(), r.top() + r.height() * i / 4))
        p.setPen(QPen(QColor("#6a6e75"), 1))
        p.drawRect(r)
        origin = self.to_widget(min(max(0.0, self.spec_x.min), self.spec_x.max),
                                min(max(0.0, self.spec_y.min), self.spec_y.max))
        p.drawLine(QPointF(r.left(), origin.y()), QPointF(r.right(), origin.y()))
        p.drawLine(QPointF(origin.x(), r.top()), QPointF(origin.x(), r.bottom()))
        point = self.to_widget(self.x, self.y)
        colour = QColor(KIND_COLOURS["latent"])
        p.setPen(QPen(colour, 1, Qt.DashLine))
        p.drawLine(QPointF(r.left(), point.y()), QPointF(r.right(), point.y()))
        p.drawLine(QPointF(point.x(), r.top()), QPointF(point.x(), r.bottom()))
        p.setPen(QPen(QColor("#f0f0f0"), 2))
        p.setBrush(colour)
        p.drawEllipse(point, 6.0, 6.0)
        p.setPen(QColor("#c8c8c8"))
        p.drawText(r.adjusted(4, 2, -4, -2), Qt.AlignLeft | Qt.AlignTop,
                   f"{self.spec_x.name} {self.x:.2f}   {self.spec_y.name} {self.y:.2f}")
        p.end()


class Inspector(QWidget):
    """Shows the node `node_id` of `document`; edits go through the document (undoable)."""

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.node_id: str | None = None
        self.editors: dict = {}
        self.xy_pads: dict = {}     # (x param, y param) -> XYPad
        self.resource_labels: dict = {}
        self.resource_infos: dict = {}
        self.resource_picks: dict = {}
        self.warning_labels: dict = {}   # param name -> label of the node's notes naming it
        self.notes: dict = {}            # node id -> [note] from the last check-only compile
        self.help_button = None
        self.help_requested = None       # callable(node_id), set by the window
        self.file_dialog = self._ask_file  # replaced in tests
        self.setMinimumWidth(300)
        self.scroll = QScrollArea(widgetResizable=True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.body = QWidget()
        self.scroll.setWidget(self.body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.addWidget(self.scroll)
        document.commandApplied.connect(self._on_command)
        document.graphReplaced.connect(lambda: self.show_node(None))
        self.show_node(None)

    def show_node(self, node_id: str | None) -> None:
        if node_id is not None and node_id not in self.document.graph.nodes:
            node_id = None
        self.node_id = node_id
        self.editors.clear()
        self.xy_pads.clear()
        self.resource_labels.clear()
        self.resource_picks.clear()
        self.resource_infos.clear()
        self.warning_labels.clear()
        self.help_button = None
        body = QWidget()
        form = QFormLayout(body)
        form.setRowWrapPolicy(QFormLayout.WrapAllRows)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        if node_id is None:
            form.addRow(QLabel("Select a node to edit it."))
        else:
            self._fill(form, node_id)
        self.scroll.setWidget(body)
        self.body = body

    def _fill(self, form: QFormLayout, node_id: str) -> None:
        spec = self.document.graph.nodes[node_id]
        cls = self.document.node_class(node_id)
        head_row = QWidget()
        head_lay = QHBoxLayout(head_row)
        head_lay.setContentsMargins(0, 0, 0, 0)
        head = wrapping_label(self._head_html(node_id))
        self.head_label = head
        head_lay.addWidget(head, 1)
        if cls is not None:
            self.help_button = QToolButton(text="Help", toolTip="documentation of this node type (F1)")
            self.help_button.clicked.connect(lambda: self.help_requested and self.help_requested(self.node_id))
            head_lay.addWidget(self.help_button)
        form.addRow(head_row)
        if cls is None:
            form.addRow(QLabel(f"Placeholder: node type {spec.type!r} is not installed. "
                               "Its settings are kept and saved back unchanged; it passes silence."))
            return
        params = cls.params_for(self._resource_paths(spec), spec.params)
        for p in params:
            value = spec.params.get(p.name, p.default)
            editor = self._editor_for(p, value)
            editor.setToolTip(param_tooltip(p))
            self.editors[p.name] = editor
            label = QLabel(param_label(p))
            label.setToolTip(param_tooltip(p))
            form.addRow(label, editor)
            warning = wrapping_label()
            warning.setStyleSheet(WARNING_STYLE)
            warning.setVisible(False)
            self.warning_labels[p.name] = warning
            form.addRow(warning)
        self._show_notes()
        self._add_xy_pad(form, cls, spec)
        for r in cls.resources:
            row = QWidget()
            lay = QHBoxLayout(row)
            lay.setContentsMargins(0, 0, 0, 0)
            res = spec.resources.get(r.name)
            label = ElidedLabel(res["path"] if res else "(none)")
            pick = QToolButton(text="…", toolTip=f"choose {r.name} file")
            clear = QToolButton(text="✕", toolTip=f"clear {r.name}")
            pick.clicked.connect(lambda _=False, name=r.name, ext=r.extensions: self._pick(name, ext))
            clear.clicked.connect(lambda _=False, name=r.name: self.document.set_resource(self.node_id, name, None))
            lay.addWidget(label, 1)
            lay.addWidget(pick)
            lay.addWidget(clear)
            self.resource_labels[r.name] = label
            self.resource_picks[r.name] = pick
            form.addRow(f"{r.name.capitalize()} file", row)
            info = wrapping_label()
            self.resource_infos[r.name] = info
            self._show_resource_info(cls, r.name)
            form.addRow("", info)
        in_ports, out_ports = node_ports(spec, self.document.registry)
        ports = ", ".join(f"{p.name} ({p.kind})" for p in in_ports) or "none"
        outs = ", ".join(f"{p.name} ({p.kind})" for p in out_ports) or "none"
        doc = wrapping_label(f"{html.escape(cls.doc)}<br><br><b>in:</b> {ports}<br><b>out:</b> {outs}")
        form.addRow(doc)

    def set_notes(self, notes: dict) -> None:
        """The nodes' own warnings (node id -> [message]) from the last check-only compile;
        each shows under the params it names."""
        self.notes = {nid: list(msgs) for nid, msgs in notes.items()}
        self._show_notes()

    def _show_notes(self) -> None:
        mine = self.notes.get(self.node_id, []) if self.node_id else []
        for name, label in self.warning_labels.items():
            said = [m for m in mine if name in params_named_in(m, [name])]
            label.setText("\n".join(f"⚠ {m}" for m in said))
            label.setVisible(bool(said))

    def _resource_paths(self, spec) -> dict:
        """name -> absolute path of the node's resources (relative ones from the patch folder)."""
        base = self.document.base_dir
        paths = {}
        for name, res in spec.resources.items():
            if isinstance(res, dict) and res.get("path"):
                path = Path(res["path"])
                paths[name] = path if path.is_absolute() or base is None else Path(base) / path
        return paths

    def _editor_for(self, p, value) -> QWidget:
        nid = self.node_id
        if p.type is bool:
            w = QCheckBox()
            w.setChecked(bool(value))
            w.toggled.connect(lambda v, name=p.name: self.document.set_param(nid, name, bool(v)))
            return w
        if p.type is str and p.choices:
            w = QComboBox()
            w.addItems(list(p.choices))
            w.setCurrentText(str(value))
            w.currentTextChanged.connect(lambda v, name=p.name: self.document.set_param(nid, name, v))
            return w
        if p.type is str:
            w = QLineEdit(str(value))
            w.editingFinished.connect(lambda name=p.name, w=w: self.document.set_param(nid, name, w.text()))
            return w
        w = NumberParamEditor(p, value)
        w.committed.connect(lambda v, token, name=p.name: self.document.set_param(nid, name, v, token))
        return w

    def _add_xy_pad(self, form: QFormLayout, cls, spec) -> None:
        """An XY pad for node types declaring ``xy_pad = (x param, y param)`` (numeric params)."""
        names = getattr(cls, "xy_pad", None)
        if not isinstance(names, (tuple, list)) or len(names) != 2:
            return
        try:
            specs = [cls.param_spec(n) for n in names]
        except KeyError:
            return
        if any(s.type not in (int, float) for s in specs):
            return
        px, py = specs
        pad = XYPad(px, py, spec.params.get(px.name, px.default), spec.params.get(py.name, py.default))
        pad.dragged.connect(lambda x, y, token, a=px.name, b=py.name: self.set_params({a: x, b: y}, token))
        self.xy_pads[(px.name, py.name)] = pad
        form.addRow(f"{px.name} / {py.name}", pad)

    def set_params(self, values: dict, merge_token=None) -> bool:
        """Set several params of the shown node in one undoable step (validated like
        ``document.set_param``). Edits carrying the same merge token collapse into one undo
        step; every step sets all of `values`, so the merged step redoes the last of them."""
        nid = self.node_id
        cls = None if nid is None else self.document.node_class(nid)
        if cls is None:
            return False
        current = self.document.graph.nodes[nid].params
        cmds = []
        try:
            for name, value in values.items():
                spec = cls.param_spec(name)
                cmds.append(SetParam(nid, spec.name, spec.validate(spec.clamp(value))))
        except (KeyError, ValueError) as exc:
            self.document.message.emit(str(exc))
            return False
        if all(current.get(c.name, _UNSET) == c.value for c in cmds):
            return False
        key = ("params", nid, tuple(c.name for c in cmds), merge_token) if merge_token is not None else None
        return self.document.execute(Batch(cmds), f"Set {nid}." + "/".join(c.name for c in cmds), key)

    def _refresh_xy_pads(self, name: str) -> None:
        cls = self.document.node_class(self.node_id)
        if cls is None:
            return
        params = self.document.graph.nodes[self.node_id].params
        for (px, py), pad in self.xy_pads.items():
            if name in (px, py):
                pad.set_point(params.get(px, cls.param_spec(px).default), params.get(py, cls.param_spec(py).default))

    def _ask_file(self, name: str, extensions) -> str | None:
        pattern = " ".join(f"*{e}" for e in extensions) or "*"
        start = str(self.document.base_dir or Path.home())
        path, _ = QFileDialog.getOpenFileName(self, f"Choose {name} file", start,
                                              f"{name} ({pattern});;All files (*)")
        return path or None

    def _pick(self, name: str, extensions) -> None:
        path = self.file_dialog(name, extensions)
        if path:
            self.set_resource_file(name, Path(path))

    def set_resource_file(self, name: str, path: Path) -> bool:
        """Use `path` for resource `name`. Locating a missing file also rewires, in the same
        undo step, every other missing resource of the patch whose recorded sha256 matches a
        file in the same folder."""
        try:
            entry = resource_entry(path, self.document.base_dir)
        except OSError as exc:
            self.document.message.emit(f"cannot read {path}: {exc.strerror or exc}")
            return False
        old = self.document.graph.nodes[self.node_id].resources.get(name) or {}
        if old.get("sha256") and self._resolved(old) is None and old["sha256"] != entry["sha256"]:
            self.document.message.emit(f"{Path(path).name} is not the file the patch was saved with "
                                       f"(sha256 {entry['sha256'][:12]}…, recorded {old['sha256'][:12]}…)")
        cmds = [SetResource(self.node_id, name, entry)]
        if old and self._resolved(old) is None:
            cmds += self._rewire_by_hash(Path(path).parent, skip=(self.node_id, name))
        if len(cmds) == 1:
            return self.document.set_resource(self.node_id, name, entry)
        self.document.message.emit(f"located {len(cmds)} missing files in {Path(path).parent}")
        return self.document.execute(Batch(cmds), f"Locate {Path(path).name}")

    def _resolved(self, entry: dict) -> Path | None:
        """Where the file of a resource entry is now (moved files included), or None if missing."""
        path, _ = resolve_resource(entry, self.document.base_dir)
        return path if path is not None and path.exists() else None

    def _rewire_by_hash(self, folder: Path, skip) -> list:
        """SetResource commands for the patch's other missing resources found in `folder` by hash."""
        wanted = {}
        for nid, spec in self.document.graph.nodes.items():
            for rname, res in spec.resources.items():
                if (nid, rname) != skip and isinstance(res, dict) and res.get("sha256") \
                        and self._resolved(res) is None:
                    wanted.setdefault(str(res["sha256"]).lower(), []).append((nid, rname))
        cmds = []
        for candidate in sorted(folder.iterdir()) if wanted else []:
            if candidate.is_file():
                digest = resource_sha256(candidate)
                for nid, rname in wanted.pop(digest, []):
                    cmds.append(SetResource(nid, rname, resource_entry(candidate, self.document.base_dir)))
        return cmds

    def _head_html(self, node_id: str) -> str:
        """The node's name (its display title, else its id), its type, and whether it is bypassed."""
        spec = self.document.graph.nodes[node_id]
        title = spec.ui.get("title") if isinstance(spec.ui, dict) else None
        text = f"<b>{html.escape(title or node_id)}</b> &nbsp; <i>{html.escape(spec.type)}</i>"
        if title and title != node_id:
            text += f" &nbsp; ({html.escape(node_id)})"
        if spec.bypass:
            text += " &nbsp; <b>bypassed</b>"
        return text

    def header_text(self) -> str:
        """The header line of the shown node, as plain text ("" when none is shown)."""
        label = getattr(self, "head_label", None)
        if self.node_id is None or label is None:
            return ""
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(label.text())
        return doc.toPlainText()

    def _on_command(self, command) -> None:
        if self.node_id is None:
            return
        if self.node_id not in self.document.graph.nodes:
            self.show_node(None)
            return
        cmds = command.commands if isinstance(command, Batch) else [command]
        for c in cmds:
            if isinstance(c, Batch):
                self._on_command(c)
            elif isinstance(c, SetSubgraph) and c.node_id == self.node_id:
                self.show_node(self.node_id)          # its ports (inlets/outlets inside) may differ
            elif isinstance(c, (SetNodeUi, SetBypass)) and c.node_id == self.node_id:
                if getattr(self, "head_label", None) is not None:
                    self.head_label.setText(self._head_html(self.node_id))
            elif isinstance(c, (SetParam, ClearParam)) and c.node_id == self.node_id:
                self._refresh_param(c.name)
            elif isinstance(c, SetResource) and c.node_id == self.node_id:
                res = self.document.graph.nodes[self.node_id].resources.get(c.name)
                label = self.resource_labels.get(c.name)
                if label is not None:
                    label.setText(res["path"] if res else "(none)")
                cls = self.document.node_class(self.node_id)
                if cls is not None and c.name in self.resource_infos:
                    self._show_resource_info(cls, c.name)

    def _show_resource_info(self, cls, name: str) -> None:
        """Fill the line under a resource picker with what the node type says about the file."""
        label = self.resource_infos.get(name)
        res = self.document.graph.nodes[self.node_id].resources.get(name)
        if label is None:
            return
        text = ""
        pick = self.resource_picks.get(name)
        if pick is not None:
            pick.setText("…")
        if res:
            path, moved = resolve_resource(res, self.document.base_dir)
            if path is None or not path.exists():
                text = (f"<span style='color:#c62828'>{html.escape(missing_message(name, res))}</span>"
                        " — <b>Locate…</b> with the button above")
                if pick is not None:
                    pick.setText("Locate…")
            else:
                info = cls.resource_info(name, path)
                if "error" in info:
                    text = f"<span style='color:#c62828'>{html.escape(str(info['error']))}</span>"
                else:
                    text = "<br>".join(f"<b>{html.escape(k)}:</b> {html.escape(str(v))}" for k, v in info.items())
                if moved:
                    text = f"<i>{html.escape(moved)}</i><br>{text}"
        label.setText(text)
        label.setVisible(bool(text))

    def _refresh_param(self, name: str) -> None:
        self._refresh_xy_pads(name)
        w = self.editors.get(name)
        cls = self.document.node_class(self.node_id)
        if w is None or cls is None:
            return
        value = self.document.graph.nodes[self.node_id].params.get(name, cls.param_spec(name).default)
        w.blockSignals(True)
        if isinstance(w, NumberParamEditor):
            w.set_value(value)
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QComboBox):
            w.setCurrentText(str(value))
        elif isinstance(w, QLineEdit):
            w.setText(str(value))
        w.blockSignals(False)
