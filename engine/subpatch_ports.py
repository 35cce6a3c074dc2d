"""Inlets and outlets: the nodes inside a subpatch that define its exposed ports.

A ``sys.inlet`` inside a subpatch is one input of the subpatch node: what the outer cable
brings leaves the inlet's ``out``. A ``sys.outlet`` is one output: what reaches its
``in`` leaves the subpatch. The param ``name`` is the exposed port's name, ``kind`` its
stream kind (the inlet's and outlet's own port follows it).

Port order on the subpatch node follows the inlets' (and outlets') positions in the
subpatch: top to bottom, then left to right, then node order. Moving an inlet up moves
its port up.

The compiler never runs an inlet or outlet inside a subpatch: flattening rewires the
outer cables straight to the inner ports (see :mod:`.subpatch`). One outside any
subpatch is an ordinary node that is connected to nothing outside: an inlet passes
silence (empty frames, no events), an outlet discards what reaches it.

This module also migrates subpatch states saved before inlets existed (node version 1:
explicit ``"inputs"``/``"outputs"`` lists) to inlet and outlet nodes.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import PatchError
from .graph import free_name
from .node import Node, zero_outputs
from .params import Param
from .streams import STREAM_KINDS, Port, StreamSpec

INLET_TYPE = "sys.inlet"
OUTLET_TYPE = "sys.outlet"
PORT_NODE_TYPES = (INLET_TYPE, OUTLET_TYPE)

#: Layout of inlets and outlets created by grouping and migration (scene units).
PORT_NODE_GAP_X = 220.0
PORT_NODE_STEP_Y = 90.0


class _PortNode(Node):
    category = "system"
    default_name = ""

    @classmethod
    def _params(cls, default_name: str) -> list:
        return [Param.text("name", default_name, doc="name of the subpatch port this node defines"),
                Param.choice("kind", STREAM_KINDS, "audio", doc="stream kind of the port",
                             structural=True)]

    def port_kind(self) -> str:
        return self.param_values.get("kind", "audio")


class Inlet(_PortNode):
    """One input of the subpatch it sits in."""

    type_id = INLET_TYPE
    version = 1
    title = "Inlet"
    doc = ("An input of the subpatch this node sits in: the subpatch node gets an input "
           "port named `name`; what is connected to it leaves here. Outside a subpatch it "
           "passes silence.")
    params = _PortNode._params("in")
    outputs = [Port("out", "audio")]

    def output_ports(self) -> list:
        return [Port("out", self.port_kind())]

    def prepare(self, ctx):
        kind = self.port_kind()
        if kind in ("frames", "latent"):
            ctx.out_specs["out"] = StreamSpec(kind, channels=1, bins=1, hop=max(1, ctx.block_size))
        ctx.note(f"inlet {self.param_values['name']!r} is outside any subpatch: it passes silence")

    def process(self, ins, outs, n):
        zero_outputs(outs, n)


class Outlet(_PortNode):
    """One output of the subpatch it sits in."""

    type_id = OUTLET_TYPE
    version = 1
    title = "Outlet"
    doc = ("An output of the subpatch this node sits in: the subpatch node gets an output "
           "port named `name` carrying what reaches this node. Outside a subpatch it "
           "discards its input.")
    params = _PortNode._params("out")
    inputs = [Port("in", "audio")]

    def input_ports(self) -> list:
        return [Port("in", self.port_kind())]

    def prepare(self, ctx):
        ctx.note(f"outlet {self.param_values['name']!r} is outside any subpatch: its input goes nowhere")

    def process(self, ins, outs, n):
        pass


# ---- exposed ports of a subpatch state -------------------------------------------------


@dataclass(frozen=True)
class ExposedPort:
    """A port of a subpatch node: the inlet/outlet node `node_id` inside defines it."""

    node_id: str
    name: str
    kind: str


def _pos(node: dict) -> tuple:
    pos = (node.get("ui") or {}).get("pos") if isinstance(node.get("ui"), dict) else None
    if isinstance(pos, list) and len(pos) == 2 and all(isinstance(v, (int, float)) for v in pos):
        return float(pos[1]), float(pos[0])
    return 0.0, 0.0


def exposed_ports(state: dict) -> tuple[list, list]:
    """(inputs, outputs) :class:`ExposedPort` lists a subpatch state defines, in port order.

    state: a subpatch state in patch JSON (``{"nodes": [...], "edges": [...]}``).
    Order: top to bottom (ui y), then left to right (ui x), then node order.
    """
    found = {INLET_TYPE: [], OUTLET_TYPE: []}
    nodes = state.get("nodes") if isinstance(state, dict) else None
    for index, node in enumerate(nodes if isinstance(nodes, list) else []):
        if not isinstance(node, dict) or node.get("type") not in found:
            continue
        params = node.get("params") if isinstance(node.get("params"), dict) else {}
        default = "in" if node["type"] == INLET_TYPE else "out"
        name = params.get("name", default)
        kind = params.get("kind", "audio")
        if not isinstance(name, str) or kind not in STREAM_KINDS:
            continue
        found[node["type"]].append((_pos(node), index, ExposedPort(str(node.get("id")), name, kind)))
    return ([p for *_, p in sorted(found[INLET_TYPE], key=lambda t: t[:2])],
            [p for *_, p in sorted(found[OUTLET_TYPE], key=lambda t: t[:2])])


def check_port_names(state: dict, path: str) -> None:
    """Raise PatchError when two inlets (or two outlets) share a name, or a name is empty.

    path: JSON path of `state` (``$.nodes[2].state``); the error names the node's param.
    """
    seen = {INLET_TYPE: {}, OUTLET_TYPE: {}}
    for index, node in enumerate(state.get("nodes", [])):
        if node.get("type") not in seen:
            continue
        name = node.get("params", {}).get("name", "")
        where = f"{path}.nodes[{index}].params.name"
        what = "inlet" if node["type"] == INLET_TYPE else "outlet"
        if not name.strip():
            raise PatchError(where, f"{what} {node.get('id')!r} needs a port name")
        if name in seen[node["type"]]:
            raise PatchError(where, f'port name "{name[:60]}" is used by {what}s '
                             f"{seen[node['type']][name]!r} and {node.get('id')!r}")
        seen[node["type"]][name] = node.get("id")


# ---- migration from explicit port lists (sys.subpatch version 1) ----------------------------


def migrate_v1_state(state) -> dict:
    """Turn a version-1 subpatch state (explicit ``inputs``/``outputs``) into inlet/outlet nodes.

    Each input becomes an inlet wired to the inner ports its ``to`` lists, each output an
    outlet fed by its ``from`` (none when unbound). Inlets sit left of the inner nodes and
    outlets right of them, stacked in the old port order. Raises PatchError with a path
    relative to the state (``$.inputs[0].name``).
    """
    if not isinstance(state, dict):
        raise PatchError("$", "expected an object")
    for key in ("nodes", "edges", "inputs", "outputs"):
        if key in state and not isinstance(state[key], list):
            raise PatchError(f"$.{key}", f"expected an array, got {type(state[key]).__name__}")
    unknown = sorted(set(state) - {"nodes", "edges", "inputs", "outputs"})
    if unknown:
        raise PatchError(f"$.{unknown[0]}", "unknown key in a subpatch state "
                         "(known: nodes, edges, inputs, outputs)")
    nodes = list(state.get("nodes", []))
    edges = list(state.get("edges", []))
    inner_ids = {n.get("id") for n in nodes if isinstance(n, dict) and isinstance(n.get("id"), str)}
    ids = set(inner_ids)
    positions = [(x, y) for y, x in (_pos(n) for n in nodes if isinstance(n, dict) and "ui" in n)]
    left = min((x for x, _ in positions), default=0.0) - PORT_NODE_GAP_X
    right = max((x for x, _ in positions), default=0.0) + PORT_NODE_GAP_X
    top = min((y for _, y in positions), default=0.0)
    for key, type_id, base in (("inputs", INLET_TYPE, "inlet"), ("outputs", OUTLET_TYPE, "outlet")):
        names = set()
        for i, port in enumerate(state.get(key, [])):
            ppath = f"$.{key}[{i}]"
            if not isinstance(port, dict):
                raise PatchError(ppath, "expected an object")
            name = port.get("name")
            if not isinstance(name, str) or not name:
                raise PatchError(f"{ppath}.name", "expected a non-empty string")
            if name in names:
                raise PatchError(f"{ppath}.name", f'duplicate port name "{name[:60]}"')
            names.add(name)
            kind = port.get("kind", "any")
            if kind not in STREAM_KINDS and kind != "any":
                raise PatchError(f"{ppath}.kind", f"unknown stream kind {kind!r} "
                                 f"(known: {', '.join(STREAM_KINDS)}, any)")
            refs = _v1_refs(port, ppath, key == "inputs", inner_ids)
            node_id = free_name(base, ids)
            ids.add(node_id)
            x = left if key == "inputs" else right
            nodes.append({"id": node_id, "type": type_id, "version": 1,
                          "params": {"name": name, "kind": "audio" if kind == "any" else kind},
                          "ui": {"pos": [x, top + PORT_NODE_STEP_Y * i]}})
            for ref in refs:
                if key == "inputs":
                    edges.append({"from": [node_id, "out"], "to": ref})
                else:
                    edges.append({"from": ref, "to": [node_id, "in"]})
    return {"nodes": nodes, "edges": edges}


def _v1_refs(port: dict, ppath: str, exposed_input: bool, ids: set) -> list:
    if exposed_input:
        refs = port.get("to", [])
        if not isinstance(refs, list):
            raise PatchError(f"{ppath}.to", "expected an array of [node id, port]")
        paths = [f"{ppath}.to[{k}]" for k in range(len(refs))]
    else:
        refs = [port["from"]] if port.get("from") is not None else []
        paths = [f"{ppath}.from"]
    for ref, rpath in zip(refs, paths):
        if not (isinstance(ref, list) and len(ref) == 2 and all(isinstance(x, str) for x in ref)):
            raise PatchError(rpath, 'expected ["inner node id", "port"]')
        if ref[0] not in ids:
            raise PatchError(f"{rpath}[0]", f'no inner node with id "{ref[0][:60]}"')
    return [list(r) for r in refs]
