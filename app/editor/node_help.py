"""Documentation of a node type as the editor shows it (F1, the inspector's Help button):
its doc, ports, params with ranges and defaults, files, and the example patches using it."""
from __future__ import annotations

import html
import json
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

from .param_labels import param_label, param_unit, range_text


def _uses_type(doc, type_id: str) -> bool:
    """Whether a patch document (or any subpatch inside it) has a node of `type_id`."""
    if isinstance(doc, dict):
        if doc.get("type") == type_id and "id" in doc:
            return True
        return any(_uses_type(v, type_id) for v in doc.values())
    if isinstance(doc, list):
        return any(_uses_type(v, type_id) for v in doc)
    return False


def examples_using(type_id: str) -> list[Path]:
    """The shipped example patches that use node type `type_id` (subpatches included)."""
    from neuropatch.patches import example_paths

    found = []
    for path in example_paths():
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if _uses_type(doc.get("nodes", []), type_id):
            found.append(path)
    return found


def node_help_html(cls) -> str:
    """The help page of node class `cls` as HTML; example patches are links ``example:NAME``."""
    e = html.escape
    node = cls()
    parts = [f"<h2>{e(cls.title or cls.type_id)}</h2>",
             f"<p><code>{e(cls.type_id)}</code> &nbsp; version {cls.version}</p>",
             f"<p>{e(cls.doc)}</p>"]

    def ports(title, items):
        rows = "".join(f"<li><b>{e(p.name)}</b> ({e(p.kind)})</li>" for p in items)
        return f"<h3>{title}</h3><ul>{rows or '<li>none</li>'}</ul>"

    parts.append(ports("Inputs", node.input_ports()))
    parts.append(ports("Outputs", node.output_ports()))
    if cls.params:
        rows = []
        for p in cls.params:
            unit = param_unit(p) if p.type in (int, float) else ""
            what = range_text(p) or (", ".join(p.choices) if p.choices else p.type.__name__)
            default = f"{p.default}" + (f" {unit}" if unit else "")
            rows.append(f"<tr><td><b>{e(param_label(p))}</b><br><code>{e(p.name)}</code></td>"
                        f"<td>{e(what)}</td><td>{e(default)}</td><td>{e(p.doc)}</td></tr>")
        parts.append("<h3>Parameters</h3><table cellspacing='0' cellpadding='4' border='1'>"
                     "<tr><th>param</th><th>range</th><th>default</th><th></th></tr>"
                     + "".join(rows) + "</table>")
    if cls.resources:
        rows = "".join(f"<li><b>{e(r.name)}</b>: {e(' '.join(r.extensions) or 'any file')}"
                       f"{' — ' + e(r.doc) if r.doc else ''}</li>" for r in cls.resources)
        parts.append(f"<h3>Files</h3><ul>{rows}</ul>")
    examples = examples_using(cls.type_id)
    if examples:
        rows = "".join(f"<li><a href='example:{e(p.stem)}'>{e(p.stem)}</a></li>" for p in examples)
        parts.append(f"<h3>Example patches using it</h3><ul>{rows}</ul>")
    else:
        parts.append("<h3>Example patches using it</h3><p>none yet</p>")
    return "".join(parts)


class NodeHelpDialog(QDialog):
    """The help page of one node type; clicking an example emits ``exampleRequested(path)``."""

    exampleRequested = Signal(object)

    def __init__(self, cls, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Help: {cls.title or cls.type_id}")
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.setHtml(node_help_html(cls))
        self.browser.anchorClicked.connect(self._link)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser)
        lay.addWidget(buttons)
        self.resize(620, 640)

    def _link(self, url) -> None:
        from neuropatch.patches import example_path

        if url.scheme() == "example":
            path = example_path(url.path())
            if path is not None:
                self.exampleRequested.emit(path)
