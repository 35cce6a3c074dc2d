"""Context menus of the canvas. Each `*_menu` function builds and returns its QMenu, so
other features can add entries before it is shown."""
from __future__ import annotations

from PySide6.QtWidgets import QMenu


def port_menu(window, port) -> QMenu:
    """The menu of a port (a PortItem): its name, kind and shape, Disconnect all, the view
    nodes and visualizers that can show its stream."""
    from .port_info import port_cables, port_summary
    from .visualizer_actions import add_visualizer_entries
    from .watch import add_watch_entries

    menu = QMenu(window)
    title = menu.addAction(port_summary(window, port.node_id, port.name, port.kind, port.output))
    title.setEnabled(False)
    cables = port_cables(window.doc.graph, port.node_id, port.name, port.output)
    disconnect = menu.addAction(f"Disconnect all ({len(cables)})" if cables else "Disconnect all")
    disconnect.setEnabled(bool(cables))
    disconnect.triggered.connect(lambda _c=False: window.doc.remove((), cables))
    menu.addSeparator()
    add_watch_entries(menu, window, port.node_id, port.name, port.kind, port.output)
    menu.addSeparator()
    add_visualizer_entries(menu, window, port)
    return menu


def cable_menu(window, cable) -> QMenu:
    """The menu of a cable (a CableItem): view nodes that can watch its stream."""
    from .watch import add_watch_entries

    menu = QMenu(window)
    edge = cable.edge
    add_watch_entries(menu, window, edge.src, edge.src_port, cable.kind, True)
    menu.addSeparator()
    add_cable_edit_entries(menu, window, cable)
    return menu


def add_cable_edit_entries(menu, window, cable) -> None:
    """Insert a node into the cable, or disconnect it."""
    edge = cable.edge
    insert = menu.addAction("Insert node…")
    insert.triggered.connect(lambda _c=False: window.insert_node_on(edge))
    disconnect = menu.addAction("Disconnect")
    disconnect.triggered.connect(lambda _c=False: window.doc.remove((), [edge]))


def canvas_menu(window, scene_pos) -> QMenu:
    """The menu of empty canvas at `scene_pos`: add a node or a comment there, paste there."""
    menu = QMenu(window)
    menu.addAction("Add node here…").triggered.connect(lambda _c=False: window.quick_add(scene_pos))
    menu.addAction("Add comment").triggered.connect(lambda _c=False: window.add_comment(scene_pos))
    paste = menu.addAction("Paste here")
    paste.triggered.connect(lambda _c=False: window.paste(at=scene_pos))
    paste.setEnabled(window.clipboard.can_paste())
    return menu


def comment_menu(window, comment_id: str) -> QMenu:
    """The menu of a comment: edit its text, delete it."""
    menu = QMenu(window)
    item = window.scene.comment_items.get(comment_id)
    edit = menu.addAction("Edit text")
    edit.triggered.connect(lambda _c=False: item.begin_edit() if item is not None else None)
    menu.addAction("Delete comment").triggered.connect(
        lambda _c=False: window.doc.remove((), (), [comment_id]))
    return menu


def node_menu(window, node_id: str) -> QMenu:
    """The menu of a node (it is selected first): bypass, rename, duplicate, delete, group,
    help and, for a subpatch, open it."""
    menu = QMenu(window)
    item = window.scene.node_items.get(node_id)
    spec = window.doc.graph.nodes.get(node_id)
    bypass = menu.addAction("Bypass")
    bypass.setCheckable(True)
    bypass.setChecked(bool(spec is not None and spec.bypass))
    bypass.setToolTip("pass the input through unchanged; other outputs are silent")
    bypass.triggered.connect(lambda checked=False: window.doc.set_bypass(node_id, checked))
    menu.addAction("Rename…").triggered.connect(lambda _c=False: window.view.rename_node(node_id))
    menu.addSeparator()
    if item is not None and item.is_subpatch:
        menu.addAction("Open subpatch").triggered.connect(
            lambda _c=False: window.open_subpatch(window.doc, node_id))
        menu.addAction("Ungroup").triggered.connect(lambda _c=False: window.ungroup_selection())
    menu.addAction("Duplicate").triggered.connect(lambda _c=False: window.duplicate())
    menu.addAction("Group into subpatch").triggered.connect(lambda _c=False: window.group_selection())
    menu.addAction("Delete").triggered.connect(lambda _c=False: window.view.delete_selection())
    menu.addSeparator()
    menu.addAction("Help").triggered.connect(lambda _c=False: window.help.node_help(node_id))
    return menu
