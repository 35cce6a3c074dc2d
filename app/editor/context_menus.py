"""Context menus of the canvas. Each `*_menu` function builds and returns its QMenu, so
other features can add entries before it is shown."""
from __future__ import annotations

from PySide6.QtWidgets import QMenu


def port_menu(window, port) -> QMenu:
    """The menu of a port (a PortItem): visualizers that can show its stream."""
    from .visualizer_actions import add_visualizer_entries

    menu = QMenu(window)
    add_visualizer_entries(menu, window, port)
    if not menu.actions():
        menu.addAction(f"no visualizer for {port.kind} streams").setEnabled(False)
    return menu
