"""The Help menu: help on the selected node (F1), keyboard shortcuts, the documentation that
ships with neuropatch, and About."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMessageBox, QTextBrowser, QVBoxLayout

from .node_help import NodeHelpDialog

SHORTCUTS = [
    ("Tab", "quick-add a node at the mouse"),
    ("Shift+click", "add a node to the selection (again: remove it)"),
    ("Ctrl+C / Ctrl+X / Ctrl+V", "copy, cut, paste at the mouse"),
    ("Ctrl+D", "duplicate the selection next to the mouse"),
    ("Delete / Backspace", "delete the selection"),
    ("Ctrl+G / Ctrl+Shift+G", "group into a subpatch / ungroup"),
    ("double-click a subpatch", "open it in its own window"),
    ("drag from a port", "draw a cable; drop it on empty canvas to add a node that takes it"),
    ("drag a cable end off an input", "move the cable, or drop it on empty canvas to remove it"),
    ("right-click", "menus of the canvas, a node, a cable or a port"),
    ("F", "frame the whole patch"),
    ("Ctrl+= / Ctrl+- / Ctrl+0", "zoom in / out / actual size"),
    ("mouse wheel / middle drag", "zoom / pan"),
    ("Space", "play / stop"),
    ("F1", "help on the selected node"),
]


def docs_folder() -> Path | None:
    """The documentation folder of a source checkout (beside the example patches), if any."""
    import neuropatch.patches

    folder = Path(neuropatch.patches.__file__).resolve().parent.parent / "docs"
    return folder if (folder / "getting-started.md").is_file() else None


class TextDialog(QDialog):
    """A read-only page (HTML or Markdown) with a Close button."""

    def __init__(self, title: str, parent=None, html: str = "", markdown: str = ""):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        if markdown:
            self.browser.setMarkdown(markdown)
        else:
            self.browser.setHtml(html)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser)
        lay.addWidget(buttons)
        self.resize(640, 600)


def shortcuts_html() -> str:
    rows = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in SHORTCUTS)
    return f"<h2>Keyboard and mouse</h2><table cellpadding='4'>{rows}</table>"


class HelpActions:
    """Builds the Help menu of `window` and shows its pages (kept in `open_dialogs`)."""

    def __init__(self, window):
        self.window = window
        self.open_dialogs: list = []

    def build(self, menu_bar) -> None:
        w = self.window
        menu = menu_bar.addMenu("&Help")
        w._action(menu, "Help on the Selected &Node", self.node_help, "F1",
                  "doc, ports, params and example patches of the selected node")
        w._action(menu, "&Keyboard Shortcuts", self.shortcuts)
        w._action(menu, "&Documentation", self.documentation)
        menu.addSeparator()
        w._action(menu, "&About neuropatch", self.about)
        self.menu = menu

    def _show(self, dialog):
        dialog.finished.connect(lambda _r=0, d=dialog: self.open_dialogs.remove(d) if d in self.open_dialogs else None)
        self.open_dialogs.append(dialog)
        dialog.show()
        return dialog

    def node_help(self, node_id: str | None = None):
        """Show the help page of `node_id` (default: the one selected); returns the dialog."""
        w = self.window
        if node_id is None:
            ids = w.scene.selected_node_ids()
            node_id = ids[0] if len(ids) == 1 else None
        cls = w.doc.node_class(node_id) if node_id else None
        if cls is None:
            w.status("select one node to see its help" if node_id is None
                     else f"{node_id}: its node type is not installed")
            return None
        dialog = NodeHelpDialog(cls, w)
        dialog.exampleRequested.connect(lambda path: w.open_path(path))
        return self._show(dialog)

    def shortcuts(self):
        return self._show(TextDialog("Keyboard Shortcuts", self.window, html=shortcuts_html()))

    def documentation(self):
        folder = docs_folder()
        if folder is None:
            text = ("# neuropatch\n\nRun `neuropatch --help` for the command line, `neuropatch nodes` "
                    "for every node type, and `neuropatch examples` for the example patches.")
        else:
            text = (folder / "getting-started.md").read_text(encoding="utf-8")
        return self._show(TextDialog("Documentation", self.window, markdown=text))

    def about(self) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("neuropatch")
        except PackageNotFoundError:
            v = "(source)"
        QMessageBox.about(self.window, "About neuropatch",
                          f"<b>neuropatch</b> {v}<br>A node-based patching environment for neural audio.")
