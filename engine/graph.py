"""The patch as pure data, edited only through commands.

Every command's ``apply(graph)`` mutates the graph and returns its inverse command, so
the editor's undo stack and scripted edits share one path::

    undo = graph.apply(Connect(Edge("osc", "out", "gain", "in")))
    graph.apply(undo)   # back to before
"""
from __future__ import annotations

import copy
import dataclasses
import numbers
from dataclasses import dataclass, field

import numpy as np

from .errors import GraphError


@dataclass
class NodeSpec:
    """One node of the patch. ``raw`` keeps the JSON verbatim for unknown types (placeholders)."""

    id: str
    type: str
    version: int = 1
    params: dict = field(default_factory=dict)
    resources: dict = field(default_factory=dict)  # name -> {"path": str, "sha256": str}
    ui: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # node-specific JSON state
    raw: dict | None = None
    bypass: bool = False  # switched off by the user: passes its bypass routes, else silent

    def copy(self) -> "NodeSpec":
        return copy.deepcopy(self)


@dataclass(frozen=True)
class Edge:
    src: str
    src_port: str
    dst: str
    dst_port: str

    def __str__(self) -> str:
        return f"{self.src}.{self.src_port} -> {self.dst}.{self.dst_port}"


def free_name(base: str, taken) -> str:
    """`base`, or `base2`, `base3`, ... : the first that is not in `taken`."""
    if base not in taken:
        return base
    k = 2
    while f"{base}{k}" in taken:
        k += 1
    return f"{base}{k}"


class Graph:
    """Nodes (insertion-ordered), edges, meta and settings of a patch."""

    def __init__(self, meta: dict | None = None, settings: dict | None = None):
        self.nodes: dict[str, NodeSpec] = {}
        self.edges: list[Edge] = []
        self.meta: dict = dict(meta or {})
        self.settings: dict = {"sample_rate": 48000, "block_size": 256, **(settings or {})}
        self.comments: list[dict] = []  # {"id", "pos": [x, y], "size": [w, h], "text"}
        self.unknown_fields: dict = {}  # top-level keys we do not know, saved back verbatim
        self._listeners: list = []

    # ---- queries ---------------------------------------------------------------------------

    def edges_into(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.dst == node_id]

    def edges_from(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.src == node_id]

    def unique_id(self, base: str) -> str:
        return free_name(base.split(".")[-1] or "node", self.nodes)

    def copy(self) -> "Graph":
        g = Graph(copy.deepcopy(self.meta), copy.deepcopy(self.settings))
        g.nodes = {k: v.copy() for k, v in self.nodes.items()}
        g.edges = list(self.edges)
        g.comments = copy.deepcopy(self.comments)
        g.unknown_fields = copy.deepcopy(self.unknown_fields)
        return g

    def same_as(self, other: "Graph") -> bool:
        """Structural equality (node order and ui included; listeners excluded)."""
        return (list(self.nodes) == list(other.nodes)
                and all(self.nodes[k] == other.nodes[k] for k in self.nodes)
                and sorted(map(str, self.edges)) == sorted(map(str, other.edges))
                and self.settings == other.settings and self.meta == other.meta
                and self.comments == other.comments)

    def comment(self, comment_id: str) -> dict | None:
        """The comment with id `comment_id`, or None."""
        return next((c for c in self.comments if c.get("id") == comment_id), None)

    # ---- edits -----------------------------------------------------------------------------

    def apply(self, command: "Command") -> "Command":
        """Apply `command`; return its inverse. Raises GraphError and leaves the graph unchanged."""
        inverse = command.apply(self)
        for listener in list(self._listeners):
            listener(command)
        return inverse

    def subscribe(self, listener) -> None:
        """Call ``listener(command)`` after every applied command."""
        self._listeners.append(listener)

    def unsubscribe(self, listener) -> None:
        self._listeners.remove(listener)


def plain_data_fault(value, where: str = "command", depth: int = 0) -> str | None:
    """Where `value` stops being plain data (None, bools, numbers, str, lists, tuples,
    dicts with string keys, and the dataclasses of this module), or None when it is plain."""
    if depth > 64:
        return f"{where}: nested too deeply"
    if value is None or isinstance(value, (bool, str, numbers.Number, np.bool_)):
        return None
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            fault = plain_data_fault(v, f"{where}[{i}]", depth + 1)
            if fault:
                return fault
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"{where}: key {k!r} is not a string"
            fault = plain_data_fault(v, f"{where}.{k}", depth + 1)
            if fault:
                return fault
        return None
    if dataclasses.is_dataclass(value) and type(value).__module__ in _PLAIN_MODULES:
        for f in dataclasses.fields(value):
            fault = plain_data_fault(getattr(value, f.name), f"{where}.{f.name}", depth + 1)
            if fault:
                return fault
        return None
    return f"{where}: {type(value).__name__} is not plain data"


class Command:
    def apply(self, graph: Graph) -> "Command":
        raise NotImplementedError


@dataclass
class AddNode(Command):
    node: NodeSpec
    index: int | None = None  # position in node order (used by undo of RemoveNode)

    def apply(self, graph):
        if not self.node.id or not isinstance(self.node.id, str):
            raise GraphError("node id must be a non-empty string")
        if self.node.id in graph.nodes:
            raise GraphError(f"duplicate node id {self.node.id!r}")
        items = list(graph.nodes.items())
        idx = len(items) if self.index is None else self.index
        items.insert(idx, (self.node.id, self.node.copy()))
        graph.nodes = dict(items)
        return RemoveNode(self.node.id)


@dataclass
class RemoveNode(Command):
    node_id: str

    def apply(self, graph):
        if self.node_id not in graph.nodes:
            raise GraphError(f"no node {self.node_id!r}")
        index = list(graph.nodes).index(self.node_id)
        spec = graph.nodes.pop(self.node_id)
        removed = [(i, e) for i, e in enumerate(graph.edges) if self.node_id in (e.src, e.dst)]
        graph.edges = [e for e in graph.edges if self.node_id not in (e.src, e.dst)]
        return Batch([AddNode(spec, index)] + [Connect(e, i) for i, e in removed])


@dataclass
class Connect(Command):
    edge: Edge
    index: int | None = None

    def apply(self, graph):
        e = self.edge
        for nid in (e.src, e.dst):
            if nid not in graph.nodes:
                raise GraphError(f"cannot connect {e}: no node {nid!r}")
        if e in graph.edges:
            raise GraphError(f"{e} is already connected")
        if self.index is None:
            graph.edges.append(e)
        else:
            graph.edges.insert(self.index, e)
        return Disconnect(e)


@dataclass
class Disconnect(Command):
    edge: Edge

    def apply(self, graph):
        if self.edge not in graph.edges:
            raise GraphError(f"{self.edge} is not connected")
        index = graph.edges.index(self.edge)
        graph.edges.remove(self.edge)
        return Connect(self.edge, index)


_MISSING = object()


def _node_spec(graph, node_id: str):
    """The spec of node ``node_id``; GraphError when the graph has none."""
    spec = graph.nodes.get(node_id)
    if spec is None:
        raise GraphError(f"no node {node_id!r}")
    return spec


@dataclass
class SetParam(Command):
    node_id: str
    name: str
    value: object

    def apply(self, graph):
        spec = _node_spec(graph, self.node_id)
        old = spec.params.get(self.name, _MISSING)
        spec.params[self.name] = self.value
        if old is _MISSING:
            return ClearParam(self.node_id, self.name)
        return SetParam(self.node_id, self.name, old)


@dataclass
class ClearParam(Command):
    """Remove an explicit param value (back to the node's default)."""

    node_id: str
    name: str

    def apply(self, graph):
        spec = _node_spec(graph, self.node_id)
        if self.name not in spec.params:
            return Batch([])
        old = spec.params.pop(self.name)
        return SetParam(self.node_id, self.name, old)


@dataclass
class SetResource(Command):
    node_id: str
    name: str
    resource: dict | None  # {"path": ..., "sha256": ...} or None to clear

    def apply(self, graph):
        spec = _node_spec(graph, self.node_id)
        old = spec.resources.get(self.name)
        if self.resource is None:
            spec.resources.pop(self.name, None)
        else:
            spec.resources[self.name] = dict(self.resource)
        return SetResource(self.node_id, self.name, old)


@dataclass
class MoveNode(Command):
    node_id: str
    pos: tuple

    def apply(self, graph):
        spec = _node_spec(graph, self.node_id)
        old = tuple(spec.ui.get("pos", (0.0, 0.0)))
        spec.ui["pos"] = [float(self.pos[0]), float(self.pos[1])]
        return MoveNode(self.node_id, old)


@dataclass
class SetBypass(Command):
    """Switch a node's bypass on or off (a bypassed node passes its ``bypass_routes``)."""

    node_id: str
    on: bool

    def apply(self, graph):
        spec = _node_spec(graph, self.node_id)
        old = spec.bypass
        spec.bypass = bool(self.on)
        if spec.raw is not None:       # a placeholder saves its JSON verbatim
            if spec.bypass:
                spec.raw["bypass"] = True
            else:
                spec.raw.pop("bypass", None)
        return SetBypass(self.node_id, old)


@dataclass
class SetNodeUi(Command):
    """Set one key of a node's ``ui`` (its display title, say); None removes the key."""

    node_id: str
    key: str
    value: object

    def apply(self, graph):
        spec = _node_spec(graph, self.node_id)
        if self.key == "pos":
            raise GraphError("positions change through MoveNode")
        old = copy.deepcopy(spec.ui.get(self.key))
        if self.value is None:
            spec.ui.pop(self.key, None)
        else:
            spec.ui[self.key] = copy.deepcopy(self.value)
        return SetNodeUi(self.node_id, self.key, old)


COMMENT_KEYS = ("id", "pos", "size", "text")


@dataclass
class AddComment(Command):
    """Add a text comment to the canvas: {"id", "pos": [x, y], "size": [w, h], "text"}."""

    comment: dict
    index: int | None = None

    def apply(self, graph):
        cid = self.comment.get("id")
        if not cid or not isinstance(cid, str):
            raise GraphError("comment id must be a non-empty string")
        if graph.comment(cid) is not None:
            raise GraphError(f"duplicate comment id {cid!r}")
        idx = len(graph.comments) if self.index is None else self.index
        graph.comments.insert(idx, copy.deepcopy(self.comment))
        return RemoveComment(cid)


@dataclass
class RemoveComment(Command):
    comment_id: str

    def apply(self, graph):
        comment = graph.comment(self.comment_id)
        if comment is None:
            raise GraphError(f"no comment {self.comment_id!r}")
        index = graph.comments.index(comment)
        graph.comments.pop(index)
        return AddComment(comment, index)


@dataclass
class EditComment(Command):
    """Change a comment's text, position or size: ``changes`` maps those keys to values."""

    comment_id: str
    changes: dict

    def apply(self, graph):
        comment = graph.comment(self.comment_id)
        if comment is None:
            raise GraphError(f"no comment {self.comment_id!r}")
        unknown = set(self.changes) - {"pos", "size", "text"}
        if unknown:
            raise GraphError(f"comments have no {', '.join(sorted(unknown))}")
        old = {k: copy.deepcopy(comment.get(k)) for k in self.changes}
        for k, v in self.changes.items():
            comment[k] = copy.deepcopy(v)
        return EditComment(self.comment_id, old)


@dataclass
class Batch(Command):
    """Several commands applied as one step (undone in reverse order). All or nothing."""

    commands: list

    def apply(self, graph):
        inverses = []
        try:
            for c in self.commands:
                inverses.append(c.apply(graph))
        except Exception:
            for inv in reversed(inverses):
                inv.apply(graph)
            raise
        return Batch(list(reversed(inverses)))


#: modules whose dataclasses count as plain data (graph commands of subpatches too)
_PLAIN_MODULES = {__name__, __name__.rsplit(".", 1)[0] + ".subpatch"}
