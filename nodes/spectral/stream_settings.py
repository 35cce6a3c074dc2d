"""Frames streams that say how they were made.

A spectral.stft output states its sample rate, n_fft, window and output kind; spectral.mel
adds its filter and dB settings to what its input stated. Nodes that pass their input
spec through (the per-bin gates) keep the statement; a consumer that depends on the exact
settings (vocoder.gan: its model was trained on one mel convention) reads them with
:func:`stream_settings` and compares.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from neuropatch.engine.streams import StreamSpec


@dataclass(frozen=True)
class DescribedSpec(StreamSpec):
    """A :class:`StreamSpec` with ``settings``: ((name, value), ...) in the producers' order."""

    settings: tuple = ()


def stream_settings(spec) -> dict:
    """{name: value} a stream states about how it was made ({} when it states nothing)."""
    return dict(getattr(spec, "settings", ()) or ())


def described(spec: StreamSpec, upstream=None, **settings) -> DescribedSpec:
    """``spec`` stating ``upstream``'s settings (a spec or None) updated with ``settings``."""
    merged = stream_settings(upstream)
    merged.update(settings)
    base = {f.name: getattr(spec, f.name) for f in fields(StreamSpec)}
    return DescribedSpec(**base, settings=tuple(merged.items()))
