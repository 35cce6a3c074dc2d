"""Visualizers bound to ports: the menu entries that open them and the docks and inline
scopes they become (fed by the LiveController while audio plays)."""
from __future__ import annotations

from PySide6.QtCore import Qt


def add_visualizer_entries(menu, window, port) -> None:
    """Append the visualizers that can show `port` (a PortItem) to `menu`."""
    from .visualizers import views_for_kind

    for view in views_for_kind(port.kind):
        act = menu.addAction(f"Show {view} in a dock")
        act.triggered.connect(lambda _c=False, v=view: window.show_visualizer(port.node_id, port.name, v))
    if port.kind in ("audio", "frames", "control"):
        act = menu.addAction("Show scope in the node")
        act.triggered.connect(lambda _c=False: window.show_visualizer(port.node_id, port.name, inline=True))


def show_visualizer(window, node_id: str, port: str, view: str | None = None, inline: bool = False):
    """Bind a visualizer to node_id.port (fed while audio plays); returns it."""
    from .visualizers import InlineScope, VisualizerDock, views_for_kind

    item = window.scene.node_items.get(node_id)
    if item is None:
        return None
    p = item.port(port, True) or item.port(port, False)
    if p is None:
        return None
    if inline:
        sink = InlineScope(item, port)
    else:
        views = views_for_kind(p.kind)
        view = view or (views[0] if views else "scope")
        sink = VisualizerDock(node_id, port, view, window)
        sink.on_close = window.live.remove_sink
        window.addDockWidget(Qt.BottomDockWidgetArea, sink)
    window.live.add_sink(sink)
    if not window.live.running:
        window.status(f"{node_id}.{port}: the visualizer shows the signal while audio plays")
    return sink
