"""What a file dropped on the canvas becomes: an opened patch or bundle, a new node that
plays or loads it, or the new file of the node it landed on. TorchScript asks for trust."""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QPointF

from neuropatch.engine.bundle_cache import is_bundle

from .inspector import file_sha256, resource_entry

#: file suffix -> preferred node types (looked up in the registry at run time)
FILE_NODE_HINTS = {
    ".wav": ["io.file_player"], ".flac": ["io.file_player"], ".ogg": ["io.file_player"],
    ".aiff": ["io.file_player"], ".aif": ["io.file_player"],
    ".nam": ["amp.nam"], ".json": ["amp.nam"],
    ".ts": ["ml.rave", "rave", "nn.rave"],
    ".mid": ["io.midi_file_player"], ".midi": ["io.midi_file_player"],
}


def is_patch_file(path: Path) -> bool:
    """A .json file whose top level says `"format": "neuropatch"`."""
    if path.suffix.lower() != ".json":
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 20)
        return json.loads(head.decode("utf-8", "replace")).get("format") == "neuropatch"
    except (OSError, ValueError, AttributeError):
        return False


class DropPolicy:
    """Turns dropped files into edits of the window's document."""

    def __init__(self, window):
        self.window = window

    @property
    def registry(self):
        return self.window.registry

    def node_type_for_file(self, path: Path) -> tuple[str | None, str]:
        """(type id, reason) of the installed node type that takes `path`."""
        suffix = path.suffix.lower()
        for t in FILE_NODE_HINTS.get(suffix, []):
            if t in self.registry:
                return t, ""
        for cls in self.registry.classes():
            if any(suffix in r.extensions for r in cls.resources):
                return cls.type_id, ""
        what = {".ts": "a RAVE (TorchScript) node", ".nam": "the amp.nam node", ".json": "the amp.nam node",
                ".mid": "a MIDI file player", ".midi": "a MIDI file player"}.get(suffix, "a node for it")
        return None, f"{path.name}: no installed node type takes {suffix} files ({what} is not installed)"

    def drop_files(self, paths, scene_pos: QPointF) -> list:
        """Add a node per dropped file; a patch or bundle opens; one model dropped onto a node
        that takes such files swaps that node's file (one undo step)."""
        added = []
        x, y = round(scene_pos.x()), round(scene_pos.y())
        one = Path(paths[0]) if len(paths) == 1 else None
        if one is not None and not (is_bundle(one) or is_patch_file(one)) and self.swap_file_on_node(one, scene_pos):
            return added
        for path in paths:
            path = Path(path)
            if is_bundle(path) or is_patch_file(path):
                self.window.open_path(path)
                return added
            node_id = self.add_file_node(path, (x, y), at_drop=True)
            if node_id:
                added.append(node_id)
                y += 90
        return added

    def swap_file_on_node(self, path: Path, scene_pos: QPointF) -> bool:
        """Set `path` as the file of the node under `scene_pos` when it takes such files."""
        from .node_item import NodeItem

        w = self.window
        item = None
        for hit in w.scene.items(scene_pos):
            while hit is not None and not isinstance(hit, NodeItem):
                hit = hit.parentItem()
            if hit is not None:
                item = hit
                break
        cls = w.doc.node_class(item.node_id) if item is not None else None
        res = next((r for r in (cls.resources if cls else []) if path.suffix.lower() in r.extensions), None)
        if res is None:
            return False
        try:
            entry = resource_entry(path, w.doc.base_dir)
        except OSError as exc:
            w.report_error("Cannot use file", f"{path}: {exc.strerror or exc}")
            return True
        if path.suffix.lower() == ".ts" and not self.trust(path, entry["sha256"]):
            return True
        w.doc.set_resource(item.node_id, res.name, entry)
        w.scene.select_nodes([item.node_id])
        w.status(f"{item.node_id}: {res.name} is now {path.name}")
        return True

    def add_file_node(self, path: Path, pos, at_drop: bool = False) -> str | None:
        """A node that plays or loads `path`, at scene point `pos`. at_drop: the file was
        dropped there, so a refusal is also shown as a tooltip at that point."""
        w = self.window
        type_id, reason = self.node_type_for_file(path)
        if type_id is None:
            if at_drop:     # where the file was let go, not in a dialog
                from .notices import notice_at_scene

                notice_at_scene(w.view, QPointF(*pos), reason, lambda text: w.status(text, 10000))
            else:
                w.report_error("Cannot add file", reason)
            return None
        cls = self.registry.resolve(type_id)
        suffix = path.suffix.lower()
        res = next((r for r in cls.resources if suffix in r.extensions), cls.resources[0] if cls.resources else None)
        if res is None:
            w.report_error("Cannot add file", f"{type_id} takes no files")
            return None
        try:
            digest = file_sha256(path)
        except OSError as exc:
            w.report_error("Cannot add file", f"{path}: {exc.strerror or exc}")
            return None
        if suffix == ".ts" and not self.trust(path, digest):
            w.status(f"{path.name} not loaded (not trusted)")
            return None
        entry = resource_entry(path, w.doc.base_dir)
        node_id = w.doc.add_node(type_id, pos, resources={res.name: entry})
        if node_id:
            w.scene.select_nodes([node_id])
        return node_id

    def trust(self, path: Path, digest: str) -> bool:
        """Ask before a TorchScript file is used; a yes goes to the per-user trust store that
        ``render --trust`` and ``run --trust`` write too (neuropatch.engine.trust)."""
        from neuropatch.engine.trust import is_trusted, trust

        if is_trusted(path):
            return True
        ok = self.window.confirm(
            "Trust this model?",
            f"{path.name} is a TorchScript file: it contains code that runs on this computer.\n"
            f"sha256 {digest[:16]}…\nOnly load models from sources you trust. Load it?")
        if ok:
            trust(path)
        return ok
