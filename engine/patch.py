"""Patch format v1: JSON text identified by ``"format": "neuropatch"``.

``load_patch`` validates everything and raises :class:`PatchError` naming the JSON path
of the first fault; no input crashes it. Unknown node types load as placeholders that
save back verbatim. ``save_patch`` is atomic (temp file, fsync, rename).
"""
from __future__ import annotations

import copy
import json
import math
import os
import tempfile
from pathlib import Path

from .errors import PatchError
from .graph import Edge, Graph, NodeSpec
from .node import Node
from .registry import Registry, default_registry
from .streams import kinds_compatible

FORMAT_NAME = "neuropatch"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_ID_LEN = 128
_NODE_KEYS = {"id", "type", "version", "params", "resources", "ui", "state", "bypass"}
MAX_COMMENTS = 10_000
MAX_COMMENT_CHARS = 100_000


# ---- reading ----------------------------------------------------------------------------


def load_patch(path: str | Path, registry: Registry | None = None) -> Graph:
    """Read and validate a patch file. Raises PatchError (with ``file`` set)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise PatchError("$", f"file is {size} bytes; patches are limited to {MAX_FILE_BYTES}", str(path))
        data = path.read_bytes()
    except PatchError:
        raise
    except IsADirectoryError:
        raise PatchError("$", "is a directory, not a patch file", str(path)) from None
    except OSError as exc:
        raise PatchError("$", f"cannot read file: {exc.strerror or exc}", str(path)) from None
    try:
        return parse_patch(data, registry)
    except PatchError as exc:
        raise exc.with_file(str(path)) from None


def parse_patch(data: bytes | str, registry: Registry | None = None) -> Graph:
    """Parse patch JSON text (bytes must be UTF-8) into a validated :class:`Graph`."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PatchError("$", f"file is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    else:
        text = data
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise PatchError("$", "file is empty")
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise PatchError("$", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise PatchError("$", "JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. integers with too many digits, NaN/Infinity
        raise PatchError("$", f"invalid JSON: {exc}") from None
    return graph_from_dict(doc, registry)


def _reject_constant(name):
    raise ValueError(f"{name} is not allowed in a patch")


def _type_name(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _key(path: str, name) -> str:
    """`path` extended by the object key `name`: ``$.a.b`` for plain names, ``$.a["odd key"]``
    otherwise, so a path is unambiguous and always one line."""
    name = str(name)
    if name.isidentifier() and name.isascii() and len(name) <= 60:
        return f"{path}.{name}"
    return f"{path}[{_quote(name)}]"


def _quote(text: str, limit: int = 60) -> str:
    """`text` as a one-line JSON string literal, shortened to about `limit` characters."""
    quoted = json.dumps(text[:limit])
    return quoted[:-1] + '..."' if len(text) > limit else quoted


def _expect(value, kind, path: str):
    ok = {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
    }[kind]
    if not ok:
        raise PatchError(path, f"expected {'an' if kind[0] in 'aeiou' else 'a'} {kind}, got {_type_name(value)}")
    if kind == "number" and isinstance(value, int) and abs(value) > 1e300:
        raise PatchError(path, "number is too large")
    if kind == "number" and not math.isfinite(float(value)):
        raise PatchError(path, f"expected a finite number, got {value}")
    return value


def _int_in(value, lo, hi, path):
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        value = int(value)  # 48000.0 is the integer 48000, as for int params
    _expect(value, "integer", path)
    if not lo <= value <= hi:
        raise PatchError(path, f"{value} is outside [{lo}, {hi}]")
    return value


def _check_json_value(value, path: str, depth: int = 0) -> None:
    """Reject NaN/Inf and absurd nesting inside free-form JSON (meta, state)."""
    if depth > 32:
        raise PatchError(path, "nested too deeply (more than 32 levels)")
    if isinstance(value, float) and not math.isfinite(value):
        raise PatchError(path, f"expected a finite number, got {value}")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_json_value(v, _key(path, k), depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_json_value(v, f"{path}[{i}]", depth + 1)


def graph_from_dict(doc, registry: Registry | None = None) -> Graph:
    """Validate a decoded patch document and build the Graph."""
    registry = registry or default_registry()
    _expect(doc, "object", "$")
    if doc.get("format") != FORMAT_NAME:
        got = doc.get("format")
        raise PatchError("$.format", f'expected "{FORMAT_NAME}", got '
                         + ("nothing" if got is None else json.dumps(got)[:40]) + " (not a neuropatch patch)")
    version = _expect(doc.get("version"), "integer", "$.version")
    if version > FORMAT_VERSION:
        raise PatchError("$.version", f"this patch uses format version {version}, saved by a newer neuropatch; "
                         f"this version reads up to {FORMAT_VERSION}. Update neuropatch to open it")
    if version < 1:
        raise PatchError("$.version", f"{version} is not a valid format version")
    meta = doc.get("meta", {})
    _expect(meta, "object", "$.meta")
    _check_json_value(meta, "$.meta")
    settings = doc.get("settings", {})
    _expect(settings, "object", "$.settings")
    _check_json_value(settings, "$.settings")
    graph_settings = dict(settings)
    graph_settings["sample_rate"] = _int_in(settings.get("sample_rate", 48000), 1000, 768000, "$.settings.sample_rate")
    graph_settings["block_size"] = _int_in(settings.get("block_size", 256), 1, 65536, "$.settings.block_size")
    if "tempo" in settings:
        tempo = settings["tempo"]
        if isinstance(tempo, bool) or not isinstance(tempo, (int, float)) or not 20 <= tempo <= 400:
            raise PatchError("$.settings.tempo", f"expected a tempo in [20, 400] beats per minute, got {_quote(str(tempo))}")
    graph = Graph(meta, graph_settings)
    graph.unknown_fields = {k: copy.deepcopy(v) for k, v in doc.items()
                            if k not in ("format", "version", "meta", "settings", "nodes", "edges", "comments")}
    _check_json_value(graph.unknown_fields, "$")
    graph.comments = _comments_from_list(doc.get("comments", []), "$.comments")

    nodes = doc.get("nodes", [])
    _expect(nodes, "array", "$.nodes")
    for i, raw in enumerate(nodes):
        spec = _node_from_dict(raw, f"$.nodes[{i}]", registry)
        if spec.id in graph.nodes:
            raise PatchError(f"$.nodes[{i}].id", f'duplicate node id "{spec.id}"')
        graph.nodes[spec.id] = spec

    edges = doc.get("edges", [])
    _expect(edges, "array", "$.edges")
    seen = set()
    for i, raw in enumerate(edges):
        edge = _edge_from_dict(raw, f"$.edges[{i}]", graph, registry)
        if edge in seen:
            raise PatchError(f"$.edges[{i}]", f"duplicate edge {edge}")
        seen.add(edge)
        graph.edges.append(edge)
    return graph


def _comments_from_list(raw, path: str) -> list[dict]:
    """Validated canvas comments: [{"id", "pos": [x, y], "size": [w, h], "text"}]."""
    _expect(raw, "array", path)
    if len(raw) > MAX_COMMENTS:
        raise PatchError(path, f"{len(raw)} comments; patches are limited to {MAX_COMMENTS}")
    comments, seen = [], set()
    for i, c in enumerate(raw):
        cpath = f"{path}[{i}]"
        _expect(c, "object", cpath)
        cid = _expect(c.get("id"), "string", f"{cpath}.id")
        if not cid or len(cid) > MAX_ID_LEN:
            raise PatchError(f"{cpath}.id", f"comment ids are 1..{MAX_ID_LEN} characters")
        if cid in seen:
            raise PatchError(f"{cpath}.id", f"duplicate comment id {_quote(cid)}")
        seen.add(cid)
        for key, lo in (("pos", -1e7), ("size", 1.0)):
            pair = _expect(c.get(key), "array", f"{cpath}.{key}")
            if len(pair) != 2:
                raise PatchError(f"{cpath}.{key}", f"expected two numbers, got {len(pair)} values")
            for k, v in enumerate(pair):
                _expect(v, "number", f"{cpath}.{key}[{k}]")
                if not lo <= v <= 1e7:
                    raise PatchError(f"{cpath}.{key}[{k}]", f"{v} is outside [{lo:g}, 1e7]")
        text = _expect(c.get("text", ""), "string", f"{cpath}.text")
        if len(text) > MAX_COMMENT_CHARS:
            raise PatchError(f"{cpath}.text", f"longer than {MAX_COMMENT_CHARS} characters")
        unknown = set(c) - {"id", "pos", "size", "text"}
        if unknown:
            raise PatchError(_key(cpath, sorted(unknown)[0]), "unknown comment field (known: id, pos, size, text)")
        comments.append(copy.deepcopy(c))
    return comments


def _node_from_dict(raw, path: str, registry: Registry) -> NodeSpec:
    _expect(raw, "object", path)
    node_id = _expect(raw.get("id"), "string", f"{path}.id")
    if not node_id or len(node_id) > MAX_ID_LEN or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in node_id):
        raise PatchError(f"{path}.id", f"node ids are 1..{MAX_ID_LEN} characters without control characters")
    type_id = _expect(raw.get("type"), "string", f"{path}.type")
    version = _int_in(raw.get("version", 1), 1, 1_000_000, f"{path}.version")
    params = raw.get("params", {})
    _expect(params, "object", f"{path}.params")
    resources = raw.get("resources", {})
    _expect(resources, "object", f"{path}.resources")
    for name, res in resources.items():
        rpath = _key(f"{path}.resources", name)
        _expect(res, "object", rpath)
        rfile = _expect(res.get("path"), "string", f"{rpath}.path")
        if not rfile or "\0" in rfile or len(rfile) > 4096:
            raise PatchError(f"{rpath}.path", "expected a file path (1..4096 characters, no NUL)")
        if "sha256" in res:
            _expect(res["sha256"], "string", f"{rpath}.sha256")
    ui = raw.get("ui", {})
    _expect(ui, "object", f"{path}.ui")
    if "pos" in ui:
        pos = _expect(ui["pos"], "array", f"{path}.ui.pos")
        if len(pos) != 2:
            raise PatchError(f"{path}.ui.pos", f"expected [x, y], got {len(pos)} values")
        for k, v in enumerate(pos):
            _expect(v, "number", f"{path}.ui.pos[{k}]")
            if abs(v) > 1e7:
                raise PatchError(f"{path}.ui.pos[{k}]", f"{v} is outside [-1e7, 1e7]")
    _check_json_value(ui, f"{path}.ui")
    extra = raw.get("state", {})
    _expect(extra, "object", f"{path}.state")
    _check_json_value(extra, f"{path}.state")
    bypass = _expect(raw.get("bypass", False), "boolean", f"{path}.bypass")

    cls = registry.resolve(type_id)
    if cls is None:  # placeholder: keep everything verbatim
        _check_json_value(raw, path)
        return NodeSpec(node_id, type_id, version, copy.deepcopy(params), copy.deepcopy(resources),
                        copy.deepcopy(ui), copy.deepcopy(extra), raw=copy.deepcopy(raw), bypass=bypass)
    if version > cls.version:
        raise PatchError(f"{path}.version", f"node type {type_id} version {version} is newer than this "
                         f"app's version {cls.version}; update neuropatch to open it")
    for name in resources:
        if not any(r.name == name for r in cls.resources):
            known = ", ".join(r.name for r in cls.resources) or "none"
            raise PatchError(_key(f"{path}.resources", name),
                             f"{type_id} has no resource {name[:60]!r} (known: {known})")
    node = cls()
    if version == cls.version:
        for name, value in params.items():
            try:
                spec = cls.param_spec(name)
            except KeyError:
                known = ", ".join(p.name for p in cls.params) or "none"
                raise PatchError(_key(f"{path}.params", name), f"unknown parameter of {type_id} (known: {known})") from None
            try:
                spec.validate(value)
            except ValueError as exc:
                msg = str(exc).split(": ", 1)[-1]
                raise PatchError(_key(f"{path}.params", name), msg) from None
    try:
        node.set_state({"params": params, "extra": extra}, from_version=version)
    except PatchError as exc:  # a migration naming the fault inside the node's saved state
        raise PatchError(f"{path}.state{exc.path[1:]}", exc.message) from None
    except Exception as exc:  # a node pack's migration bug must not crash the loader
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise PatchError(f"{path}.params", f"cannot restore {type_id} (saved as version {version}): "
                         f"{detail}") from None
    state = node.get_state()
    extra = state.get("extra", {}) or {}
    if cls.type_id == "sys.subpatch":
        from .subpatch import load_state  # subpatch builds on this module

        extra = load_state(extra, f"{path}.state", registry)
    return NodeSpec(node_id, cls.type_id, cls.version, state["params"], copy.deepcopy(resources),
                    copy.deepcopy(ui), extra, bypass=bypass)


def node_ports(spec: NodeSpec, registry: Registry | None = None) -> tuple[list | None, list | None]:
    """(inputs, outputs) Port lists of a node as configured; (None, None) for placeholders.

    Types whose ports depend on the node's state (subpatches) are asked per instance.
    """
    registry = registry or default_registry()
    cls = registry.resolve(spec.type) if spec.raw is None else None
    if cls is None:
        return None, None
    if cls.input_ports is Node.input_ports and cls.output_ports is Node.output_ports:
        return list(cls.inputs), list(cls.outputs)
    node = cls()
    node.set_state({"params": spec.params, "extra": spec.extra}, from_version=spec.version)
    return list(node.input_ports()), list(node.output_ports())


def _edge_from_dict(raw, path: str, graph: Graph, registry: Registry) -> Edge:
    _expect(raw, "object", path)
    ends = []
    for key in ("from", "to"):
        end = raw.get(key)
        if not (isinstance(end, list) and len(end) == 2 and all(isinstance(x, str) for x in end)):
            raise PatchError(f"{path}.{key}", f'expected ["node id", "port"], got {json.dumps(end)[:60] if _jsonable(end) else _type_name(end)}')
        if end[0] not in graph.nodes:
            raise PatchError(f"{path}.{key}[0]", f"no node with id {_quote(end[0])}")
        ends.append(end)
    (src, sport), (dst, dport) = ends
    kinds = []
    for (nid, port, outward, key) in ((src, sport, True, "from"), (dst, dport, False, "to")):
        spec = graph.nodes[nid]
        declared = node_ports(spec, registry)[1 if outward else 0]
        if declared is None:
            kinds.append("any")
            continue
        ports = {p.name: p for p in declared}
        if port not in ports:
            side = "output" if outward else "input"
            raise PatchError(f"{path}.{key}[1]", f'node "{nid}" ({_quote(spec.type)[1:-1]}) has no {side} {_quote(port)} '
                             f"(has: {', '.join(ports) or 'none'})")
        kinds.append(ports[port].kind)
    if not kinds_compatible(*kinds):
        raise PatchError(path, f"cannot connect {src}.{sport} ({kinds[0]}) to {dst}.{dport} ({kinds[1]}): "
                         "stream kinds differ")
    return Edge(src, sport, dst, dport)


def _jsonable(v) -> bool:
    try:
        json.dumps(v)
        return True
    except (TypeError, ValueError):
        return False


# ---- writing ----------------------------------------------------------------------------


def graph_to_dict(graph: Graph) -> dict:
    doc = {"format": FORMAT_NAME, "version": FORMAT_VERSION,
           "meta": copy.deepcopy(graph.meta), "settings": copy.deepcopy(graph.settings)}
    nodes = []
    for spec in graph.nodes.values():
        if spec.raw is not None:
            raw = copy.deepcopy(spec.raw)
            if spec.ui != raw.get("ui", {}):
                raw["ui"] = copy.deepcopy(spec.ui)
            nodes.append(raw)
            continue
        d = {"id": spec.id, "type": spec.type, "version": spec.version,
             "params": copy.deepcopy(spec.params)}
        if spec.resources:
            d["resources"] = copy.deepcopy(spec.resources)
        if spec.extra:
            d["state"] = copy.deepcopy(spec.extra)
        if spec.ui:
            d["ui"] = copy.deepcopy(spec.ui)
        if spec.bypass:
            d["bypass"] = True
        nodes.append(d)
    doc["nodes"] = nodes
    doc["edges"] = [{"from": [e.src, e.src_port], "to": [e.dst, e.dst_port]} for e in graph.edges]
    if graph.comments:
        doc["comments"] = copy.deepcopy(graph.comments)
    for k, v in graph.unknown_fields.items():
        doc.setdefault(k, copy.deepcopy(v))
    return doc


def dumps_patch(graph: Graph) -> str:
    return json.dumps(graph_to_dict(graph), indent=2, ensure_ascii=False) + "\n"


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` to `path` atomically: temp file in the same folder, fsync, rename."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def save_patch(graph: Graph, path: str | Path) -> None:
    atomic_write_text(path, dumps_patch(graph))


def new_node_spec(type_id: str, node_id: str, registry: Registry | None = None,
                  params: dict | None = None, pos=(0.0, 0.0)) -> NodeSpec:
    """A NodeSpec with every param at its default (overridden by `params`)."""
    registry = registry or default_registry()
    cls = registry.resolve(type_id)
    if cls is None:
        raise KeyError(f"unknown node type {type_id!r}")
    node = cls()
    for k, v in (params or {}).items():
        node.set_param(k, v)
    return NodeSpec(node_id, cls.type_id, cls.version, node.get_state()["params"], {},
                    {"pos": [float(pos[0]), float(pos[1])]})
