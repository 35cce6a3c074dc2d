"""Context menus of the canvas. Each `*_menu` function builds and returns its QMenu, so
other features can add entries before it is shown."""
from __future__ import annotations

from PySide6.QtWidgets import QMenu


def port_menu(window, port) -> QMenu:
    """The menu of a port (a PortItem): visualizers that can show its stream."""
    from .visualizer_actions import add_visualizer_entries

    from .watch import add_watch_entries

    menu = QMenu(window)
    add_watch_entries(menu, window, port.node_id, port.name, port.kind, port.output)
    menu.addSeparator()
    add_visualizer_entries(menu, window, port)
    if not menu.actions():
        menu.addAction(f"no visualizer for {port.kind} streams").setEnabled(False)
    return menu


def cable_menu(window, cable) -> QMenu:
    """The menu of a cable (a CableItem): view nodes that can watch its stream."""
    from .watch import add_watch_entries

    menu = QMenu(window)
    edge = cable.edge
    add_watch_entries(menu, window, edge.src, edge.src_port, cable.kind, True)
    return menu
