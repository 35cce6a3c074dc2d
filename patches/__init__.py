"""Example patches shipped inside the neuropatch package (``neuropatch examples`` lists them).

Each is a patch file ``NAME.json`` whose ``meta`` holds a ``title``, a ``description`` and
``tags``; resources are named relative to the patch (``../assets/...``), so the patches work
from a source checkout and from an installed wheel alike.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def folder() -> Path:
    """The folder holding the example patches."""
    return Path(str(files(__name__)))


def example_paths() -> list[Path]:
    """Every example patch, sorted by name."""
    return sorted(folder().glob("*.json"))


def example_path(name: str) -> Path | None:
    """The example patch called ``name`` (file stem, ``.json`` optional), or None."""
    stem = name[:-5] if name.endswith(".json") else name
    return next((p for p in example_paths() if p.stem == stem), None)
