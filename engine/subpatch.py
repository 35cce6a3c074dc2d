"""Subpatches: a node that holds a whole inner graph and exposes some of its ports.

A ``sys.subpatch`` node keeps its inner graph in ``NodeSpec.extra`` (saved as the node's
``"state"``), in the patch format's own node and edge JSON::

    {"nodes": [{"id": "g", "type": "util.gain", ...}],
     "edges": [{"from": ["g", "out"], "to": ["h", "in"]}],
     "inputs":  [{"name": "in",  "kind": "audio", "to": [["g", "in"]]}],
     "outputs": [{"name": "out", "kind": "audio", "from": ["h", "out"]}]}

An exposed input feeds every inner port listed in ``to``; an exposed output carries the
inner port named in ``from`` (``null``: unbound, silent). Subpatches nest.

The compiler never runs a subpatch node: :func:`flatten` first replaces every subpatch
by its inner nodes, renamed ``"<subpatch id>/<inner id>"``, and rewires the cables through
the exposed ports, so scheduling, latency compensation, the live engine and offline
rendering see one flat graph. :func:`group_nodes` and :func:`ungroup` build the undoable
commands that turn a selection into a subpatch and back; :class:`SetSubgraph` replaces a
subpatch's inner graph (how an editor edits inside one).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from .errors import CompileError, GraphError, PatchError
from .graph import AddNode, Batch, Command, Connect, Edge, Graph, NodeSpec, RemoveNode
from .node import Node, zero_outputs
from .patch import FORMAT_NAME, FORMAT_VERSION, graph_from_dict, graph_to_dict, node_ports
from .registry import Registry, default_registry
from .streams import STREAM_KINDS, Port, kinds_compatible

SUBPATCH_TYPE = "sys.subpatch"
SEPARATOR = "/"


class Subpatch(Node):
    """A group of nodes shown as one; its ports are declared per instance by its state."""

    type_id = SUBPATCH_TYPE
    version = 1
    title = "Subpatch"
    category = "system"
    doc = ("A group of nodes shown as one node. Double-click it in the editor to open it; "
           "its ports are the cables that crossed the group's boundary.")

    def __init__(self):
        super().__init__()
        self.subgraph: dict = empty_state()

    def input_ports(self) -> list:
        return [Port(p["name"], p.get("kind", "any")) for p in self.subgraph.get("inputs", [])]

    def output_ports(self) -> list:
        return [Port(p["name"], p.get("kind", "any")) for p in self.subgraph.get("outputs", [])]

    def get_extra_state(self) -> dict:
        return copy.deepcopy(self.subgraph)

    def set_extra_state(self, extra: dict) -> None:
        self.subgraph = copy.deepcopy(extra)

    def process(self, ins, outs, n):
        # compile_graph flattens subpatches away; a lone instance (contract tests) is silent
        zero_outputs(outs, n)


def empty_state() -> dict:
    return {"nodes": [], "edges": [], "inputs": [], "outputs": []}


def is_subpatch(spec: NodeSpec) -> bool:
    return spec.type == SUBPATCH_TYPE and spec.raw is None


# ---- inner graph <-> state ----------------------------------------------------------------


def inner_graph(state: dict, registry: Registry | None = None) -> Graph:
    """The inner nodes and edges of a subpatch state as a Graph (validated like a patch).

    Raises PatchError with paths relative to the state (``$.nodes[0].params.gain_db``).
    """
    doc = {"format": FORMAT_NAME, "version": FORMAT_VERSION,
           "nodes": state.get("nodes", []), "edges": state.get("edges", [])}
    return graph_from_dict(doc, registry)


def state_from_graph(graph: Graph, inputs: list, outputs: list) -> dict:
    """A subpatch state from an inner graph and exposed ports.

    Port bindings to inner nodes that no longer exist are dropped (an output becomes
    unbound), so deleting an inner node never leaves a dangling reference.
    """
    doc = graph_to_dict(graph)
    ins = []
    for p in inputs:
        to = [list(t) for t in p.get("to", []) if t[0] in graph.nodes]
        ins.append({"name": p["name"], "kind": p.get("kind", "any"), "to": to})
    outs = []
    for p in outputs:
        src = p.get("from")
        outs.append({"name": p["name"], "kind": p.get("kind", "any"),
                     "from": list(src) if src and src[0] in graph.nodes else None})
    return {"nodes": doc["nodes"], "edges": doc["edges"], "inputs": ins, "outputs": outs}


def load_state(state: dict, path: str, registry: Registry | None = None) -> dict:
    """Validate a subpatch's saved state; returns it normalised (every param explicit).

    path: JSON path of the state in the patch (``$.nodes[2].state``); a PatchError names
    the fault below it (``$.nodes[2].state.nodes[0].params.gain_db``).
    """
    for key in ("nodes", "edges", "inputs", "outputs"):
        if key in state and not isinstance(state[key], list):
            raise PatchError(f"{path}.{key}", f"expected an array, got {type(state[key]).__name__}")
    unknown = sorted(set(state) - {"nodes", "edges", "inputs", "outputs"})
    if unknown:
        raise PatchError(f"{path}.{unknown[0]}", "unknown key in a subpatch state "
                         "(known: nodes, edges, inputs, outputs)")
    try:
        graph = inner_graph(state, registry)
    except PatchError as exc:
        raise PatchError(path + exc.path[1:], exc.message) from None
    inputs = _check_ports(state.get("inputs", []), f"{path}.inputs", graph, registry, True)
    outputs = _check_ports(state.get("outputs", []), f"{path}.outputs", graph, registry, False)
    return state_from_graph(graph, inputs, outputs)


def _check_ports(ports: list, path: str, graph: Graph, registry, exposed_input: bool) -> list:
    names = set()
    for i, p in enumerate(ports):
        ppath = f"{path}[{i}]"
        if not isinstance(p, dict):
            raise PatchError(ppath, "expected an object")
        name = p.get("name")
        if not isinstance(name, str) or not name:
            raise PatchError(f"{ppath}.name", "expected a non-empty string")
        if name in names:
            raise PatchError(f"{ppath}.name", f'duplicate port name "{name}"')
        names.add(name)
        kind = p.get("kind", "any")
        if kind not in STREAM_KINDS and kind != "any":
            raise PatchError(f"{ppath}.kind", f"unknown stream kind {kind!r} "
                             f"(known: {', '.join(STREAM_KINDS)}, any)")
        refs = p.get("to", []) if exposed_input else ([p["from"]] if p.get("from") is not None else [])
        key = "to" if exposed_input else "from"
        if exposed_input and not isinstance(refs, list):
            raise PatchError(f"{ppath}.to", "expected an array of [node id, port]")
        for k, ref in enumerate(refs):
            rpath = f"{ppath}.to[{k}]" if exposed_input else f"{ppath}.from"
            if not (isinstance(ref, list) and len(ref) == 2 and all(isinstance(x, str) for x in ref)):
                raise PatchError(rpath, 'expected ["inner node id", "port"]')
            node_id, port = ref
            spec = graph.nodes.get(node_id)
            if spec is None:
                raise PatchError(f"{rpath}[0]", f'no inner node with id "{node_id[:60]}"')
            ins, outs = node_ports(spec, registry)
            side = ins if exposed_input else outs
            if side is None:
                continue  # placeholder: any port
            found = {q.name: q for q in side}
            if port not in found:
                what = "input" if exposed_input else "output"
                raise PatchError(f"{rpath}[1]", f'inner node "{node_id}" ({spec.type}) has no {what} '
                                 f'"{port[:60]}" (has: {", ".join(found) or "none"})')
            if not kinds_compatible(kind, found[port].kind):
                raise PatchError(rpath, f"exposed {key} port {name!r} ({kind}) does not match "
                                 f"{node_id}.{port} ({found[port].kind})")
    return ports


# ---- flatten --------------------------------------------------------------------------------


def flatten(graph: Graph, registry: Registry | None = None) -> Graph:
    """A copy of `graph` with every subpatch (nested ones too) replaced by its inner nodes.

    Inner nodes are renamed ``"<subpatch id>/<inner id>"``; cables into and out of a
    subpatch are rewired to the inner ports its exposed ports name. A graph without
    subpatches comes back as a plain copy. Raises CompileError for cables to ports a
    subpatch does not expose and for clashing flattened ids.
    """
    if not any(is_subpatch(s) for s in graph.nodes.values()):
        return graph.copy()
    registry = registry or default_registry()
    nodes, edges, _, _ = _expand(graph, registry, "")
    flat = Graph(copy.deepcopy(graph.meta), copy.deepcopy(graph.settings))
    flat.unknown_fields = copy.deepcopy(graph.unknown_fields)
    flat.nodes = nodes
    flat.edges = edges
    return flat


def _expand(graph: Graph, registry, where: str):
    """(flat nodes, flat edges, exposed inputs, exposed outputs) of one graph level.

    exposed inputs: (subpatch id, port) -> [(flat id, port)], exposed outputs:
    (subpatch id, port) -> (flat id, port) or None, both for this level's subpatches.
    """
    nodes: dict = {}
    edges: list = []
    ins: dict = {}
    outs: dict = {}

    def add(spec):
        if spec.id in nodes:
            raise CompileError(f"flattened node id {spec.id!r} is used twice; rename a node in {where or 'the patch'}")
        nodes[spec.id] = spec

    for nid, spec in graph.nodes.items():
        if not is_subpatch(spec):
            add(spec.copy())
            continue
        try:
            inner = inner_graph(spec.extra, registry)
        except PatchError as exc:
            raise CompileError(f"subpatch '{nid}': {exc}") from None
        label = f"{where}{nid}"
        i_nodes, i_edges, i_ins, i_outs = _expand(inner, registry, label + SEPARATOR)
        pre = nid + SEPARATOR
        for inner_spec in i_nodes.values():
            s = inner_spec.copy()
            s.id = pre + s.id
            if s.raw is not None:
                s.raw["id"] = s.id
            add(s)
        edges.extend(Edge(pre + e.src, e.src_port, pre + e.dst, e.dst_port) for e in i_edges)
        for p in spec.extra.get("inputs", []):
            targets = []
            for tid, tport in p.get("to", []):
                targets.extend((pre + f, fp) for f, fp in _targets(i_ins, tid, tport))
            ins[(nid, p["name"])] = targets
        for p in spec.extra.get("outputs", []):
            src = p.get("from")
            resolved = _source(i_outs, src[0], src[1]) if src else None
            outs[(nid, p["name"])] = (pre + resolved[0], resolved[1]) if resolved else None

    subpatches = {nid for nid, s in graph.nodes.items() if is_subpatch(s)}
    for e in graph.edges:
        if e.src in subpatches and (e.src, e.src_port) not in outs:
            raise CompileError(f"edge {e}: subpatch '{where}{e.src}' has no output {e.src_port!r}")
        if e.dst in subpatches and (e.dst, e.dst_port) not in ins:
            raise CompileError(f"edge {e}: subpatch '{where}{e.dst}' has no input {e.dst_port!r}")
        src = _source(outs, e.src, e.src_port)
        if src is None:
            continue  # unbound exposed output: the input stays unconnected
        for dst, dport in _targets(ins, e.dst, e.dst_port):
            edge = Edge(src[0], src[1], dst, dport)
            if edge not in edges:
                edges.append(edge)
    return nodes, edges, ins, outs


def _targets(exposed_inputs: dict, node_id: str, port: str) -> list:
    return exposed_inputs.get((node_id, port), [(node_id, port)])


def _source(exposed_outputs: dict, node_id: str, port: str):
    return exposed_outputs.get((node_id, port), (node_id, port))


# ---- commands -------------------------------------------------------------------------------


@dataclass
class SetSubgraph(Command):
    """Replace the whole state (inner graph and exposed ports) of subpatch `node_id`."""

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


def group_nodes(graph: Graph, node_ids, new_id: str, registry: Registry | None = None) -> Command:
    """A Batch that replaces `node_ids` by one subpatch `new_id` (not applied).

    Every cable crossing the selection becomes an exposed port: one input per outer
    source (feeding all the inner ports that source fed), one output per inner source
    that fed something outside. The subpatch takes the place of the first selected node
    in node order and sits at the centre of the selection.
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

    inputs: list = []
    by_source: dict = {}
    outer_edges: list = []
    for e in graph.edges:
        if e.dst in wanted and e.src not in wanted:
            key = (e.src, e.src_port)
            if key not in by_source:
                kind = _port_kind(graph.nodes[e.dst], e.dst_port, False, registry)
                if kind == "any":
                    kind = _port_kind(graph.nodes[e.src], e.src_port, True, registry)
                name = _free_name(e.dst_port, [p["name"] for p in inputs])
                by_source[key] = {"name": name, "kind": kind, "to": []}
                inputs.append(by_source[key])
                outer_edges.append(Edge(e.src, e.src_port, new_id, name))
            by_source[key]["to"].append([e.dst, e.dst_port])
    outputs: list = []
    by_inner: dict = {}
    for e in graph.edges:
        if e.src in wanted and e.dst not in wanted:
            key = (e.src, e.src_port)
            if key not in by_inner:
                kind = _port_kind(graph.nodes[e.src], e.src_port, True, registry)
                if kind == "any":
                    kind = _port_kind(graph.nodes[e.dst], e.dst_port, False, registry)
                name = _free_name(e.src_port, [p["name"] for p in outputs])
                by_inner[key] = {"name": name, "kind": kind, "from": [e.src, e.src_port]}
                outputs.append(by_inner[key])
            outer_edges.append(Edge(new_id, by_inner[key]["name"], e.dst, e.dst_port))

    positions = [graph.nodes[n].ui.get("pos", [0.0, 0.0]) for n in ids]
    centre = [float(sum(p[0] for p in positions) / len(positions)),
              float(sum(p[1] for p in positions) / len(positions))]
    spec = NodeSpec(new_id, SUBPATCH_TYPE, Subpatch.version, {}, {}, {"pos": centre},
                    state_from_graph(inner, inputs, outputs))
    index = list(graph.nodes).index(ids[0])
    return Batch([RemoveNode(n) for n in ids] + [AddNode(spec, index)]
                 + [Connect(e) for e in outer_edges])


def ungroup(graph: Graph, subpatch_id: str, registry: Registry | None = None) -> Command:
    """A Batch that replaces subpatch `subpatch_id` by its inner nodes (not applied).

    Inner nodes keep their ids (a clash with an outer node gets the next free id) and
    take the subpatch's place in node order; outer cables are rewired to the inner ports
    the exposed ports name.
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
        new = nid
        k = 2
        while new in taken:
            new = f"{nid}{k}"
            k += 1
        taken.add(new)
        rename[nid] = new
    index = list(graph.nodes).index(subpatch_id)
    cmds: list = [RemoveNode(subpatch_id)]
    for k, (nid, inner_spec) in enumerate(inner.nodes.items()):
        s = inner_spec.copy()
        s.id = rename[nid]
        if s.raw is not None:
            s.raw["id"] = s.id
        cmds.append(AddNode(s, index + k))
    new_edges: list = [Edge(rename[e.src], e.src_port, rename[e.dst], e.dst_port) for e in inner.edges]
    ins = {p["name"]: p.get("to", []) for p in spec.extra.get("inputs", [])}
    outs = {p["name"]: p.get("from") for p in spec.extra.get("outputs", [])}
    for e in graph.edges:
        if subpatch_id not in (e.src, e.dst):
            continue
        src = (e.src, e.src_port)
        if e.src == subpatch_id:
            bound = outs.get(e.src_port)
            if not bound:
                continue  # unbound output: nothing flowed through this cable
            src = (rename[bound[0]], bound[1])
        targets = [(e.dst, e.dst_port)]
        if e.dst == subpatch_id:
            targets = [(rename[t], tp) for t, tp in ins.get(e.dst_port, [])]
        new_edges += [Edge(src[0], src[1], t, tp) for t, tp in targets]
    unique: list = []
    for e in new_edges:
        if e not in unique:
            unique.append(e)
    return Batch(cmds + [Connect(e) for e in unique])


def _port_kind(spec: NodeSpec, port: str, output: bool, registry) -> str:
    ins, outs = node_ports(spec, registry)
    ports = outs if output else ins
    for p in ports or []:
        if p.name == port:
            return p.kind
    return "any"


def _free_name(base: str, taken: list) -> str:
    if base not in taken:
        return base
    k = 2
    while f"{base}{k}" in taken:
        k += 1
    return f"{base}{k}"
