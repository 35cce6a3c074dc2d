"""Messages where the eye is: a refusal shown as a tooltip at the point where the user
dropped something (a cable, a file), as well as in the status bar."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF
from PySide6.QtWidgets import QToolTip


def notice_at(view, view_pos, text: str, status=None) -> None:
    """Show `text` as a tooltip at `view_pos` (viewport coordinates) of `view`, and in the
    status bar through `status` (a callable taking the text) when given."""
    if status is not None:
        status(text)
    if not text:
        return
    point = view_pos.toPoint() if isinstance(view_pos, QPointF) else QPoint(view_pos)
    viewport = view.viewport()
    QToolTip.showText(viewport.mapToGlobal(point), text, viewport)


def notice_at_scene(view, scene_pos: QPointF, text: str, status=None) -> None:
    """:func:`notice_at` for a point of the scene."""
    notice_at(view, view.mapFromScene(scene_pos), text, status)
