"""Make the small files the event examples use (deterministic, nothing downloaded):

- ``ir/synthetic_hall.wav``: a 2.2 s stereo hall impulse response (48 kHz, 16-bit): early
  reflections, then exponentially decaying noise whose highs die faster (RT60 ~1.8 s).
- ``midi/call_demo.mid``: a two-bar phrase (120 bpm) that plays the call in
  ``patches/call_and_response.json`` when no keyboard is connected.

    python assets/make_events_assets.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfilt

HERE = Path(__file__).resolve().parent
SR = 48000


def hall_ir(seconds: float = 2.2, rt60: float = 1.8, seed: int = 0) -> np.ndarray:
    """float32 [samples, 2]."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    out = np.zeros((n, 2))
    for ch in range(2):
        low = rng.standard_normal(n) * np.exp(-6.91 * t / rt60)
        high = rng.standard_normal(n) * np.exp(-6.91 * t / (0.45 * rt60))
        low = sosfilt(butter(2, 2500, "low", fs=SR, output="sos"), low)
        high = sosfilt(butter(2, 2500, "high", fs=SR, output="sos"), high)
        tail = (low + 0.5 * high) * np.minimum(1.0, t / 0.012)   # ~12 ms until the tail builds up
        for delay_ms, gain in ((7 + 3 * ch, 0.5), (13 + 2 * ch, 0.35), (19 + 4 * ch, 0.3), (29 - ch, 0.25)):
            tail[int(delay_ms * SR / 1000)] += gain * (1 if rng.random() > 0.5 else -1)
        out[:, ch] = tail
    out[0, :] = 1.0   # the direct sound
    return (0.9 * out / np.max(np.abs(out))).astype(np.float32)


def call_demo(path: Path) -> None:
    """Two bars in C major at 120 bpm: (start beat, beats, note, velocity)."""
    from neuropatch.nodes.midi_io import write_notes_file

    phrase = [(0, 1, 60), (1, 0.5, 62), (1.5, 0.5, 64), (2, 1, 65), (3, 1, 67),
              (4, 1.5, 69), (5.5, 0.5, 67), (6, 2, 64)]
    write_notes_file(path, [(s, d, p, 96) for s, d, p in phrase])


def main() -> None:
    (HERE / "ir").mkdir(exist_ok=True)
    (HERE / "midi").mkdir(exist_ok=True)
    sf.write(HERE / "ir" / "synthetic_hall.wav", hall_ir(), SR, subtype="PCM_16")
    call_demo(HERE / "midi" / "call_demo.mid")
    print("wrote assets/ir/synthetic_hall.wav, assets/midi/call_demo.mid")


if __name__ == "__main__":
    main()
