"""The open patch: its Graph, file path, undo stack and the edits the editor makes.

The scene, the inspector and the live engine all listen to ``commandApplied``; every
edit goes through :meth:`PatchDocument.execute` so it lands on the undo stack.
"""
from __future__ import annotations

import itertools
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from neuropatch.engine import (AddComment, AddNode, Batch, Connect, Disconnect, Edge, EditComment, Graph,
                               MoveNode, Node, RemoveComment, RemoveNode, SetBypass, SetNodeUi, SetParam,
                               SetResource, default_registry, new_node_spec)
from neuropatch.engine.errors import GraphError
from neuropatch.engine.patch import node_ports
from neuropatch.engine.subpatch import SetSubgraph, group_nodes, is_subpatch, ungroup
from neuropatch.engine.streams import kinds_compatible

from .undo import GraphUndoCommand

_tokens = itertools.count(1)


def new_merge_token() -> int:
    """A fresh token: param changes carrying the same token merge into one undo step."""
    return next(_tokens)


def unique_id(base: str, taken) -> str:
    """`base` if free, else base with its trailing digits replaced by the first free number."""
    if base not in taken:
        return base
    stem = base.rstrip("0123456789") or "node"
    i = 2
    while f"{stem}{i}" in taken:
        i += 1
    return f"{stem}{i}"


def _ports_follow_params(cls) -> bool:
    """True for node types whose ports are decided per instance (inlets, outlets)."""
    return cls.input_ports is not Node.input_ports or cls.output_ports is not Node.output_ports


def _kind_of(graph, node_id: str, port: str, output: bool, registry) -> str | None:
    ins, outs = node_ports(graph.nodes[node_id], registry)
    if ins is None:
        return "any"
    return next((p.kind for p in (outs if output else ins) if p.name == port), None)


class PatchDocument(QObject):
    commandApplied = Signal(object)   # the graph command just applied (Batch included)
    graphReplaced = Signal()
    message = Signal(str)

    def __init__(self, registry=None, parent=None):
        super().__init__(parent)
        self.registry = registry or default_registry()
        self.graph = Graph()
        self.path: Path | None = None
        self.undo_stack = QUndoStack(self)
        self.graph.subscribe(self._on_graph_command)

    # ---- whole documents ---------------------------------------------------------------

    def set_graph(self, graph: Graph, path: Path | None) -> None:
        self.graph.unsubscribe(self._on_graph_command)
        self.graph = graph
        self.path = Path(path) if path else None
        self.graph.subscribe(self._on_graph_command)
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self.graphReplaced.emit()

    @property
    def base_dir(self) -> Path | None:
        return self.path.resolve().parent if self.path else None

    def _on_graph_command(self, command) -> None:
        self.commandApplied.emit(command)

    # ---- edits ---------------------------------------------------------------------------

    def execute(self, command, text: str, merge_key=None) -> bool:
        """Apply `command` and push it on the undo stack. Returns False (with a message) on error."""
        try:
            inverse = self.graph.apply(command)
        except GraphError as exc:
            self.message.emit(str(exc))
            return False
        self.undo_stack.push(GraphUndoCommand(self, command, inverse, text, merge_key))
        return True

    def node_class(self, node_id: str):
        spec = self.graph.nodes.get(node_id)
        if spec is None or spec.raw is not None:
            return None
        return self.registry.resolve(spec.type)

    def add_node(self, type_id: str, pos=(0.0, 0.0), params=None, resources=None) -> str | None:
        cls = self.registry.resolve(type_id)
        if cls is None:
            self.message.emit(f"node type {type_id!r} is not installed")
            return None
        node_id = self.graph.unique_id(cls.type_id)
        spec = new_node_spec(cls.type_id, node_id, self.registry, params, pos)
        for name, res in (resources or {}).items():
            spec.resources[name] = dict(res)
        ok = self.execute(AddNode(spec), f"Add {cls.title or cls.type_id}")
        return node_id if ok else None

    def port_kind(self, node_id: str, port: str, output: bool) -> str | None:
        """Stream kind of a port (``any`` for placeholders), None when the port does not exist."""
        spec = self.graph.nodes.get(node_id)
        if spec is None:
            return None
        ins, outs = node_ports(spec, self.registry)
        if ins is None:
            return "any"
        for p in (outs if output else ins):
            if p.name == port:
                return p.kind
        return None

    def connection_problem(self, src: str, src_port: str, dst: str, dst_port: str) -> str | None:
        """Why src.src_port -> dst.dst_port cannot be connected, or None when it can."""
        if src == dst:
            return "a node cannot be connected to itself (close feedback through util.delay)"
        ks = self.port_kind(src, src_port, True)
        kd = self.port_kind(dst, dst_port, False)
        if ks is None:
            return f"{src} has no output {src_port!r}"
        if kd is None:
            return f"{dst} has no input {dst_port!r}"
        if not kinds_compatible(ks, kd):
            return (f"cannot connect {src}.{src_port} ({ks}) to {dst}.{dst_port} ({kd}): "
                    f"stream kinds differ; insert a converter node")
        if Edge(src, src_port, dst, dst_port) in self.graph.edges:
            return f"{src}.{src_port} -> {dst}.{dst_port} is already connected"
        return None

    def connect_ports(self, src, src_port, dst, dst_port) -> bool:
        """Cable src.src_port -> dst.dst_port (one undo step); False, with a message, when it
        cannot be. (Not named `connect`: that would shadow QObject.connect, which PySide
        resolves first on subclasses declaring signals.)"""
        problem = self.connection_problem(src, src_port, dst, dst_port)
        if problem:
            self.message.emit(problem)
            return False
        edge = Edge(src, src_port, dst, dst_port)
        return self.execute(Connect(edge), f"Connect {edge}")

    def remove(self, node_ids=(), edges=(), comment_ids=()) -> bool:
        node_ids = [n for n in node_ids if n in self.graph.nodes]
        cmds = [Disconnect(e) for e in edges
                if e in self.graph.edges and e.src not in node_ids and e.dst not in node_ids]
        cmds += [RemoveNode(n) for n in node_ids]
        comments = [RemoveComment(c) for c in comment_ids if self.graph.comment(c) is not None]
        if not cmds and not comments:
            return False
        what = (f"{len(node_ids)} node(s)" if node_ids else f"{len(cmds)} cable(s)" if cmds
                else f"{len(comments)} comment(s)")
        return self.execute(Batch(cmds + comments), f"Delete {what}")

    # ---- node bypass and titles --------------------------------------------------------------

    def set_bypass(self, node_id: str, on: bool) -> bool:
        """Bypass node `node_id` (it passes its bypass routes) or switch it back on."""
        spec = self.graph.nodes.get(node_id)
        if spec is None or spec.bypass == bool(on):
            return False
        return self.execute(SetBypass(node_id, bool(on)), f"{'Bypass' if on else 'Enable'} {node_id}")

    def title(self, node_id: str) -> str:
        """The name a node shows: its ``ui.title`` when set, else its id."""
        spec = self.graph.nodes.get(node_id)
        title = spec.ui.get("title") if spec is not None else None
        return title if isinstance(title, str) and title else node_id

    def rename(self, node_id: str, title: str) -> bool:
        """Give a node a display title (its id, which cables name, stays); an empty title or
        the id itself clears it."""
        spec = self.graph.nodes.get(node_id)
        if spec is None:
            return False
        title = " ".join(str(title).split())[:200]
        value = title if title and title != node_id else None
        if spec.ui.get("title") == value:
            return False
        return self.execute(SetNodeUi(node_id, "title", value), f"Rename {node_id}")

    # ---- comments ----------------------------------------------------------------------------

    def add_comment(self, pos, size=(220.0, 80.0), text: str = "") -> str | None:
        """A comment box at `pos` (one undo step); returns its id."""
        cid = unique_id("comment", {c["id"] for c in self.graph.comments})
        comment = {"id": cid, "pos": [float(round(pos[0])), float(round(pos[1]))],
                   "size": [float(size[0]), float(size[1])], "text": str(text)}
        return cid if self.execute(AddComment(comment), "Add comment") else None

    def edit_comment(self, comment_id: str, text: str | None = None, pos=None, size=None,
                     merge_key=None) -> bool:
        """Change a comment's text, position or size (one undo step)."""
        comment = self.graph.comment(comment_id)
        if comment is None:
            return False
        changes = {}
        if text is not None and text != comment["text"]:
            changes["text"] = str(text)
        if pos is not None and [float(pos[0]), float(pos[1])] != comment["pos"]:
            changes["pos"] = [float(pos[0]), float(pos[1])]
        if size is not None and [float(size[0]), float(size[1])] != comment["size"]:
            changes["size"] = [max(1.0, float(size[0])), max(1.0, float(size[1]))]
        if not changes:
            return False
        what = "Edit" if "text" in changes else "Resize" if "size" in changes else "Move"
        return self.execute(EditComment(comment_id, changes), f"{what} comment", merge_key)

    def move(self, moves: dict, comment_moves: dict | None = None) -> bool:
        """moves: node id -> (x, y); comment_moves: comment id -> (x, y). One undo step."""
        cmds = [MoveNode(n, (float(p[0]), float(p[1]))) for n, p in moves.items()
                if n in self.graph.nodes and list(self.graph.nodes[n].ui.get("pos", [0, 0])) != [float(p[0]), float(p[1])]]
        for cid, p in (comment_moves or {}).items():
            c = self.graph.comment(cid)
            if c is not None and c["pos"] != [float(p[0]), float(p[1])]:
                cmds.append(EditComment(cid, {"pos": [float(p[0]), float(p[1])]}))
        if not cmds:
            return False
        what = "items" if comment_moves and len(cmds) > len(moves) else "nodes"
        return self.execute(Batch(cmds), "Move" if len(cmds) == 1 else f"Move {len(cmds)} {what}")

    def set_param(self, node_id: str, name: str, value, merge_token=None) -> bool:
        cls = self.node_class(node_id)
        if cls is None:
            return False
        try:
            spec = cls.param_spec(name)
            value = spec.validate(spec.clamp(value) if spec.type in (int, float) else value)
        except (KeyError, ValueError) as exc:
            self.message.emit(str(exc))
            return False
        if self.graph.nodes[node_id].params.get(name) == value and merge_token is None:
            return False
        key = ("param", node_id, name, merge_token) if merge_token is not None else None
        command = SetParam(node_id, name, value)
        stale = self._cables_unfit_after(command) if _ports_follow_params(cls) else []
        if stale:      # an inlet's kind changed: its cables that no longer fit go in the same step
            command = Batch([Disconnect(e) for e in stale] + [command])
        return self.execute(command, f"Set {node_id}.{name}", key)

    def _cables_unfit_after(self, command) -> list:
        """Cables of the node `command` edits whose ports vanish or stop fitting after it."""
        trial = self.graph.copy()
        trial.apply(command)
        stale = []
        for e in trial.edges:
            if command.node_id not in (e.src, e.dst):
                continue
            ks = _kind_of(trial, e.src, e.src_port, True, self.registry)
            kd = _kind_of(trial, e.dst, e.dst_port, False, self.registry)
            if ks is None or kd is None or not kinds_compatible(ks, kd):
                stale.append(e)
        return stale

    def set_resource(self, node_id: str, name: str, resource: dict | None) -> bool:
        return self.execute(SetResource(node_id, name, resource), f"Set {node_id}.{name} file")

    # ---- subpatches -------------------------------------------------------------------------

    def group(self, node_ids) -> str | None:
        """Group `node_ids` into a new subpatch (one undo step); returns its id."""
        ids = [n for n in node_ids if n in self.graph.nodes]
        if not ids:
            self.message.emit("select the nodes to group first")
            return None
        new_id = unique_id("sub", set(self.graph.nodes) - set(ids))
        try:
            command = group_nodes(self.graph, ids, new_id, self.registry)
        except GraphError as exc:
            self.message.emit(str(exc))
            return None
        return new_id if self.execute(command, f"Group {len(ids)} node(s) into {new_id}") else None

    def ungroup(self, node_id: str) -> list:
        """Replace subpatch `node_id` by its inner nodes (one undo step); returns their ids."""
        spec = self.graph.nodes.get(node_id)
        if spec is None or not is_subpatch(spec):
            self.message.emit(f"{node_id} is not a subpatch")
            return []
        try:
            command = ungroup(self.graph, node_id, self.registry)
        except GraphError as exc:
            self.message.emit(str(exc))
            return []
        if not self.execute(command, f"Ungroup {node_id}"):
            return []
        return [c.node.id for c in command.commands if isinstance(c, AddNode)]

    def set_subgraph(self, node_id: str, state: dict, text: str, merge_key=None) -> bool:
        return self.execute(SetSubgraph(node_id, state), text, merge_key)

    def paste(self, fragment: dict, offset=(30.0, 30.0)) -> list:
        """Add the nodes and internal edges of a copied fragment with fresh ids; returns new ids."""
        taken = set(self.graph.nodes)
        mapping, cmds = {}, []
        for spec in fragment["nodes"]:
            new_id = unique_id(spec.id, taken)
            taken.add(new_id)
            mapping[spec.id] = new_id
            s = spec.copy()
            s.id = new_id
            if s.raw is not None:
                s.raw["id"] = new_id
            x, y = s.ui.get("pos", [0.0, 0.0])
            s.ui["pos"] = [float(x) + offset[0], float(y) + offset[1]]
            cmds.append(AddNode(s))
        for e in fragment["edges"]:
            if e.src in mapping and e.dst in mapping:
                cmds.append(Connect(Edge(mapping[e.src], e.src_port, mapping[e.dst], e.dst_port)))
        if cmds and self.execute(Batch(cmds), f"Paste {len(mapping)} node(s)"):
            return list(mapping.values())
        return []

    def fragment(self, node_ids) -> dict:
        ids = [n for n in self.graph.nodes if n in set(node_ids)]
        return {"nodes": [self.graph.nodes[n].copy() for n in ids],
                "edges": [e for e in self.graph.edges if e.src in ids and e.dst in ids]}
