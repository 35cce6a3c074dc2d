"""Subpatches: a node that holds a whole inner graph; inlets and outlets inside are its ports.

A ``sys.subpatch`` node keeps its inner graph in ``NodeSpec.extra`` (saved as the node's
``"state"``), in the patch format's own node and edge JSON::

    {"nodes": [{"id": "inlet", "type": "sys.inlet", "params": {"name": "in", "kind": "audio"}},
               {"id": "g", "type": "example.gain", ...},
               {"id": "outlet", "type": "sys.outlet", "params": {"name": "out", "kind": "audio"}}],
     "edges": [{"from": ["inlet", "out"], "to": ["g", "in"]},
               {"from": ["g", "out"], "to": ["outlet", "in"]}]}

The exposed ports are not stored: they are the inlet and outlet nodes inside (see
:mod:`.subpatch_ports`, which also defines their order), so there is one source of
truth. States saved by node version 1 listed ``"inputs"``/``"outputs"`` explicitly; they
migrate to inlet and outlet nodes when loaded. Subpatches nest.

The compiler never runs a subpatch node: :func:`flatten` first replaces every subpatch
by its inner nodes, renamed ``"<subpatch id>/<inner id>"``, and rewires the cables through
its inlets and outlets, so scheduling, latency compensation, the live engine and offline
rendering see one flat graph. :func:`group_nodes` and :func:`ungroup` build the undoable
commands that turn a selection into a subpatch and back; :class:`SetSubgraph` replaces a
subpatch's inner graph and :func:`replace_subgraph` does so while keeping the outer
cables on the ports that survive (how an editor edits inside one).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from .errors import CompileError, GraphError, PatchError
from .graph import AddNode, Batch, Command, Connect, Disconnect, Edge, Graph, NodeSpec, RemoveNode, free_name
from .node import Node, zero_outputs
from .patch import FORMAT_NAME, FORMAT_VERSION, graph_from_dict, graph_to_dict, node_ports
from .registry import Registry, default_registry
from .streams import Port, kinds_compatible
from .subpatch_ports import (INLET_TYPE, OUTLET_TYPE, PORT_NODE_GAP_X, PORT_NODE_STEP_Y,
                             check_port_names, exposed_ports, migrate_v1_state)

SUBPATCH_TYPE = "sys.subpatch"
SEPARATOR = "/"


class Subpatch(Node):
    """A group of nodes shown as one; its ports are the inlets and outlets inside."""

    type_id = SUBPATCH_TYPE
    version = 2
    title = "Subpatch"
    category = "system"
    doc = ("A group of nodes shown as one node. Double-click it in the editor to open it; "
           "each inlet inside is an input port, each outlet an output port.")

    def __init__(self):
        super().__init__()
        self.subgraph: dict = empty_state()

    def input_ports(self) -> list:
        return [Port(p.name, p.kind) for p in exposed_ports(self.subgraph)[0]]

    def output_ports(self) -> list:
        return [Port(p.name, p.kind) for p in exposed_ports(self.subgraph)[1]]

    def get_extra_state(self) -> dict:
        return copy.deepcopy(self.subgraph)

    def set_extra_state(self, extra: dict) -> None:
        self.subgraph = copy.deepcopy(extra)

    def migrate(self, state: dict, from_version: int) -> dict:
        if from_version < 2:  # explicit port lists -> inlet and outlet nodes
            state["extra"] = migrate_v1_state(state.get("extra") or {})
        return state

    def process(self, ins, outs, n):
        # compile_graph flattens subpatches away; a lone instance (contract tests) is silent
        zero_outputs(outs, n)


def empty_state() -> dict:
    return {"nodes": [], "edges": []}


def is_subpatch(spec: NodeSpec) -> bool:
    return spec.type == SUBPATCH_TYPE and spec.raw is None


def is_port_node(spec: NodeSpec) -> bool:
    """An inlet or outlet (inside a subpatch: one of its exposed ports)."""
    return spec.type in (INLET_TYPE, OUTLET_TYPE) and spec.raw is None


# ---- inner graph <-> state ----------------------------------------------------------------


def inner_graph(state: dict, registry: Registry | None = None) -> Graph:
    """The inner nodes and edges of a subpatch state as a Graph (validated like a patch).

    Raises PatchError with paths relative to the state (``$.nodes[0].params.gain_db``).
    """
    doc = {"format": FORMAT_NAME, "version": FORMAT_VERSION,
           "nodes": state.get("nodes", []), "edges": state.get("edges", [])}
    return graph_from_dict(doc, registry)


def state_from_graph(graph: Graph) -> dict:
    """A subpatch state from an inner graph (its inlets and outlets are the ports)."""
    doc = graph_to_dict(graph)
    return {"nodes": doc["nodes"], "edges": doc["edges"]}


def graph_ports(graph: Graph) -> tuple[list, list]:
    """(inputs, outputs) :class:`ExposedPort` lists an inner graph defines, in port order."""
    return exposed_ports(state_from_graph(graph))


def load_state(state: dict, path: str, registry: Registry | None = None) -> dict:
    """Validate a subpatch's saved state; returns it normalised (every param explicit).

    path: JSON path of the state in the patch (``$.nodes[2].state``); a PatchError names
    the fault below it (``$.nodes[2].state.nodes[0].params.gain_db``).
    """
    for key in ("nodes", "edges"):
        if key in state and not isinstance(state[key], list):
            raise PatchError(f"{path}.{key}", f"expected an array, got {type(state[key]).__name__}")
    unknown = sorted(set(state) - {"nodes", "edges"})
    if unknown:
        raise PatchError(f"{path}.{unknown[0]}", "unknown key in a subpatch state (known: nodes, edges)")
    try:
        graph = inner_graph(state, registry)
    except PatchError as exc:
        raise PatchError(path + exc.path[1:], exc.message) from None
    normalised = state_from_graph(graph)
    check_port_names(normalised, path)
    return normalised


# ---- flatten --------------------------------------------------------------------------------


def flatten(graph: Graph, registry: Registry | None = None) -> Graph:
    """A copy of `graph` with every subpatch (nested ones too) replaced by its inner nodes.

    Inner nodes are renamed ``"<subpatch id>/<inner id>"``. Inlets and outlets inside
    subpatches vanish: each cable into an exposed input is rewired to every inner port
    its inlet feeds, and each inner source of an outlet to every outer port the exposed
    output feeds (an unconnected inlet leaves its inner ports unconnected: silence).
    Inlets and outlets at the top level stay as ordinary nodes. A graph without
    subpatches comes back as a plain copy. Raises CompileError for cables to ports a
    subpatch does not expose and for clashing flattened ids.
    """
    if not any(is_subpatch(s) for s in graph.nodes.values()):
        return graph.copy()
    registry = registry or default_registry()
    nodes: dict = {}
    edges: list = []
    through: list = []
    _collect(graph, registry, "", nodes, edges, through)
    for node_id in through:
        edges = _bypass(edges, node_id)
    flat = Graph(copy.deepcopy(graph.meta), copy.deepcopy(graph.settings))
    flat.unknown_fields = copy.deepcopy(graph.unknown_fields)
    gone = set(through)
    flat.nodes = {k: v for k, v in nodes.items() if k not in gone}
    flat.edges = edges
    return flat


def _collect(graph: Graph, registry, prefix: str, nodes: dict, edges: list, through: list,
             bypass: bool = False) -> None:
    """Add one graph level's nodes and edges, ids prefixed, subpatches expanded.

    Inlets and outlets of subpatches are added too (listed in `through`, to be bypassed);
    an outer cable into a subpatch port ends at the port's inlet, one out of a subpatch
    port starts at its outlet. A bypassed subpatch bypasses every node inside it.
    """
    ports: dict = {}
    for nid, spec in graph.nodes.items():
        if is_subpatch(spec):
            try:
                inner = inner_graph(spec.extra, registry)
            except PatchError as exc:
                raise CompileError(f"subpatch '{prefix}{nid}': {exc}") from None
            sub = prefix + nid + SEPARATOR
            ins, outs = graph_ports(inner)
            ports[nid] = ({p.name: sub + p.node_id for p in ins}, {p.name: sub + p.node_id for p in outs})
            _collect(inner, registry, sub, nodes, edges, through, bypass or spec.bypass)
            continue
        s = spec.copy()
        s.id = prefix + nid
        s.bypass = s.bypass or bypass
        if s.raw is not None:
            s.raw["id"] = s.id
        if s.id in nodes:
            raise CompileError(f"flattened node id {s.id!r} is used twice; rename a node in "
                               f"{prefix.rstrip(SEPARATOR) or 'the patch'}")
        nodes[s.id] = s
        if prefix and is_port_node(spec):
            through.append(s.id)
    for e in graph.edges:
        src, src_port, dst, dst_port = prefix + e.src, e.src_port, prefix + e.dst, e.dst_port
        if e.src in ports:
            src = ports[e.src][1].get(e.src_port)
            if src is None:
                raise CompileError(f"edge {e}: subpatch '{prefix}{e.src}' has no output {e.src_port!r}")
            src_port = "out"
        if e.dst in ports:
            dst = ports[e.dst][0].get(e.dst_port)
            if dst is None:
                raise CompileError(f"edge {e}: subpatch '{prefix}{e.dst}' has no input {e.dst_port!r}")
            dst_port = "in"
        edges.append(Edge(src, src_port, dst, dst_port))


def _bypass(edges: list, node_id: str) -> list:
    """Edges with `node_id` taken out: every source feeding it now feeds its destinations.

    Order is kept (a rewired edge takes the place of the edge that left the node); loops
    through the node alone are dropped, duplicates kept once.
    """
    into = [e for e in edges if e.dst == node_id]
    out: list = []
    seen: set = set()
    for e in edges:
        if e.dst == node_id:
            continue
        for edge in ([Edge(i.src, i.src_port, e.dst, e.dst_port) for i in into] if e.src == node_id else [e]):
            if node_id not in (edge.src, edge.dst) and edge not in seen:
                seen.add(edge)
                out.append(edge)
    return out


# ---- commands -------------------------------------------------------------------------------


@dataclass
class SetSubgraph(Command):
    """Replace the whole state (inner graph, with its inlets and outlets) of subpatch `node_id`."""

    node_id: str
    state: dict

    def apply(self, graph):
        spec = graph.nodes.get(self.node_id)
        if spec is None:
            raise GraphError(f"no node {self.node_id!r}")
        if not is_subpatch(spec):
            raise GraphError(f"node {self.node_id!r} ({spec.type}) is not a subpatch")
        old = spec.extra
        spec.extra = copy.deepcopy(self.state)
        return SetSubgraph(self.node_id, old)


def replace_subgraph(graph: Graph, node_id: str, state: dict, registry: Registry | None = None) -> Command:
    """A command setting subpatch `node_id`'s state and keeping its outer cables consistent.

    Ports are matched by their inlet/outlet node: a renamed port keeps its cables (they
    move to the new name); a cable on a port whose inlet/outlet is gone, or whose new
    kind no longer fits the other end, is removed in the same command. Raises GraphError
    when two inlets (or two outlets) would share a name or a name is empty.
    """
    registry = registry or default_registry()
    spec = graph.nodes.get(node_id)
    if spec is None:
        raise GraphError(f"no node {node_id!r}")
    if not is_subpatch(spec):
        raise GraphError(f"node {node_id!r} ({spec.type}) is not a subpatch")
    try:
        check_port_names(state, "$")
    except PatchError as exc:
        raise GraphError(exc.message) from None
    old_ins, old_outs = exposed_ports(spec.extra)
    new_ins, new_outs = exposed_ports(state)
    moved_in = _port_moves(old_ins, new_ins)
    moved_out = _port_moves(old_outs, new_outs)
    before: list = []
    after: list = []
    for e in graph.edges:
        if node_id not in (e.src, e.dst):
            continue
        src = moved_out.get(e.src_port) if e.src == node_id else (e.src_port, None)
        dst = moved_in.get(e.dst_port) if e.dst == node_id else (e.dst_port, None)
        if src is None or dst is None:
            before.append(Disconnect(e))
            continue
        src_kind = src[1] or _port_kind(graph.nodes[e.src], e.src_port, True, registry)
        dst_kind = dst[1] or _port_kind(graph.nodes[e.dst], e.dst_port, False, registry)
        if not kinds_compatible(src_kind, dst_kind):
            before.append(Disconnect(e))
        elif (src[0], dst[0]) != (e.src_port, e.dst_port):
            before.append(Disconnect(e))
            after.append(Connect(Edge(e.src, src[0], e.dst, dst[0])))
    return Batch(before + [SetSubgraph(node_id, copy.deepcopy(state))] + after)


def _port_moves(old: list, new: list) -> dict:
    """old port name -> (new name, new kind) for ports whose inlet/outlet survives."""
    by_node = {p.node_id: p for p in new}
    return {p.name: (by_node[p.node_id].name, by_node[p.node_id].kind)
            for p in old if p.node_id in by_node}


def group_nodes(graph: Graph, node_ids, new_id: str, registry: Registry | None = None) -> Command:
    """A Batch that replaces `node_ids` by one subpatch `new_id` (not applied).

    Every cable crossing the selection gets an inlet or outlet inside: one inlet per
    outer source (feeding all the inner ports that source fed), one outlet per inner
    source that fed something outside. Inlets sit left of the selection and outlets
    right of it, in boundary-cable order. The subpatch takes the place of the first
    selected node in node order and sits at the centre of the selection.
    """
    registry = registry or default_registry()
    wanted = set(node_ids)
    missing = sorted(wanted - set(graph.nodes))
    if missing:
        raise GraphError(f"cannot group: no node {missing[0]!r}")
    if not wanted:
        raise GraphError("cannot group: no nodes selected")
    if new_id in graph.nodes and new_id not in wanted:
        raise GraphError(f"cannot group: node id {new_id!r} is taken")
    ids = [n for n in graph.nodes if n in wanted]
    inner = Graph()
    inner.nodes = {n: graph.nodes[n].copy() for n in ids}
    inner.edges = [e for e in graph.edges if e.src in wanted and e.dst in wanted]
    positions = [graph.nodes[n].ui.get("pos", [0.0, 0.0]) for n in ids]
    left = min(p[0] for p in positions) - PORT_NODE_GAP_X
    right = max(p[0] for p in positions) + PORT_NODE_GAP_X
    top = min(p[1] for p in positions)

    inlets: dict = {}          # outer source -> (inlet id, port name)
    outlets: dict = {}         # inner source -> (outlet id, port name)
    outer_edges: list = []
    port_nodes: list = []

    def port_node(type_id, base, name, kind, x, row):
        node_id = free_name(base, list(inner.nodes) + [n.id for n in port_nodes])
        port_nodes.append(NodeSpec(node_id, type_id, 1, {"name": name, "kind": kind}, {},
                                   {"pos": [float(x), float(top + PORT_NODE_STEP_Y * row)]}))
        return node_id

    for e in graph.edges:
        if e.dst in wanted and e.src not in wanted:
            key = (e.src, e.src_port)
            if key not in inlets:
                kind = _port_kind(graph.nodes[e.dst], e.dst_port, False, registry)
                if kind == "any":
                    kind = _port_kind(graph.nodes[e.src], e.src_port, True, registry)
                name = free_name(e.dst_port, [n for _, n in inlets.values()])
                inlets[key] = (port_node(INLET_TYPE, "inlet", name, _concrete(kind), left, len(inlets)), name)
                outer_edges.append(Edge(e.src, e.src_port, new_id, name))
            inner.edges.append(Edge(inlets[key][0], "out", e.dst, e.dst_port))
    for e in graph.edges:
        if e.src in wanted and e.dst not in wanted:
            key = (e.src, e.src_port)
            if key not in outlets:
                kind = _port_kind(graph.nodes[e.src], e.src_port, True, registry)
                if kind == "any":
                    kind = _port_kind(graph.nodes[e.dst], e.dst_port, False, registry)
                name = free_name(e.src_port, [n for _, n in outlets.values()])
                outlets[key] = (port_node(OUTLET_TYPE, "outlet", name, _concrete(kind), right, len(outlets)), name)
                inner.edges.append(Edge(e.src, e.src_port, outlets[key][0], "in"))
            outer_edges.append(Edge(new_id, outlets[key][1], e.dst, e.dst_port))
    for spec in port_nodes:
        inner.nodes[spec.id] = spec

    centre = [float(sum(p[0] for p in positions) / len(positions)),
              float(sum(p[1] for p in positions) / len(positions))]
    spec = NodeSpec(new_id, SUBPATCH_TYPE, Subpatch.version, {}, {}, {"pos": centre},
                    state_from_graph(inner))
    index = list(graph.nodes).index(ids[0])
    return Batch([RemoveNode(n) for n in ids] + [AddNode(spec, index)]
                 + [Connect(e) for e in outer_edges])


def ungroup(graph: Graph, subpatch_id: str, registry: Registry | None = None) -> Command:
    """A Batch that replaces subpatch `subpatch_id` by its inner nodes (not applied).

    Inner nodes keep their ids (a clash with an outer node gets the next free id) and
    take the subpatch's place in node order; its inlets and outlets are removed and the
    outer cables reconnected to what they fed and what fed them.
    """
    spec = graph.nodes.get(subpatch_id)
    if spec is None:
        raise GraphError(f"no node {subpatch_id!r}")
    if not is_subpatch(spec):
        raise GraphError(f"node {subpatch_id!r} ({spec.type}) is not a subpatch")
    try:
        inner = inner_graph(spec.extra, registry)
    except PatchError as exc:
        raise GraphError(f"subpatch '{subpatch_id}' cannot be ungrouped: {exc}") from None
    taken = set(graph.nodes) - {subpatch_id}
    rename = {}
    for nid in inner.nodes:
        new = free_name(nid, taken)
        taken.add(new)
        rename[nid] = new
    ins, outs = graph_ports(inner)
    inlet_of = {p.name: rename[p.node_id] for p in ins}
    outlet_of = {p.name: rename[p.node_id] for p in outs}
    index = list(graph.nodes).index(subpatch_id)
    cmds: list = [RemoveNode(subpatch_id)]
    kept = [(nid, s) for nid, s in inner.nodes.items() if not is_port_node(s)]
    for k, (nid, inner_spec) in enumerate(kept):
        s = inner_spec.copy()
        s.id = rename[nid]
        if s.raw is not None:
            s.raw["id"] = s.id
        cmds.append(AddNode(s, index + k))
    edges = [Edge(rename[e.src], e.src_port, rename[e.dst], e.dst_port) for e in inner.edges]
    for e in graph.edges:
        if subpatch_id not in (e.src, e.dst):
            continue
        src, dst = (e.src, e.src_port), (e.dst, e.dst_port)
        if e.src == subpatch_id:
            if e.src_port not in outlet_of:
                continue
            src = (outlet_of[e.src_port], "out")
        if e.dst == subpatch_id:
            if e.dst_port not in inlet_of:
                continue
            dst = (inlet_of[e.dst_port], "in")
        edges.append(Edge(*src, *dst))
    for nid, s in inner.nodes.items():
        if is_port_node(s):
            edges = _bypass(edges, rename[nid])
    remaining = {e for e in graph.edges if subpatch_id not in (e.src, e.dst)}
    return Batch(cmds + [Connect(e) for e in edges if e not in remaining])


def _port_kind(spec: NodeSpec, port: str, output: bool, registry) -> str:
    ins, outs = node_ports(spec, registry)
    ports = outs if output else ins
    for p in ports or []:
        if p.name == port:
            return p.kind
    return "any"


def _concrete(kind: str) -> str:
    # an inlet or outlet has one of the five kinds; "any" (two placeholders) fits audio
    return "audio" if kind == "any" else kind
