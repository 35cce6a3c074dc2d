"""Built-in nodes, one module per family. Registered through the entry point
``neuropatch.nodes = builtin`` like any third-party pack."""
from __future__ import annotations

import importlib

#: Modules holding built-in node families; each defines NODE_CLASSES.
FAMILY_MODULES = [
    "audio_io",
    "generators",
    "utility",
    "modulation",
    "spectral",
    "amp", "effects",
    "ddsp",
    "latent",
    "vae",
    "synth_poly",
    "fm",
    "ddx7",
    "vocoder",
    "midi_io",
    "midi_controls",
    "gen.node",
    "views",
]


def all_node_classes() -> list:
    classes = []
    for name in FAMILY_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        classes.extend(module.NODE_CLASSES)
    return classes
