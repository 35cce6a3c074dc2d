"""Make the shipped amp-sim assets (run from the repository root):

    python assets/make_amp_assets.py            # DI + target wavs in build/amp_data, cabinet IR
    neuropatch train-amp --input build/amp_data/di.wav --target build/amp_data/crunch.wav \
        --arch lstm --hidden 16 --epochs 80 --seed 0 -o assets/amp/fluid_crunch.nam

- DI: electric-guitar phrases rendered with fluidsynth from the FluidR3 GM soundfont
  (Debian package fluid-soundfont-gm), at 48 kHz.
- Target "crunch amp": pre-emphasis, a tanh waveshaper (drive x6) and a gentle tone
  low-pass, i.e. a synthetic amp the LSTM can learn exactly.
- Cabinet IR: a 4x12-like response (high-pass 80 Hz, resonance near 110 Hz, presence
  bump at 2.5 kHz, steep roll-off above 5 kHz) as a 2048-sample minimum-phase-ish IR.
"""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import mido
import numpy as np
import soundfile as sf
from scipy import signal

SR = 48000
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
OUT = Path("build/amp_data")


def guitar_midi(path: Path, seconds: float = 14.0, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    mid = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=500000))
    tr.append(mido.Message("program_change", program=27, channel=0))  # electric guitar (clean)
    chords = [[40, 47, 52], [45, 52, 57], [43, 50, 55], [38, 45, 50], [47, 54, 59]]
    t = 0.0
    while t < seconds:
        if rng.random() < 0.5:  # power chord stab
            notes, dur = chords[rng.integers(len(chords))], float(rng.choice([0.25, 0.5, 1.0]))
        else:  # single-note line
            notes, dur = [int(rng.integers(40, 76))], float(rng.choice([0.125, 0.25, 0.5]))
        vel = int(rng.integers(40, 127))
        for k, n in enumerate(notes):
            tr.append(mido.Message("note_on", note=n, velocity=vel, time=0))
        ticks = int(dur * 2 * 480)
        for k, n in enumerate(notes):
            tr.append(mido.Message("note_off", note=n, velocity=0, time=ticks if k == 0 else 0))
        t += dur
    mid.save(path)


def crunch_amp(x: np.ndarray) -> np.ndarray:
    """The synthetic amp: pre-emphasis, tanh drive, tone low-pass. x: float [samples]."""
    b, a = signal.butter(1, 300 / (SR / 2), "high")
    pre = signal.lfilter(b, a, x) + 0.3 * x
    driven = np.tanh(6.0 * pre)
    b, a = signal.butter(2, 4500 / (SR / 2))
    return (0.5 * signal.lfilter(b, a, driven)).astype(np.float32)


def cabinet_ir(n: int = 2048) -> np.ndarray:
    imp = np.zeros(n)
    imp[0] = 1.0
    sos = np.vstack([
        signal.butter(2, 80 / (SR / 2), "high", output="sos"),
        signal.butter(4, 5000 / (SR / 2), output="sos"),
        _peak(110, 6.0, 1.2), _peak(2500, 4.0, 1.0), _peak(700, -3.0, 0.8),
    ])
    ir = signal.sosfilt(sos, imp)
    ir *= np.exp(-np.arange(n) / (0.25 * n))
    return (ir / np.max(np.abs(ir)) * 0.9).astype(np.float32)


def _peak(f0, gain_db, q):
    A = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0 / SR
    alpha = np.sin(w) / (2 * q)
    b = np.array([1 + alpha * A, -2 * np.cos(w), 1 - alpha * A])
    a = np.array([1 + alpha / A, -2 * np.cos(w), 1 - alpha / A])
    return np.concatenate([b / a[0], a / a[0]])[None, :]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        midi = Path(tmp) / "riffs.mid"
        wav = Path(tmp) / "raw.wav"
        guitar_midi(midi)
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "1.0", "-r", str(SR), "-F", str(wav), SOUNDFONT, str(midi)],
                       check=True)
        raw, sr = sf.read(wav, dtype="float32", always_2d=True)
    di = raw.mean(axis=1)
    di = (di / (np.max(np.abs(di)) + 1e-9) * 0.7).astype(np.float32)
    sf.write(OUT / "di.wav", di, SR, subtype="FLOAT")
    sf.write(OUT / "crunch.wav", crunch_amp(di), SR, subtype="FLOAT")
    sf.write("assets/ir/synthetic_4x12.wav", cabinet_ir(), SR, subtype="FLOAT")
    sf.write("assets/guitar_di_demo.flac", di[: 6 * SR], SR, subtype="PCM_16")
    print(f"wrote {OUT}/di.wav, {OUT}/crunch.wav ({len(di) / SR:.1f} s), assets/ir/synthetic_4x12.wav, "
          "assets/guitar_di_demo.flac")


if __name__ == "__main__":
    main()
