"""Words for params: a label from the param's name and unit ("input_gain_db" -> "Input gain
(dB)"), its range as text, and the tooltip that puts doc, range and default together."""
from __future__ import annotations

#: established field names whose words are not in the name
NAMED = {"n_fft": "FFT size", "hop": "Hop", "n_mels": "Mel bands", "fmin": "Lowest frequency",
         "fmax": "Highest frequency", "f0": "Pitch", "q": "Q"}

#: unit suffixes of param names (DESIGN: snake_case with the unit as suffix)
SUFFIX_UNITS = {"db": "dB", "hz": "Hz", "ms": "ms", "s": "s", "khz": "kHz", "pct": "%", "st": "semitones",
                "samples": "samples", "bpm": "BPM", "deg": "°"}

#: words written in capitals or in their own spelling
WORDS = {"ir": "IR", "lfo": "LFO", "midi": "MIDI", "fft": "FFT", "rms": "RMS", "vae": "VAE", "adsr": "ADSR",
         "cc": "CC", "f0": "f0", "dc": "DC", "id": "ID", "nam": "NAM", "db": "dB", "hz": "Hz", "xy": "XY"}


def _number(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6g}"
    return str(value)


def param_unit(p) -> str:
    """The unit of param `p`: declared, else read from its name's suffix."""
    if p.unit:
        return p.unit
    parts = p.name.split("_")
    if len(parts) > 1 and parts[-1] in SUFFIX_UNITS:
        return SUFFIX_UNITS[parts[-1]]
    return ""


def param_label(p) -> str:
    """'Input gain (dB)' for a param named input_gain_db; established names get their words."""
    if p.name in NAMED:
        words = NAMED[p.name]
    else:
        parts = [w for w in p.name.split("_") if w]
        if len(parts) > 1 and (parts[-1] in SUFFIX_UNITS or parts[-1] == p.unit.lower()):
            parts = parts[:-1]
        if parts and parts[0] == "n" and len(parts) > 1:       # n_voices -> Number of voices
            parts = ["number", "of"] + parts[1:]
        words = " ".join(WORDS.get(w, w) for w in parts) or p.name
        words = words[0].upper() + words[1:]
    unit = param_unit(p)
    return f"{words} ({unit})" if unit and p.type in (int, float) else words


def range_text(p) -> str:
    """'−96 … 24 dB' for numeric params, '' otherwise."""
    if p.type not in (int, float):
        return ""
    unit = param_unit(p)
    return f"{_number(p.min).replace('-', '−')} … {_number(p.max).replace('-', '−')}" + (f" {unit}" if unit else "")


def param_tooltip(p) -> str:
    """Doc, range and default of param `p` (its id last: that is what patches and scripts use)."""
    lines = [p.doc] if p.doc else []
    rng = range_text(p)
    if rng:
        lines.append(f"range {rng}")
    if p.choices:
        lines.append("one of " + ", ".join(p.choices))
    lines.append(f"default {_number(p.default)}" + (f" {param_unit(p)}" if param_unit(p) and p.type in (int, float) else ""))
    lines.append(f"id: {p.name}")
    return "\n".join(lines)
