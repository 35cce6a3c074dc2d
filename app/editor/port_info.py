"""What a port carries, in words, for its context menu: name, kind and shape.

The shape comes from a check-only compile of the patch (no model loads, no files
written); a shape only a node's prepare would know reads "shape known when it plays".
"""
from __future__ import annotations

from neuropatch.engine import compile_graph


def port_cables(graph, node_id: str, port: str, output: bool) -> list:
    """The cables plugged into a port."""
    if output:
        return [e for e in graph.edges if e.src == node_id and e.src_port == port]
    return [e for e in graph.edges if e.dst == node_id and e.dst_port == port]


def shape_text(spec) -> str:
    """A StreamSpec in words: "2 channels", "1 ch × 513 bins, hop 256", "16 dims, hop 2048"."""
    if spec is None:
        return "not connected"
    if not spec.known:
        return "shape known when it plays"
    if spec.kind == "audio":
        return f"{spec.channels} channel{'s' if spec.channels != 1 else ''}"
    if spec.kind == "frames":
        return f"{spec.channels} ch × {spec.bins} bins, hop {spec.hop}"
    if spec.kind == "latent":
        return f"{spec.bins} dims, hop {spec.hop}"
    return ""


def port_shape(document, node_id: str, port: str, output: bool):
    """The StreamSpec a port carries as the patch compiles now (None: unconnected input or
    a patch that does not compile)."""
    try:
        schedule = compile_graph(document.graph, document.registry, base_dir=document.base_dir,
                                 check_only=True)
    except Exception:      # an uncompilable patch: the menu shows the kind alone
        return None
    specs = schedule.out_specs if output else schedule.in_specs
    return (specs.get(node_id) or {}).get(port)


def port_summary(window, node_id: str, port: str, kind: str, output: bool) -> str:
    """One line: "output out · audio · 2 channels"."""
    parts = [f"{'output' if output else 'input'} {port}", kind]
    connected = bool(port_cables(window.doc.graph, node_id, port, output))
    if output or connected:
        shape = shape_text(port_shape(window.doc, node_id, port, output))
        if shape:
            parts.append(shape)
    else:
        parts.append("not connected")
    return " · ".join(parts)
