"""Node registry: type_id -> class. Built-ins and third-party packs both register through
the entry-point group ``neuropatch.nodes`` (a callable returning node classes, a node
class, or a module with ``NODE_CLASSES``)."""
from __future__ import annotations

import importlib
import inspect
import warnings
from importlib.metadata import entry_points

from .node import Node

ENTRY_POINT_GROUP = "neuropatch.nodes"


class Registry:
    def __init__(self):
        self._types: dict[str, type] = {}
        self._aliases: dict[str, str] = {}

    def register(self, cls: type) -> type:
        if not (inspect.isclass(cls) and issubclass(cls, Node)) or not cls.type_id:
            raise TypeError(f"{cls!r} is not a Node subclass with a type_id")
        existing = self._types.get(cls.type_id)
        if existing is not None and existing is not cls:
            raise ValueError(f"node type {cls.type_id!r} registered twice ({existing.__module__}, {cls.__module__})")
        self._types[cls.type_id] = cls
        for legacy in cls.legacy_ids:
            self._aliases[legacy] = cls.type_id
        return cls

    def register_many(self, classes) -> None:
        for cls in classes:
            self.register(cls)

    def resolve(self, type_id: str) -> type | None:
        """The class for `type_id` (following legacy ids), or None when unknown."""
        cls = self._types.get(type_id)
        if cls is None and type_id in self._aliases:
            cls = self._types.get(self._aliases[type_id])
        return cls

    def __contains__(self, type_id: str) -> bool:
        return self.resolve(type_id) is not None

    def create(self, type_id: str) -> Node:
        cls = self.resolve(type_id)
        if cls is None:
            raise KeyError(f"unknown node type {type_id!r}")
        return cls()

    def types(self) -> list[str]:
        return sorted(self._types)

    def classes(self) -> list[type]:
        return [self._types[t] for t in self.types()]


def _load_entry(obj) -> list:
    if inspect.isclass(obj):
        return [obj]
    if inspect.ismodule(obj):
        return list(getattr(obj, "NODE_CLASSES", []))
    if callable(obj):
        return list(obj())
    raise TypeError(f"entry point object {obj!r} is not a node class, module or callable")


def load_registry(include_entry_points: bool = True) -> Registry:
    """A registry with the built-in nodes and every installed node pack."""
    reg = Registry()
    builtin_loaded = False
    if include_entry_points:
        # the built-ins first: a pack reusing one of their type ids loses, with a warning
        eps = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: not e.value.startswith("neuropatch.nodes"))
        for ep in eps:
            builtin = ep.value.startswith("neuropatch.nodes")
            try:
                classes = _load_entry(ep.load())
            except Exception as exc:  # a broken third-party pack must not take the app down
                if builtin:
                    raise
                warnings.warn(f"node pack {ep.name!r} ({ep.value}) failed to load: {exc}")
                continue
            for cls in classes:
                try:
                    reg.register(cls)
                except (TypeError, ValueError) as exc:
                    if builtin:
                        raise
                    warnings.warn(f"node pack {ep.name!r} ({ep.value}): {exc}; that node type is skipped")
            builtin_loaded = builtin_loaded or builtin
    if not builtin_loaded:
        # running from a source tree without installed metadata
        reg.register_many(importlib.import_module("neuropatch.nodes").all_node_classes())
    from .subpatch import Subpatch  # the engine's own node types; import this module
    from .subpatch_ports import Inlet, Outlet

    reg.register_many([Subpatch, Inlet, Outlet])
    return reg


_default: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry, loaded on first use (read-only after that)."""
    global _default
    if _default is None:
        _default = load_registry()
    return _default
