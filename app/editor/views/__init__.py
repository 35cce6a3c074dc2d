"""Displays of the view nodes (``view.*``): one class per ``display`` capability, each fed
from a tap of the node's input at screen rate and painted into any rectangle."""
from __future__ import annotations

from .base import Display
from .latent import LatentDisplay
from .meter import MeterDisplay
from .notes import PianoRollDisplay, PitchDisplay
from .scope import ScopeDisplay
from .spectrogram import SpectrogramDisplay

DISPLAYS = {cls.name: cls for cls in (SpectrogramDisplay, ScopeDisplay, MeterDisplay, PitchDisplay,
                                      LatentDisplay, PianoRollDisplay)}


def make_display(name: str, params: dict, sample_rate: int = 48000) -> Display | None:
    """A display for a node's ``display`` capability, or None when none draws it."""
    cls = DISPLAYS.get(name)
    return cls(params, sample_rate) if cls is not None else None


__all__ = ["DISPLAYS", "Display", "make_display"]
