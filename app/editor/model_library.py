"""The model library: browse the shipped files and the model folders, search, read a file's
metadata, audition it on a shipped riff (A/B against the selected node's current file) and
drag it onto the canvas (a new node) or onto a node (its file swapped, one undo step).

Auditioning renders offline, off the patch: a three-node graph (input -> the node with the
candidate file -> output) fed three seconds of the shipped DI riff; the patch is untouched.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QPushButton, QVBoxLayout, QWidget)

from neuropatch.engine import Graph, NeuropatchError, render
from neuropatch.engine.graph import Edge, NodeSpec
from neuropatch.engine.resources import model_folders

from .drop_policy import is_patch_file

LIBRARY_EXTENSIONS = (".nam", ".json", ".ts", ".wav", ".flac", ".aif", ".aiff", ".ogg", ".mid", ".midi",
                      ".safetensors")
MAX_FILES = 5000
AUDITION_SECONDS = 3.0


@dataclass(frozen=True)
class LibraryEntry:
    path: Path
    folder: Path
    type_id: str
    resource: str      # the node's resource slot the file goes into

    @property
    def label(self) -> str:
        return f"{self.path.name}  —  {self.type_id}  ({self.folder.name or self.folder})"


def library_folders() -> list[Path]:
    """The shipped files, then the user's model folders."""
    from neuropatch.assets import path as shipped

    return [shipped()] + model_folders()


def scan(folders, type_for_file, is_patch) -> list[LibraryEntry]:
    """Every file in `folders` that an installed node type takes (`type_for_file(path)` ->
    (type id | None, resource name)); example patches and other JSON are left out."""
    entries, seen = [], set()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if len(entries) >= MAX_FILES:
                return entries
            if path.suffix.lower() not in LIBRARY_EXTENSIONS or not path.is_file() or path in seen:
                continue
            if path.suffix.lower() == ".json" and (is_patch(path) or "weights" not in _head(path)):
                continue  # amp models in GuitarML .json carry weights; other JSON is not a model
            type_id, resource = type_for_file(path)
            if type_id is not None:
                seen.add(path)
                entries.append(LibraryEntry(path, folder, type_id, resource))
    return entries


def _head(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(65536).decode("utf-8", "replace")
    except OSError:
        return ""


def audition_riff(sample_rate: int = 48000) -> np.ndarray:
    """The first seconds of the shipped DI riff: float32 [1, samples]."""
    from neuropatch.assets import demo_di
    from neuropatch.engine.audiofile import read_audio
    from neuropatch.engine.resample import resample

    audio, sr = read_audio(demo_di())
    audio = resample(audio[:1], sr, sample_rate) if sr != sample_rate else audio[:1]
    return np.ascontiguousarray(audio[:, : int(AUDITION_SECONDS * sample_rate)])


def audition_render(spec: NodeSpec, base_dir: Path | None, registry=None) -> np.ndarray:
    """`spec` (one node, its params and files) rendered on the riff: float32 [channels, samples]."""
    cls = (registry.resolve(spec.type) if registry is not None else None)
    graph = Graph()
    graph.nodes["in"] = NodeSpec("in", "io.audio_in")
    node = spec.copy()
    node.id = "node"
    graph.nodes["node"] = node
    graph.nodes["out"] = NodeSpec("out", "io.audio_out")
    in_port = cls.inputs[0].name if cls is not None and cls.inputs else "in"
    out_port = cls.outputs[0].name if cls is not None and cls.outputs else "out"
    graph.edges.append(Edge("in", "out", "node", in_port))
    graph.edges.append(Edge("node", out_port, "out", "in"))
    out, schedule = render(graph, audition_riff(), 48000, 256, base_dir=base_dir, registry=registry)
    if schedule.errors:
        raise NeuropatchError(next(iter(schedule.errors.values())))
    return out


class ModelLibrary(QWidget):
    """The library dock's widget. ``window`` is the main window (node types for files, the
    document, the selection, messages)."""

    def __init__(self, window):
        super().__init__()
        self.window = window
        self.entries: list[LibraryEntry] = []
        self.rendered: dict = {}   # "A" / "B" -> float32 [channels, samples] of the last audition
        self.player = None          # callable(audio, sample_rate); sounddevice.play by default
        lay = QVBoxLayout(self)
        self.search = QLineEdit(placeholderText="search models, IRs, audio…")
        self.search.textChanged.connect(self._filter)
        lay.addWidget(self.search)
        self.list = QListWidget()
        self.list.setDragEnabled(True)
        self.list.mimeData = self._mime_data
        self.list.currentItemChanged.connect(lambda *_: self._show_info())
        lay.addWidget(self.list, 1)
        self.info = QLabel(wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        lay.addWidget(self.info)
        row = QHBoxLayout()
        self.play_a = QPushButton("A: current", toolTip="the selected node with its own file, on the demo riff")
        self.play_b = QPushButton("B: this file", toolTip="the selected node (or a new one) with this file")
        refresh = QPushButton("Refresh")
        self.play_a.clicked.connect(lambda: self.audition("A"))
        self.play_b.clicked.connect(lambda: self.audition("B"))
        refresh.clicked.connect(self.refresh)
        for b in (self.play_a, self.play_b, refresh):
            row.addWidget(b)
        lay.addLayout(row)
        self.scanned = False   # the folders are scanned when the library is first shown

    def showEvent(self, event) -> None:
        if not self.scanned:
            self.refresh()
        super().showEvent(event)

    # ---- listing ---------------------------------------------------------------------------

    def refresh(self) -> None:
        self.scanned = True
        self.entries = scan(library_folders(), self._type_for_file, is_patch_file)
        self._filter(self.search.text())

    def _type_for_file(self, path: Path):
        """(type id, resource name) of the node type for `path`: among the types taking its
        suffix (the editor's choice first), the first that reads the file without an error."""
        suffix = path.suffix.lower()
        first, _ = self.window.node_type_for_file(path)
        if first is None:
            return None, ""
        classes = [self.window.registry.resolve(first)] + [
            c for c in self.window.registry.classes()
            if c.type_id != first and any(suffix in r.extensions for r in c.resources)]
        fallback = None
        for cls in classes:
            res = next((r for r in cls.resources if suffix in r.extensions), None)
            if res is None:
                continue
            fallback = fallback or (cls.type_id, res.name)
            if len(classes) == 1 or "error" not in cls.resource_info(res.name, path):
                return cls.type_id, res.name
        return fallback or (None, "")

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        self.list.clear()
        for entry in self.entries:
            hay = f"{entry.path} {entry.type_id}".lower()
            if all(w in hay for w in words):
                item = QListWidgetItem(entry.label)
                item.setData(Qt.UserRole, entry)
                item.setToolTip(str(entry.path))
                self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def visible_entries(self) -> list[LibraryEntry]:
        return [self.list.item(i).data(Qt.UserRole) for i in range(self.list.count())]

    def current(self) -> LibraryEntry | None:
        item = self.list.currentItem()
        return item.data(Qt.UserRole) if item is not None else None

    def _mime_data(self, items) -> QMimeData:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(i.data(Qt.UserRole).path)) for i in items])
        return mime

    def _show_info(self) -> None:
        entry = self.current()
        if entry is None:
            self.info.setText("")
            return
        cls = self.window.registry.resolve(entry.type_id)
        info = cls.resource_info(entry.resource, entry.path)
        lines = [f"<b>{html.escape(entry.path.name)}</b> ({entry.type_id})"]
        lines += [f"<b>{html.escape(str(k))}:</b> {html.escape(str(v))}" for k, v in info.items()]
        self.info.setText("<br>".join(lines))

    # ---- audition --------------------------------------------------------------------------

    def audition_specs(self) -> tuple[NodeSpec | None, NodeSpec | None]:
        """(A: the selected node as it is, B: the same node with the library's file), or a
        fresh node of the file's type for B when the selection takes no such file."""
        entry = self.current()
        if entry is None:
            return None, None
        doc = self.window.doc
        selected = [n for n in self.window.scene.selected_node_ids()
                    if doc.graph.nodes[n].type == entry.type_id]
        if selected:
            a = doc.graph.nodes[selected[0]].copy()
        else:
            a = None
        b = (a.copy() if a is not None else NodeSpec("node", entry.type_id))
        b.resources = {**b.resources, entry.resource: {"path": str(entry.path)}}
        return a, b

    def audition(self, which: str) -> np.ndarray | None:
        """Render (and play) A or B; the rendered audio is also kept in ``rendered``."""
        a, b = self.audition_specs()
        spec = a if which == "A" else b
        if spec is None:
            self.window.status("select a node of this file's type to hear A (its current file)"
                               if which == "A" else "choose a file in the library first")
            return None
        try:
            audio = audition_render(spec, self.window.doc.base_dir, self.window.registry)
        except NeuropatchError as exc:
            self.window.report_error("Cannot audition", str(exc))
            return None
        self.rendered[which] = audio
        self._play(audio)
        return audio

    def _play(self, audio: np.ndarray) -> None:
        if self.player is not None:
            self.player(audio, 48000)
            return
        try:
            import sounddevice as sd

            sd.play(np.ascontiguousarray(audio.T), 48000)
        except Exception as exc:  # no device, no PortAudio: say so, nothing else breaks
            self.window.status(f"cannot play the audition: {exc}")
