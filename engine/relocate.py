"""Saving a patch into another folder without breaking its resource paths.

Resource paths in a patch are relative to the patch file (or absolute). When the patch is
saved elsewhere, :func:`relocate_resources` rewrites each relative path so that it still
names the same file from the new folder; with ``copy=True`` (a patch opened from a bundle,
whose files live in the bundle cache) the files are copied beside the new patch under the
same relative names instead, so the saved folder is complete on its own.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from .bundle import companion_files, resource_dicts
from .errors import NeuropatchError
from .graph import Graph
from .registry import default_registry
from .resources import sha256_file


def _graph_resource_dicts(graph: Graph):
    """(node id, node type, resource name, resource dict) of every node, subpatch inner
    nodes included."""
    for spec in graph.nodes.values():
        for name, res in spec.resources.items():
            if isinstance(res, dict):
                yield spec.id, spec.type, name, res
        yield from resource_dicts(spec.extra)


def relocate_resources(graph: Graph, old_base: Path, new_base: Path, copy: bool = False) -> int:
    """Make `graph`'s relative resource paths valid from `new_base` (in place). Returns how many
    entries changed (paths rewritten or files copied)."""
    old_base, new_base = Path(old_base).resolve(), Path(new_base).resolve()
    if old_base == new_base:
        return 0
    changed = 0
    registry = default_registry()
    for node_id, node_type, name, res in _graph_resource_dicts(graph):
        rel = res.get("path")
        if not isinstance(rel, str) or Path(rel).is_absolute():
            continue
        src = old_base / rel
        if not src.is_file():
            continue  # missing already: leave the entry as the user saved it
        if copy:
            where = f"node '{node_id}' resource '{name}'"
            res["path"] = _copy_beside(src, new_base, rel, where)
            for companion in companion_files(registry, node_type, name, src):
                _copy_beside(companion, new_base, str(Path(res["path"]).with_suffix(companion.suffix)), where)
        else:
            res["path"] = Path(os.path.relpath(src, new_base)).as_posix()
        changed += 1
    return changed


def _copy_beside(src: Path, new_base: Path, rel: str, where: str) -> str:
    """Copy `src` to `new_base`/`rel` (or a free name beside it when a different file is there)."""
    digest = sha256_file(src)
    target = new_base / rel
    k = 2
    while target.exists() and not (target.is_file() and sha256_file(target) == digest):
        target = target.with_name(f"{Path(rel).stem}_{k}{Path(rel).suffix}")
        k += 1
    if not target.exists():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
        except OSError as exc:
            raise NeuropatchError(f"{where}: cannot copy {src.name} to {target.parent} "
                                  f"({exc.strerror or exc})") from None
    return target.relative_to(new_base).as_posix()
