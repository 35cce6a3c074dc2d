""""Watch with…": add a view node fed from a port or cable, in one undo step.

The views offered are the registered node types that declare a ``display`` and whose
``in`` port takes the stream's kind (a third-party view node appears here too).
"""
from __future__ import annotations

from neuropatch.engine import AddNode, Batch, Connect, Edge, new_node_spec
from neuropatch.engine.streams import kinds_compatible


def view_types_for(registry, kind: str) -> list:
    """(type id, title) of the view node types that can show a `kind` stream, by title."""
    out = []
    for cls in registry.classes():
        if not getattr(cls, "display", ""):
            continue
        port = next((p for p in cls.inputs if p.name == "in"), None)
        if port is not None and kinds_compatible(kind, port.kind):
            out.append((cls.type_id, cls.title or cls.type_id))
    return sorted(out, key=lambda t: t[1])


def watched_source(document, node_id: str, port: str, output: bool):
    """(node id, output port) whose stream a port carries: the port itself for an output,
    the cable's source for a connected input, None for an unconnected input."""
    if output:
        return node_id, port
    edge = next((e for e in document.graph.edges if e.dst == node_id and e.dst_port == port), None)
    return (edge.src, edge.src_port) if edge is not None else None


def watch_with(document, scene, src: str, src_port: str, type_id: str) -> str | None:
    """Add a `type_id` view node beside node `src`, cabled from `src`.`src_port` (one undo
    step); returns the new node's id."""
    cls = document.registry.resolve(type_id)
    if cls is None or src not in document.graph.nodes:
        return None
    x, y = document.graph.nodes[src].ui.get("pos", (0.0, 0.0))
    item = scene.node_items.get(src) if scene is not None else None
    width = item.width() if item is not None else 170.0
    node_id = document.graph.unique_id(cls.type_id.split(".")[-1])
    spec = new_node_spec(cls.type_id, node_id, document.registry, None,
                         (round(float(x) + width + 50), round(float(y) + 30)))
    edge = Edge(src, src_port, node_id, "in")
    ok = document.execute(Batch([AddNode(spec), Connect(edge)]), f"Watch {src}.{src_port} with {cls.title}")
    return node_id if ok else None


def add_watch_entries(menu, window, node_id: str, port: str, kind: str, output: bool) -> None:
    """Append a "Watch with…" submenu for the stream at node_id.port to `menu`."""
    source = watched_source(window.doc, node_id, port, output)
    types = view_types_for(window.registry, kind)
    sub = menu.addMenu("Watch with…")
    if source is None or not types:
        sub.setEnabled(False)
        return
    for type_id, title in types:
        act = sub.addAction(title)
        act.triggered.connect(lambda _c=False, t=type_id: _watch(window, source, t))


def _watch(window, source, type_id: str) -> None:
    node_id = watch_with(window.doc, window.scene, source[0], source[1], type_id)
    if node_id:
        window.scene.select_nodes([node_id])
