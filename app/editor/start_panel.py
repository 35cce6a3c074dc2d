"""The start panel over an empty canvas: new patch, open, recent patches and the example
gallery (with screenshots where the documentation has them). It hides as soon as the patch
has a node and shows again on an empty one."""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea,
                               QToolButton, QVBoxLayout, QWidget)

MAX_RECENT_SHOWN = 5
THUMB = QSize(200, 125)


def gallery_entries() -> list[dict]:
    """name, title, description, path and screenshot (or None) of every example patch."""
    from neuropatch.patches import example_paths, folder

    shots = folder().resolve().parent / "docs" / "gallery"   # a source checkout has them
    out = []
    for path in example_paths():
        try:
            meta = json.loads(path.read_text(encoding="utf-8")).get("meta", {}) or {}
        except (OSError, ValueError):
            meta = {}
        shot = shots / f"{path.stem}.png"
        out.append({"name": path.stem, "title": str(meta.get("title") or path.stem),
                    "description": str(meta.get("description") or ""), "path": path,
                    "screenshot": shot if shot.is_file() else None})
    return out


class StartPanel(QFrame):
    """Overlay on the canvas viewport of `window` while its patch is empty."""

    def __init__(self, window):
        super().__init__(window.view.viewport())
        self.window = window
        self.setObjectName("start_panel")
        self.setStyleSheet("#start_panel { background: rgba(30, 31, 34, 235); border: 1px solid #3a3d42;"
                           " border-radius: 8px; } QLabel { color: #d8d8d8; }")
        self.recent_buttons: list = []
        self.example_buttons: dict = {}
        self.dismissed = False

        title = QLabel("<h2>neuropatch</h2>Start a patch: add nodes from the list on the left, "
                       "press Tab on the canvas, or drop audio and model files here.")
        title.setWordWrap(True)
        self.new_button = QPushButton("New patch")
        self.open_button = QPushButton("Open…")
        self.new_button.clicked.connect(self.dismiss)
        self.open_button.clicked.connect(window.open_dialog)
        row = QHBoxLayout()
        row.addWidget(self.new_button)
        row.addWidget(self.open_button)
        row.addStretch(1)
        self.recent_box = QVBoxLayout()
        gallery = QWidget()
        grid = QGridLayout(gallery)
        grid.setContentsMargins(0, 0, 0, 0)
        for i, entry in enumerate(gallery_entries()):
            button = QToolButton()
            button.setToolButtonStyle(Qt.ToolButtonTextUnderIcon)
            button.setText(entry["title"])
            button.setToolTip(entry["description"] or entry["title"])
            if entry["screenshot"] is not None:
                button.setIcon(QIcon(QPixmap(str(entry["screenshot"]))))
                button.setIconSize(THUMB)
            button.setMinimumWidth(THUMB.width() + 12)
            button.clicked.connect(lambda _c=False, p=entry["path"]: window.open_path(p))
            self.example_buttons[entry["name"]] = button
            grid.addWidget(button, i // 3, i % 3)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setWidget(gallery)
        lay = QVBoxLayout(self)
        lay.addWidget(title)
        lay.addLayout(row)
        lay.addWidget(QLabel("<b>Recent</b>"))
        lay.addLayout(self.recent_box)
        lay.addWidget(QLabel("<b>Examples</b>"))
        lay.addWidget(scroll, 1)
        window.view.viewport().installEventFilter(self)
        window.doc.commandApplied.connect(lambda _c: self.update_visibility())
        window.doc.graphReplaced.connect(self._graph_replaced)
        self.fill_recent()
        self.update_visibility()

    def fill_recent(self) -> None:
        while self.recent_box.count():
            item = self.recent_box.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.recent_buttons = []
        for p in self.window.recent_files()[:MAX_RECENT_SHOWN]:
            button = QPushButton(Path(p).name)
            button.setToolTip(p)
            button.setFlat(True)
            button.setStyleSheet("text-align: left;")
            button.clicked.connect(lambda _c=False, p=p: self.window.open_path(Path(p)))
            self.recent_box.addWidget(button)
            self.recent_buttons.append(button)
        if not self.recent_buttons:
            self.recent_box.addWidget(QLabel("none yet"))

    def dismiss(self) -> None:
        """New patch: the canvas is already empty; get out of the way."""
        self.dismissed = True
        self.hide()
        self.window.view.setFocus()

    def _graph_replaced(self) -> None:
        self.dismissed = False
        self.fill_recent()
        self.update_visibility()

    def update_visibility(self) -> None:
        show = not self.dismissed and not self.window.doc.graph.nodes
        self.setVisible(show)
        if show:
            self._place()
            self.raise_()

    def _place(self) -> None:
        area = self.window.view.viewport().rect()
        w = min(area.width() - 40, 3 * (THUMB.width() + 24) + 24)
        h = min(area.height() - 40, 620)
        self.setGeometry(area.center().x() - w // 2, area.center().y() - h // 2, max(w, 200), max(h, 200))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Resize and self.isVisible():
            self._place()
        return False
