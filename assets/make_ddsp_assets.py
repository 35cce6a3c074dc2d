"""Render the DDSP violin training audio (run from the repository root):

    python assets/make_ddsp_assets.py      # -> build/ddsp_data/violin.wav (48 kHz mono, 59 s)
    neuropatch train-ddsp --audio build/ddsp_data/violin.wav -o assets/ddsp/violin.safetensors

Melodies: the soprano lines of two Bach chorales from the music21 corpus (transposed
to sit in the violin's range) followed by a seeded random scale melody, played by
General MIDI program 40 (violin) of the FluidR3 GM soundfont through fluidsynth
(Debian packages fluidsynth fluid-soundfont-gm) with varied velocities, dry (fluidsynth
reverb and chorus off: the synth has no reverb stage to explain a tail).
"""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

SR = 48000
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
OUT = Path("build/ddsp_data")
CHORALES = ("bach/bwv66.6", "bach/bwv269")
TICKS = 480
TEMPO = 500000  # microseconds per quarter (120 bpm)


def chorale_notes(name: str) -> list:
    """(midi note, quarter lengths) of the chorale's soprano line, rests as note None."""
    from music21 import corpus

    part = corpus.parse(name).parts[0].flatten()
    notes = []
    for el in part.notesAndRests:
        q = float(el.quarterLength)
        if q <= 0:
            continue
        notes.append((None if el.isRest else int(el.pitches[0].midi), q))
    return notes


def scale_melody(rng, bars: int = 12) -> list:
    scale = [0, 2, 4, 5, 7, 9, 11]
    root = int(rng.choice([55, 57, 60, 62, 64]))
    degree = 4
    notes = []
    for _ in range(bars * 4):
        degree = int(np.clip(degree + rng.integers(-2, 3), 0, 13))
        pitch = root + 12 * (degree // 7) + scale[degree % 7]
        notes.append((pitch, float(rng.choice([0.5, 1.0, 1.0, 2.0]))))
    return notes


def write_midi(path: Path, melodies: list, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    mid = mido.MidiFile(ticks_per_beat=TICKS)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=TEMPO))
    tr.append(mido.Message("program_change", program=40, channel=0))
    wait, quarters = 0, 0.0
    for notes in melodies:
        for pitch, q in notes:
            ticks = int(q * TICKS)
            quarters += q
            if pitch is None:
                wait += ticks
                continue
            vel = int(rng.integers(45, 120))
            tr.append(mido.Message("note_on", note=pitch, velocity=vel, time=wait))
            tr.append(mido.Message("note_off", note=pitch, velocity=0, time=ticks))
            wait = 0
        wait += TICKS  # a beat of rest between melodies
        quarters += 1.0
    mid.save(path)
    return quarters * TEMPO / 1e6


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    melodies = []
    for k, name in enumerate(CHORALES):
        shift = 12 if k % 2 else 0  # half the chorales an octave up: violin range G3..E6
        melodies.append([(None if p is None else p + shift, q) for p, q in chorale_notes(name)])
    melodies += [scale_melody(rng, bars=3)]
    with tempfile.TemporaryDirectory() as tmp:
        midi, wav = Path(tmp) / "violin.mid", Path(tmp) / "raw.wav"
        seconds = write_midi(midi, melodies)
        subprocess.run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "1.0", "-r", str(SR), "-F", str(wav),
                        SOUNDFONT, str(midi)],
                       check=True)
        raw, sr = sf.read(wav, dtype="float32", always_2d=True)
    audio = raw.mean(axis=1)
    audio = (audio / (np.max(np.abs(audio)) + 1e-9) * 0.7).astype(np.float32)
    sf.write(OUT / "violin.wav", audio, SR, subtype="FLOAT")
    print(f"wrote {OUT}/violin.wav ({len(audio) / SR:.1f} s, score {seconds:.1f} s)")


if __name__ == "__main__":
    main()
