"""Files shipped inside the neuropatch package: trained models, impulse responses, demo audio.

They are package data (``neuropatch.assets``), so they are found the same way in a source
checkout, an editable install and an installed wheel::

    from neuropatch.assets import path
    path("ddsp", "violin.safetensors")    # -> Path of the shipped DDSP violin decoder

The example patches in ``neuropatch.patches`` refer to these files by relative paths
(``../assets/...``), which hold in every layout because both folders sit side by side.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

DEMO_DI = ("guitar_di_demo.flac",)


def path(*parts: str) -> Path:
    """Filesystem path of a shipped file, e.g. ``path("amp", "fluid_crunch.nam")``.

    The file may not exist (callers that need it report a missing resource as usual)."""
    folder = files(__name__)
    for part in parts:
        folder = folder.joinpath(part)
    return Path(str(folder))


def demo_di() -> Path:
    """Six seconds of DI electric guitar (48 kHz, mono): the default input for trying patches."""
    return path(*DEMO_DI)
