"""Make the small files the event examples use (deterministic, nothing downloaded):

- ``ir/synthetic_hall.wav``: a 2.2 s stereo hall impulse response (48 kHz, 16-bit): early
  reflections, then exponentially decaying noise whose highs die faster (RT60 ~1.8 s).
- ``midi/call_demo.mid``: a two-bar phrase (120 bpm) that plays the call in
  ``patches/call_and_response.json`` when no keyboard is connected.

    python assets/make_events_assets.py
"""
from __future__ import annotations

from pathlib import Path

import mido
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
    """Two bars in C major: (start beat, beats, note)."""
    phrase = [(0, 1, 60), (1, 0.5, 62), (1.5, 0.5, 64), (2, 1, 65), (3, 1, 67),
              (4, 1.5, 69), (5.5, 0.5, 67), (6, 2, 64)]
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120), time=0))
    events = sorted([(int(s * 480), 1, mido.Message("note_on", note=p, velocity=96)) for s, d, p in phrase]
                    + [(int((s + d) * 480), 0, mido.Message("note_off", note=p)) for s, d, p in phrase],
                    key=lambda e: (e[0], e[1]))
    last = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - last))
        last = tick
    mid.save(str(path))


def main() -> None:
    (HERE / "ir").mkdir(exist_ok=True)
    (HERE / "midi").mkdir(exist_ok=True)
    sf.write(HERE / "ir" / "synthetic_hall.wav", hall_ir(), SR, subtype="PCM_16")
    call_demo(HERE / "midi" / "call_demo.mid")
    print("wrote assets/ir/synthetic_hall.wav, assets/midi/call_demo.mid")


if __name__ == "__main__":
    main()
