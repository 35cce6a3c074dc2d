"""``compile_graph(graph) -> Schedule``: instantiate, type-check, order, prepare, compensate.

The schedule is immutable once built; the runtime swaps whole schedules at block
boundaries. Node instances may be carried over from a previous schedule (``reuse``) so
surviving nodes keep their state across live edits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import CompileError, CycleError, NeuropatchError, ResourceError, StreamTypeError
from .graph import Edge, Graph, NodeSpec
from .node import HostIO, Node, PrepareContext, zero_outputs
from .lane import attach_lanes
from .placeholder import Placeholder
from .registry import Registry, default_registry
from .resources import missing_message, resolve_resource, resource_sha256
from .subpatch import flatten
from .trust import UntrustedModelError
from .events import EventBuffer, EventDelayLine, EventMergeStep
from .streams import FrameBuffer, StreamSpec, allocate_buffer, kinds_compatible


MAX_BLOCK_SIZE = 65536
SAMPLE_RATE_RANGE = (1000, 768000)  # Hz


# ---- steps ------------------------------------------------------------------------------


class NodeStep:
    """Runs one node on its bound input/output buffers, timing it."""

    __slots__ = ("node_id", "node", "in_bufs", "out_bufs", "_cache", "bypassed", "fb_mode",
                 "index", "routes", "lane", "switched_off")

    def __init__(self, node_id, node, in_bufs, out_bufs, index):
        self.node_id = node_id
        self.node = node
        self.in_bufs = in_bufs      # port -> full-size buffer
        self.out_bufs = out_bufs
        self._cache = {}            # n -> (ins, outs) views
        self.bypassed = node.error is not None
        self.switched_off = False   # bypassed by the user (NodeSpec.bypass): still prepared and reset
        self.fb_mode = False        # feedback delay: read now, write at the end of the block
        self.index = index
        self.routes = bypass_pairs(node, in_bufs, out_bufs)
        self.lane = None            # the node's inference lane (engine/lane.py), if it has one

    def call(self, ins, outs, n) -> None:
        """Run the node on this block: its lane, its feedback read, or process()."""
        if self.lane is not None:
            self.lane.process(ins, outs, n)
        elif self.fb_mode:
            self.node.process_feedback_read(outs, n)
        else:
            self.node.process(ins, outs, n)

    def views(self, n):
        v = self._cache.get(n)
        if v is None:
            v = (_views(self.in_bufs, n), _views(self.out_bufs, n))
            if len(self._cache) > 8:
                self._cache.clear()
            self._cache[n] = v
        return v


def bypass_pairs(node, in_bufs: dict, out_bufs: dict) -> tuple:
    """(input buffer, output buffer) pairs of the node's declared ``bypass_routes`` whose
    buffers have the same stream kind (audio arrays, or frame buffers of equal shape)."""
    pairs = []
    for src, dst in node.bypass_routes:
        a, b = in_bufs.get(src), out_bufs.get(dst)
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.ndim == b.ndim == 2:
            pairs.append((a, b))
        elif isinstance(a, FrameBuffer) and isinstance(b, FrameBuffer) and a.data.shape[1:] == b.data.shape[1:]:
            pairs.append((a, b))
    return tuple(pairs)


def _views(bufs: dict, n: int) -> dict:
    return {k: (b[:, :n] if isinstance(b, np.ndarray) and b.ndim == 2 else b) for k, b in bufs.items()}


class SumStep:
    """Fan-in: several audio cables into one input port are summed (Max/Pd semantics)."""

    __slots__ = ("sources", "dest")

    def __init__(self, sources, dest):
        self.sources = sources
        self.dest = dest

    def run(self, n):
        # row by row: 1-D contiguous adds, where 2-D strided or broadcast adds would make
        # numpy allocate an iteration buffer
        dest = self.dest
        for c in range(dest.shape[0]):
            row = dest[c, :n]
            row.fill(0.0)
            for src in self.sources:
                if src.shape[0] == 1:
                    row += src[0, :n]    # mono fans out to every channel
                elif c < src.shape[0]:
                    row += src[c, :n]


class AudioDelayLine:
    """Latency compensation: delays an audio stream by a fixed number of samples.

    ring: float32 [channels, capacity]; no allocation per block.
    """

    __slots__ = ("src", "dest", "delay", "ring", "pos", "cap")

    def __init__(self, src, dest, delay, block_size):
        self.src, self.dest, self.delay = src, dest, delay
        self.cap = delay + block_size
        self.ring = np.zeros((dest.shape[0], self.cap), np.float32)
        self.pos = 0

    def run(self, n):
        # write n new samples at pos, read n samples starting at pos - delay
        ring, cap = self.ring, self.cap
        c = min(self.src.shape[0], ring.shape[0])
        _ring_write(ring, self.src[:c, :n], self.pos, cap)
        _ring_read(ring, self.dest[:, :n], (self.pos - self.delay) % cap, cap)
        self.pos = (self.pos + n) % cap

    def reset(self):
        self.ring.fill(0.0)
        self.pos = 0


def _ring_write(ring, block, pos, cap):
    n = block.shape[1]
    first = min(n, cap - pos)
    ring[: block.shape[0], pos:pos + first] = block[:, :first]
    if first < n:
        ring[: block.shape[0], : n - first] = block[:, first:]


def _ring_read(ring, out, pos, cap):
    n = out.shape[1]
    first = min(n, cap - pos)
    out[:, :first] = ring[: out.shape[0], pos:pos + first]
    if first < n:
        out[:, first:] = ring[: out.shape[0], : n - first]


class FrameDelayLine:
    """Latency compensation for frames/latent streams: delays by whole frames."""

    __slots__ = ("src", "dest", "delay_frames", "fifo")

    def __init__(self, src: FrameBuffer, dest: FrameBuffer, delay_frames: int):
        self.src, self.dest, self.delay_frames = src, dest, delay_frames
        shape = (delay_frames + src.data.shape[0],) + src.data.shape[1:]
        self.fifo = np.zeros(shape, np.float32)  # oldest first; [:delay_frames] pending

    def run(self, n):
        k = self.src.count
        d = self.delay_frames
        self.fifo[d:d + k] = self.src.data[:k]
        self.dest.data[:k] = self.fifo[:k]
        self.dest.count = k
        self.fifo[:d] = self.fifo[k:k + d]

    def reset(self):
        self.fifo.fill(0.0)


# ---- schedule ---------------------------------------------------------------------------


@dataclass
class Schedule:
    """A compiled, immutable plan for running a graph at one sample rate and block size.

    steps: NodeStep or helper steps in execution order.
    latency_samples: graph latency from host input to host output (samples).
    """

    sample_rate: int
    block_size: int
    nodes: dict                      # id -> Node
    steps: list
    node_steps: list                 # the NodeSteps, in order
    feedback_steps: list             # NodeSteps of feedback delays (write phase at block end)
    host: HostIO
    latency_samples: int
    in_specs: dict                   # id -> {port: StreamSpec|None}
    out_specs: dict                  # id -> {port: StreamSpec}
    out_buffers: dict                # (id, port) -> buffer
    notes: list = field(default_factory=list)
    errors: dict = field(default_factory=dict)   # id -> message (bypassed nodes)
    node_latency: dict = field(default_factory=dict)  # id -> path latency at its output
    prepared: set = field(default_factory=set)        # ids prepared by this compile
    check_only: bool = False                          # a check-only compile: not runnable
    lane_requests: dict = field(default_factory=dict)  # id -> LaneRequest (engine/lane.py)
    skipped: list = field(default_factory=list)       # [(id, type)] left out: they feed no output

    def node_ids(self):
        return [s.node_id for s in self.node_steps]


# ---- resources --------------------------------------------------------------------------


def _check_recorded_hashes(spec: NodeSpec, node: Node, notes: list) -> None:
    """Note resources found away from where the patch says (moved: found in a model folder or
    by hash), and files that no longer match the sha256 recorded in the patch."""
    for name, res in spec.resources.items():
        moved = node.resources_moved.get(name)
        if moved:
            notes.append(f"node '{spec.id}': resource '{name}': {moved}")
        recorded = res.get("sha256") if isinstance(res, dict) else None
        path = node.resource_paths.get(name)
        if not recorded or path is None:
            continue
        actual = resource_sha256(path)
        if actual is not None and actual != str(recorded).lower():
            notes.append(f"node '{spec.id}': resource '{name}' ({path}) does not match the sha256 "
                         "recorded in the patch: the file changed since the patch was saved")


# ---- compile ----------------------------------------------------------------------------


def instantiate(spec: NodeSpec, registry: Registry, graph: Graph, base_dir: Path | None,
                reuse: dict | None = None) -> Node:
    """Create the node instance for `spec`; unknown types become placeholders.

    reuse: id -> instance of a previous schedule. An instance is carried over only when it
    is of the same type and its structural params and resources are unchanged (so it may
    keep its state without prepare); otherwise a fresh instance is made, and the previous
    one, which a running engine may still be processing, is not touched.
    """
    cls = registry.resolve(spec.type) if spec.raw is None else None
    if cls is None:
        ins = sorted({e.dst_port for e in graph.edges if e.dst == spec.id})
        outs = sorted({e.src_port for e in graph.edges if e.src == spec.id})
        return Placeholder(spec.type, "", ins, outs)
    fresh = cls()
    _configure(fresh, spec, base_dir)
    old = (reuse or {}).get(spec.id)
    if (type(old) is cls and not old.binds_host and old.error is None
            and old.structure() == fresh.structure() and old.resource_paths == fresh.resource_paths):
        # params that need no prepare reach the running instance (smoothed where declared)
        _configure(old, spec, base_dir)
        return old
    return fresh


def _configure(node: Node, spec: NodeSpec, base_dir: Path | None) -> None:
    try:
        node.set_state({"params": spec.params, "extra": spec.extra}, from_version=spec.version)
    except (ValueError, KeyError) as exc:
        raise CompileError(f"node '{spec.id}' ({spec.type}): bad parameter: {exc}") from None
    paths, node.resources_moved = {}, {}
    for name, res in spec.resources.items():
        path, moved = resolve_resource(res, base_dir)  # moved files: model folders, then by hash
        if path is not None:
            paths[name] = path
        if moved:
            node.resources_moved[name] = moved
    node.resource_paths = {}
    for name, path in paths.items():
        try:
            node.set_resource(name, path)
        except KeyError as exc:
            raise CompileError(f"node '{spec.id}' ({spec.type}): {exc.args[0]}") from None
    node.id = spec.id


def _port_map(ports) -> dict:
    return {p.name: p for p in ports}


def check_edges(graph: Graph, nodes: dict) -> None:
    """Type-check every edge; errors name both ports and their stream kinds."""
    fan_in: dict = {}
    for e in graph.edges:
        if e.src not in nodes or e.dst not in nodes:
            missing = e.src if e.src not in nodes else e.dst
            raise CompileError(f"edge {e}: no node {missing!r}")
        src_ports = _port_map(nodes[e.src].output_ports())
        dst_ports = _port_map(nodes[e.dst].input_ports())
        if e.src_port not in src_ports:
            raise CompileError(f"edge {e}: node '{e.src}' ({nodes[e.src].type_id}) has no output "
                               f"{e.src_port!r} (outputs: {', '.join(src_ports) or 'none'})")
        if e.dst_port not in dst_ports:
            raise CompileError(f"edge {e}: node '{e.dst}' ({nodes[e.dst].type_id}) has no input "
                               f"{e.dst_port!r} (inputs: {', '.join(dst_ports) or 'none'})")
        sk, dk = src_ports[e.src_port].kind, dst_ports[e.dst_port].kind
        if not kinds_compatible(sk, dk):
            raise StreamTypeError(
                f"cannot connect {e.src}.{e.src_port} ({sk}) to {e.dst}.{e.dst_port} ({dk}): "
                f"stream kinds differ; insert a converter node")
        key = (e.dst, e.dst_port)
        fan_in[key] = fan_in.get(key, 0) + 1
        if fan_in[key] > 1 and dk not in ("audio", "any", "events"):
            raise CompileError(f"input {e.dst}.{e.dst_port} ({dk}) accepts one cable; "
                               f"only audio inputs (summed) and events inputs (merged) take several")


def _sccs(ids, succ) -> list:
    """Tarjan's strongly connected components (iterative)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in ids:
        if root in index:
            continue
        work = [(root, iter(succ[root]))]
        index[root] = low[root] = counter[0]; counter[0] += 1
        stack.append(root); on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]; counter[0] += 1
                    stack.append(w); on.add(w)
                    work.append((w, iter(succ[w])))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop(); on.discard(w); comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out


def _find_loop(comp: set, succ) -> list:
    start = sorted(comp)[0]
    path, seen = [start], {start}
    # DFS inside the component until we return to a node on the path
    def dfs(v):
        for w in succ[v]:
            if w not in comp:
                continue
            if w == start:
                return True
            if w not in seen:
                seen.add(w); path.append(w)
                if dfs(w):
                    return True
                path.pop()
        return False
    dfs(start)
    return path


def order_nodes(graph: Graph, nodes: dict, registry: Registry | None = None) -> tuple[list, set]:
    """Topological order of node ids and the set of feedback edges (into delay nodes).

    Loops are legal only through nodes with ``breaks_feedback``; any other loop raises
    :class:`CycleError` naming it.
    """
    ids = list(graph.nodes)
    feedback: set = set()
    while True:
        succ = {i: [] for i in ids}
        for e in graph.edges:
            if e not in feedback:
                succ[e.src].append(e.dst)
        cyclic = [c for c in _sccs(ids, succ) if len(c) > 1 or c[0] in succ[c[0]]]
        if not cyclic:
            break
        progress = False
        for comp in cyclic:
            cs = set(comp)
            for e in graph.edges:
                if e in feedback or e.src not in cs or e.dst not in cs:
                    continue
                if nodes[e.dst].breaks_feedback:
                    feedback.add(e); progress = True
        if not progress:
            comp = set(cyclic[0])
            breakers = sorted(cls.type_id for cls in (registry.classes() if registry else [])
                              if cls.breaks_feedback)
            raise CycleError(_find_loop(comp, succ), breakers)
    # Kahn's algorithm, stable in node insertion order
    indeg = {i: 0 for i in ids}
    for i in ids:
        for w in succ[i]:
            indeg[w] += 1
    ready = [i for i in ids if indeg[i] == 0]
    order = []
    pos = {i: k for k, i in enumerate(ids)}
    while ready:
        ready.sort(key=pos.get)
        v = ready.pop(0)
        order.append(v)
        for w in succ[v]:
            indeg[w] -= 1
            if indeg[w] == 0:
                ready.append(w)
    return order, feedback


def _placeholder_out_spec(graph, node_id, port, nodes) -> StreamSpec:
    for e in graph.edges:
        if e.src == node_id and e.src_port == port:
            dst = _port_map(nodes[e.dst].input_ports()).get(e.dst_port)
            if dst is not None and dst.kind != "any":
                return StreamSpec(dst.kind, channels=dst.channels or 1, bins=1, hop=256)
    return StreamSpec("audio", 1)


def unused_nodes(graph: Graph, nodes: dict) -> set:
    """Ids of the nodes no sink depends on. Sinks: nodes with no output ports (audio out,
    recorders, displays, MIDI out) and nodes bound to the host or writing files; a node is
    used when an edge path leads from it to a sink. Empty when the graph has no sink."""
    sinks = [nid for nid, node in nodes.items()
             if not node.output_ports() or node.host_output or node.host_input or node.file_output or node.display]
    if not sinks:
        return set()
    feeds: dict = {}
    for e in graph.edges:
        feeds.setdefault(e.dst, []).append(e.src)
    used, todo = set(sinks), list(sinks)
    while todo:
        for src in feeds.get(todo.pop(), ()):
            if src not in used:
                used.add(src)
                todo.append(src)
    return set(nodes) - used


def compile_graph(graph: Graph, registry: Registry | None = None, sample_rate: int | None = None,
                  block_size: int | None = None, in_channels: int = 1, out_channels: int | None = None,
                  base_dir: str | Path | None = None, reuse: dict | None = None,
                  strict: bool = False, check_only: bool = False, fresh=(), skip_unused: bool = False) -> Schedule:
    """Compile `graph` into a :class:`Schedule`.

    reuse: the previous Schedule (or its ``nodes`` dict). A node instance is carried over
    (keeping its state, never prepared again) when its type, structural params and resources
    are unchanged and, with a previous Schedule, its input shapes, the rate and block size
    too. Every node that needs prepare gets a fresh instance, so a running engine's nodes are
    never re-prepared under it. ``Schedule.prepared`` names the nodes prepared here.

    in_channels / out_channels: host audio channels (out_channels None = the widest host
    output). strict: raise on nodes that fail to prepare instead of bypassing them.
    check_only: validate types, shapes and resources without side effects: nodes that
    declare ``prepare_does_io`` are checked (:meth:`Node.check`), not prepared, and nodes
    downstream of a shape only their prepare would know are not checked. The result is for
    reading errors and notes; it cannot run. fresh: node ids prepared anew even when they
    could be carried over (restarting a node). skip_unused: leave out the nodes whose outputs
    reach no sink (:func:`unused_nodes`; an offline render, where nothing else reads them);
    ``Schedule.skipped`` lists them.
    """
    registry = registry or default_registry()
    sr = int(sample_rate or graph.settings.get("sample_rate", 48000))
    bs = int(block_size or graph.settings.get("block_size", 256))
    if not 1 <= bs <= MAX_BLOCK_SIZE:
        raise CompileError(f"block size {bs} is outside [1, {MAX_BLOCK_SIZE}]")
    if not SAMPLE_RATE_RANGE[0] <= sr <= SAMPLE_RATE_RANGE[1]:
        raise CompileError(f"sample rate {sr} is outside [{SAMPLE_RATE_RANGE[0]}, {SAMPLE_RATE_RANGE[1]}] Hz")
    base_dir = Path(base_dir) if base_dir else None
    previous = reuse if isinstance(reuse, Schedule) else None
    reuse_nodes = previous.nodes if previous is not None else reuse
    if fresh and reuse_nodes:
        reuse_nodes = {k: v for k, v in reuse_nodes.items() if k not in fresh}

    graph = flatten(graph, registry)  # subpatches become their inner nodes ("sub/inner")
    nodes = {nid: instantiate(spec, registry, graph, base_dir, reuse_nodes) for nid, spec in graph.nodes.items()}
    skipped = []
    if skip_unused:
        unused = unused_nodes(graph, nodes)
        if unused:
            skipped = [(nid, graph.nodes[nid].type) for nid in graph.nodes if nid in unused]
            graph = graph.copy()
            for nid in unused:
                del graph.nodes[nid]
                del nodes[nid]
            graph.edges = [e for e in graph.edges if e.src not in unused and e.dst not in unused]
    check_edges(graph, nodes)
    order, feedback = order_nodes(graph, nodes, registry)

    hash_notes: list = []
    for nid, spec in graph.nodes.items():
        _check_recorded_hashes(spec, nodes[nid], hash_notes)

    host = HostIO(in_channels, out_channels or 1, bs, sr, _tempo(graph))
    in_specs: dict = {}
    out_specs: dict = {}
    notes: list = []
    errors: dict = {}
    prepared: set = set()
    lanes: dict = {}
    into: dict = {}
    for e in graph.edges:
        into.setdefault((e.dst, e.dst_port), []).append(e)

    # prepare in order. A feedback input's source comes later in the order: the first pass
    # assumes mono audio there; when a source turns out wider (a stereo loop) or of another
    # shape, prepare again with the shapes the previous pass found
    for _ in range(4):
        notes, errors, lanes = [], {}, {}
        in_specs, out_specs = {}, dict(out_specs)
        for nid in order:
            node = nodes[nid]
            specs = _input_specs(node, nid, into, out_specs)
            in_specs[nid] = specs
            ctx = PrepareContext(nid, sr, bs, specs, {}, host, base_dir, notes)
            unknown = any(s is not None and not s.known for s in specs.values())
            if isinstance(node, Placeholder):
                errors[nid] = node.reason
            elif previous is not None and previous.nodes.get(nid) is node and _can_keep_state(previous, nid, sr, bs, specs):
                # a surviving node keeps its state: no prepare, same output shapes
                ctx.out_specs.update(previous.out_specs[nid])
                ctx.lane = previous.lane_requests.get(nid)
            elif _missing_resource(graph.nodes[nid], node, errors, strict):
                pass  # bypassed, showing what is missing; prepare would only fail less clearly
            elif check_only and (unknown or node.prepare_does_io):
                if not unknown:
                    _run_hook(node, node.check, ctx, strict, errors, "failed its check")
            else:
                if node is (reuse_nodes or {}).get(nid):
                    # would need prepare: a fresh instance, the running one stays untouched
                    node = nodes[nid] = instantiate(graph.nodes[nid], registry, graph, base_dir, None)
                _run_hook(node, node._prepare, ctx, strict, errors, "failed to prepare")
                prepared.add(nid)
            if ctx.lane is not None and node.error is None:
                lanes[nid] = ctx.lane
            out_specs[nid] = _output_specs(node, nid, ctx, specs, graph, nodes, bs,
                                           unknown=check_only and nid not in prepared and node.error is None
                                           and not isinstance(node, Placeholder))
            if node.error is not None:
                node.latency_samples = 0
        if _feedback_specs_hold(feedback, in_specs, out_specs):
            break

    # path latency (samples) at each node's output, ignoring feedback edges
    path_latency: dict = {}
    for nid in order:
        ins = [path_latency[e.src] for e in graph.edges if e.dst == nid and e not in feedback]
        own = 0 if graph.nodes[nid].bypass else int(nodes[nid].latency_samples)  # a bypass adds none
        path_latency[nid] = (max(ins) if ins else 0) + own

    out_buffers = {(nid, p): allocate_buffer(s, bs) for nid, o in out_specs.items() for p, s in o.items()}
    steps: list = []
    node_steps: list = []
    feedback_steps: list = []
    late_steps: list = []  # input sums of feedback nodes: they run after every node
    fb_nodes = {e.dst for e in feedback}
    for nid in order:
        node = nodes[nid]
        in_bufs = {}
        target = max([path_latency[e.src] for e in graph.edges if e.dst == nid and e not in feedback] or [0])
        for port in node.input_ports():
            edges = into.get((nid, port.name), [])
            spec = in_specs[nid][port.name]
            if not edges:
                in_bufs[port.name] = _unconnected(port, bs)
                continue
            sources = []
            for e in edges:
                src_buf = out_buffers[(e.src, e.src_port)]
                lag = 0 if e in feedback else target - path_latency[e.src]
                if lag > 0:
                    src_buf = _compensate(src_buf, out_specs[e.src][e.src_port], lag, bs, steps, e, notes)
                sources.append(src_buf)
            if len(sources) == 1 and not (spec.kind == "audio" and sources[0].shape[0] != spec.channels):
                in_bufs[port.name] = sources[0]
            elif spec.kind == "events":
                dest = EventBuffer()
                (late_steps if nid in fb_nodes else steps).append(EventMergeStep(sources, dest))
                in_bufs[port.name] = dest
            else:
                dest = np.zeros((spec.channels, bs), np.float32)
                # a feedback node takes its input at the end of the block (after the loop
                # has produced it), so its input sum must run there too
                (late_steps if nid in fb_nodes else steps).append(SumStep(sources, dest))
                in_bufs[port.name] = dest
        out_bufs = {p.name: out_buffers[(nid, p.name)] for p in node.output_ports()}
        step = NodeStep(nid, node, in_bufs, out_bufs, len(node_steps))
        if graph.nodes[nid].bypass:
            step.bypassed = step.switched_off = True
        if nid in fb_nodes:
            step.fb_mode = True
            feedback_steps.append(step)
        if node.breaks_feedback and node.error is None:
            msg = node.set_feedback_mode(nid in fb_nodes)
            if msg:
                notes.append(f"node '{nid}': {msg}")
        if nid in lanes:
            step.lane = lanes[nid]
        steps.append(step)
        node_steps.append(step)
    steps.extend(late_steps)

    notes[:0] = hash_notes
    host_outs = [n for n in order if nodes[n].host_output and nodes[n].error is None
                 and (n in prepared or not check_only)]
    latency = max([path_latency[n] for n in host_outs] or [0])
    # align several host outputs: each learns how much to delay itself
    for nid in host_outs:
        nodes[nid].set_alignment_delay(latency - path_latency[nid])
    if out_channels is None:
        host.set_out_channels(max([nodes[n].host_out_channels for n in host_outs] or [1]))
    sched = Schedule(sr, bs, nodes, steps, node_steps, feedback_steps, host, latency, in_specs,
                     out_specs, out_buffers, notes, errors, path_latency, prepared=prepared,
                     check_only=check_only, lane_requests=lanes, skipped=skipped)
    if not check_only:
        attach_lanes(sched)
    return sched


def _input_specs(node: Node, nid: str, into: dict, out_specs: dict) -> dict:
    """Port -> StreamSpec of what is connected (None when unconnected); several audio
    cables into one port sum to the widest."""
    specs = {}
    for port in node.input_ports():
        edges = into.get((nid, port.name), [])
        srcs = [out_specs.get(e.src, {}).get(e.src_port) for e in edges]
        srcs = [s for s in srcs if s is not None]
        if not edges:
            specs[port.name] = None
        elif not srcs:  # only feedback edges so far: assume mono/declared audio
            specs[port.name] = StreamSpec(port.kind if port.kind != "any" else "audio",
                                          channels=port.channels or 1)
        elif port.kind == "audio" or (port.kind == "any" and srcs[0].kind == "audio"):
            specs[port.name] = StreamSpec("audio", channels=max(s.channels for s in srcs),
                                          known=all(s.known for s in srcs))
        else:
            specs[port.name] = srcs[0]
    return specs


def _missing_resource(spec: NodeSpec, node: Node, errors: dict, strict: bool) -> bool:
    """Mark `node` bypassed with 'missing: NAME (sha256 …)' when a resource file it names is
    nowhere to be found (its params and the patch entry stay as they are)."""
    for name, path in node.resource_paths.items():
        if not path.exists():
            msg = f"node '{spec.id}': {missing_message(name, spec.resources.get(name))}"
            if strict:
                raise ResourceError(msg)
            node.error = errors[spec.id] = msg
            return True
    return False


def _run_hook(node: Node, hook, ctx: PrepareContext, strict: bool, errors: dict, what: str) -> None:
    """Run prepare or check; a failure marks the node bypassed (or raises when strict)."""
    try:
        hook(ctx)
        node.error = None
    except NeuropatchError as exc:
        if strict or isinstance(exc, UntrustedModelError):
            raise      # untrusted code is refused, never silently bypassed
        node.error = str(exc)
        errors[ctx.node_id] = node.error
    except Exception as exc:  # a node bug must not take the whole patch down
        if strict:
            raise CompileError(f"node '{ctx.node_id}' ({node.type_id}) {what}: {exc!r}") from exc
        node.error = f"{what}: {exc!r}"
        errors[ctx.node_id] = node.error
    if node.error is not None:
        ctx.lane = None


def _output_specs(node: Node, nid: str, ctx: PrepareContext, specs: dict, graph, nodes, bs: int,
                  unknown: bool = False) -> dict:
    """Output port -> StreamSpec after prepare: what the node set, else audio as wide as the
    audio inputs, control/events as declared; a shape only prepare knows is "unknown" in a
    check-only compile and a placeholder shape for a bypassed node."""
    outs = {}
    audio_in = [s for s in specs.values() if s is not None and s.kind == "audio"]
    audio_in_ch = max([s.channels for s in audio_in] or [1])
    for port in node.output_ports():
        spec = ctx.out_specs.get(port.name)
        if spec is None:
            if port.kind == "audio" and not unknown:
                spec = StreamSpec("audio", channels=port.channels or audio_in_ch,
                                  known=all(s.known for s in audio_in))
            elif port.kind == "any":
                spec = _placeholder_out_spec(graph, nid, port.name, nodes)
            elif port.kind in ("control", "events"):
                spec = StreamSpec(port.kind)
            elif unknown:
                spec = StreamSpec(port.kind, channels=port.channels or 1, bins=1, hop=bs, known=False)
            elif node.error is not None:
                spec = StreamSpec(port.kind, channels=1, bins=1, hop=bs)
            else:
                raise CompileError(f"node '{nid}' ({node.type_id}) did not declare the shape of "
                                   f"its {port.kind} output {port.name!r} in prepare()")
        outs[port.name] = spec
    return outs


def _feedback_specs_hold(feedback, in_specs: dict, out_specs: dict) -> bool:
    """True when every feedback input was prepared for what its source really produces."""
    for e in feedback:
        got, assumed = out_specs[e.src].get(e.src_port), in_specs[e.dst].get(e.dst_port)
        if got is None or assumed is None:
            continue
        if got.kind == "audio" and assumed.kind == "audio":
            if got.channels > assumed.channels:
                return False
        elif got != assumed:
            return False
    return True


def _tempo(graph: Graph) -> float:
    """The patch's tempo (settings.tempo, beats per minute; 120 when absent or not sensible)."""
    tempo = graph.settings.get("tempo", 120.0)
    return float(tempo) if isinstance(tempo, (int, float)) and 20 <= tempo <= 400 else 120.0


def _can_keep_state(previous: Schedule, nid: str, sr: int, bs: int, specs: dict) -> bool:
    return (previous.sample_rate == sr and previous.block_size == bs and not previous.check_only
            and nid in previous.out_specs and previous.in_specs.get(nid) == specs)


def _unconnected(port, bs):
    if port.kind in ("audio", "any"):
        buf = np.zeros((port.channels or 1, bs), np.float32)
    elif port.kind == "control":
        buf = np.full(1, port.default, np.float32)
    elif port.kind == "events":
        return EventBuffer(1)   # always empty
    else:
        return FrameBuffer(np.zeros((0, 1, 1) if port.kind == "frames" else (0, 1), np.float32))
    buf.flags.writeable = False  # nodes must never write their inputs
    return buf


def _compensate(src_buf, spec: StreamSpec, lag: int, bs: int, steps: list, edge: Edge, notes: list):
    if spec.kind == "audio":
        dest = np.zeros_like(src_buf)
        steps.append(AudioDelayLine(src_buf, dest, lag, bs))
        return dest
    if spec.kind == "events":
        dest = EventBuffer()
        steps.append(EventDelayLine(src_buf, dest, lag))
        return dest
    if spec.kind in ("frames", "latent") and spec.hop > 0 and lag % spec.hop == 0:
        dest = FrameBuffer(np.zeros_like(src_buf.data))
        steps.append(FrameDelayLine(src_buf, dest, lag // spec.hop))
        return dest
    notes.append(f"edge {edge}: {spec.kind} stream is {lag} samples early and cannot be "
                 f"latency-compensated exactly")
    return src_buf
