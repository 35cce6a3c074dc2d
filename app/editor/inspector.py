"""Inspector of the selected node: params from their specs, resources, docs.

A slider drag becomes one undo step: every value of the drag carries the same merge token.
"""
from __future__ import annotations

import html

import hashlib
import math
import os
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QScrollArea, QSlider, QSpinBox,
                               QToolButton, QVBoxLayout, QWidget)

from neuropatch.engine import ClearParam, SetParam, SetResource, Batch
from neuropatch.engine.subpatch import SetSubgraph

from neuropatch.engine.patch import node_ports

from .document import new_merge_token

SLIDER_STEPS = 1000


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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


class NumberParamEditor(QWidget):
    """Slider + spin box for a float/int param (log mapping when the spec asks for it)."""

    committed = Signal(object, object)   # value, merge token (None: its own undo step)

    def __init__(self, spec, value, parent=None):
        super().__init__(parent)
        self.spec = spec
        self.log = bool(spec.log) and spec.min > 0
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setMinimumWidth(90)
        if spec.type is int:
            self.spin = QSpinBox()
            self.spin.setRange(int(spec.min), int(min(spec.max, 2**31 - 1)))
        else:
            self.spin = QDoubleSpinBox()
            span = spec.max - spec.min
            self.spin.setDecimals(3 if span <= 10 else 2 if span <= 1000 else 1)
            self.spin.setRange(spec.min, spec.max)
            self.spin.setSingleStep(max(span / 100.0, 10 ** -self.spin.decimals()))
        self.spin.setKeyboardTracking(False)
        if spec.unit:
            self.spin.setSuffix(f" {spec.unit}")
        self.reset = QToolButton(text="↺", toolTip=f"reset to default ({spec.default})")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.spin)
        lay.addWidget(self.reset)
        self._token = None
        self.set_value(value)
        self.slider.sliderPressed.connect(self._drag_start)
        self.slider.sliderReleased.connect(self._drag_end)
        self.slider.valueChanged.connect(self._slider_moved)
        self.spin.valueChanged.connect(lambda v: self.committed.emit(self._coerce(v), None))
        self.reset.clicked.connect(lambda: self.committed.emit(spec.default, None))
        self.slider.installEventFilter(self)

    def _coerce(self, v):
        return int(round(v)) if self.spec.type is int else float(v)

    def to_slider(self, value) -> int:
        lo, hi = self.spec.min, self.spec.max
        if hi <= lo:
            return 0
        if self.log:
            t = (math.log(max(value, lo)) - math.log(lo)) / (math.log(hi) - math.log(lo))
        else:
            t = (value - lo) / (hi - lo)
        return int(round(min(max(t, 0.0), 1.0) * SLIDER_STEPS))

    def from_slider(self, pos: int):
        lo, hi = self.spec.min, self.spec.max
        t = pos / SLIDER_STEPS
        v = math.exp(math.log(lo) + t * (math.log(hi) - math.log(lo))) if self.log else lo + t * (hi - lo)
        return self.spec.clamp(v)

    def set_value(self, value) -> None:
        for w in (self.slider, self.spin):
            w.blockSignals(True)
        self.spin.setValue(value)
        self.slider.setValue(self.to_slider(value))
        for w in (self.slider, self.spin):
            w.blockSignals(False)

    def _drag_start(self):
        self._token = new_merge_token()

    def _drag_end(self):
        self._token = None

    def _slider_moved(self, pos):
        value = self.from_slider(pos)
        self.spin.blockSignals(True)
        self.spin.setValue(value)
        self.spin.blockSignals(False)
        self.committed.emit(value, self._token)

    def eventFilter(self, obj, event):
        if obj is self.slider and event.type() == QEvent.MouseButtonDblClick:
            self.spin.setFocus()
            self.spin.selectAll()
            return True
        return super().eventFilter(obj, event)


class Inspector(QWidget):
    """Shows the node `node_id` of `document`; edits go through the document (undoable)."""

    def __init__(self, document, parent=None):
        super().__init__(parent)
        self.document = document
        self.node_id: str | None = None
        self.editors: dict = {}
        self.resource_labels: dict = {}
        self.resource_infos: dict = {}
        self.file_dialog = self._ask_file  # replaced in tests
        self.setMinimumWidth(330)
        self.scroll = QScrollArea(widgetResizable=True)
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
        self.resource_labels.clear()
        self.resource_infos.clear()
        body = QWidget()
        form = QFormLayout(body)
        if node_id is None:
            form.addRow(QLabel("Select a node to edit it."))
        else:
            self._fill(form, node_id)
        self.scroll.setWidget(body)
        self.body = body

    def _fill(self, form: QFormLayout, node_id: str) -> None:
        spec = self.document.graph.nodes[node_id]
        cls = self.document.node_class(node_id)
        head = QLabel(f"<b>{node_id}</b> &nbsp; <i>{spec.type}</i>")
        form.addRow(head)
        if cls is None:
            form.addRow(QLabel(f"Placeholder: node type {spec.type!r} is not installed. "
                               "Its settings are kept and saved back unchanged; it passes silence."))
            return
        for p in cls.params:
            value = spec.params.get(p.name, p.default)
            editor = self._editor_for(p, value)
            editor.setToolTip(p.doc or p.name)
            self.editors[p.name] = editor
            form.addRow(p.name, editor)
        for r in cls.resources:
            row = QWidget()
            lay = QHBoxLayout(row)
            lay.setContentsMargins(0, 0, 0, 0)
            res = spec.resources.get(r.name)
            label = QLabel(res["path"] if res else "(none)")
            label.setTextInteractionFlags(Qt.TextSelectableByMouse)
            pick = QToolButton(text="…", toolTip=f"choose {r.name} file")
            clear = QToolButton(text="✕", toolTip=f"clear {r.name}")
            pick.clicked.connect(lambda _=False, name=r.name, ext=r.extensions: self._pick(name, ext))
            clear.clicked.connect(lambda _=False, name=r.name: self.document.set_resource(self.node_id, name, None))
            lay.addWidget(label, 1)
            lay.addWidget(pick)
            lay.addWidget(clear)
            self.resource_labels[r.name] = label
            form.addRow(f"{r.name} file", row)
            info = QLabel()
            info.setWordWrap(True)
            info.setTextInteractionFlags(Qt.TextSelectableByMouse)
            self.resource_infos[r.name] = info
            self._show_resource_info(cls, r.name)
            form.addRow("", info)
        in_ports, out_ports = node_ports(spec, self.document.registry)
        ports = ", ".join(f"{p.name} ({p.kind})" for p in in_ports) or "none"
        outs = ", ".join(f"{p.name} ({p.kind})" for p in out_ports) or "none"
        doc = QLabel(f"{cls.doc}<br><br><b>in:</b> {ports}<br><b>out:</b> {outs}")
        doc.setWordWrap(True)
        form.addRow(doc)

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
        try:
            entry = resource_entry(path, self.document.base_dir)
        except OSError as exc:
            self.document.message.emit(f"cannot read {path}: {exc.strerror or exc}")
            return False
        return self.document.set_resource(self.node_id, name, entry)

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
        if res:
            path = Path(res["path"]).expanduser()
            if not path.is_absolute() and self.document.base_dir is not None:
                path = Path(self.document.base_dir) / path
            if not path.exists():
                text = "<span style='color:#c62828'>file not found</span>"
            else:
                info = cls.resource_info(name, path)
                if "error" in info:
                    text = f"<span style='color:#c62828'>{html.escape(str(info['error']))}</span>"
                else:
                    text = "<br>".join(f"<b>{html.escape(k)}:</b> {html.escape(str(v))}" for k, v in info.items())
        label.setText(text)
        label.setVisible(bool(text))

    def _refresh_param(self, name: str) -> None:
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
