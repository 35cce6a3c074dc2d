"""The user's model folders in the editor: kept in the settings, searched for moved resources.

The engine looks in ``$NEUROPATCH_MODEL_PATH`` (see
:func:`neuropatch.engine.resources.model_folders`); the editor adds the folders configured
here to that variable for itself and the engine processes it starts.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QLabel,
                               QListWidget, QPushButton, QVBoxLayout)

from neuropatch.engine.resources import MODEL_PATH_ENV

_FROM_ENVIRONMENT = os.environ.get(MODEL_PATH_ENV, "")  # what the user's shell set


def configured_folders(settings) -> list[str]:
    value = settings.value("model_folders", [])
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in (value or [])]


def apply_folders(settings, folders: list[str]) -> None:
    """Store `folders` and make them searched (after the environment's own folders)."""
    settings.setValue("model_folders", list(folders))
    parts = [p for p in _FROM_ENVIRONMENT.split(os.pathsep) if p] + list(folders)
    os.environ[MODEL_PATH_ENV] = os.pathsep.join(parts)


class ModelFoldersDialog(QDialog):
    """Add and remove model folders."""

    def __init__(self, folders: list[str], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Model folders")
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Folders searched for models, IRs and audio a patch names but that are "
                             "not next to it (by name, then by the file's recorded sha256)."
                             + (f"\nAlso searched ({MODEL_PATH_ENV}): {_FROM_ENVIRONMENT}"
                                if _FROM_ENVIRONMENT else "")))
        self.list = QListWidget()
        self.list.addItems(folders)
        lay.addWidget(self.list)
        row = QHBoxLayout()
        add, remove = QPushButton("Add…"), QPushButton("Remove")
        add.clicked.connect(self._add)
        remove.clicked.connect(lambda: [self.list.takeItem(self.list.row(i)) for i in self.list.selectedItems()])
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        lay.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def _add(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add model folder", str(Path.home()))
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str) -> None:
        if folder not in self.folders():
            self.list.addItem(folder)

    def folders(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]
