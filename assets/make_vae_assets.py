"""Render the training audio of the shipped VAE (run from the repository root):

    python assets/make_vae_assets.py      # -> build/vae_data/gm_mix.wav (48 kHz mono, about 90 s)
    neuropatch train-vae --audio build/vae_data/gm_mix.wav --steps 1400 --threads 1 --name "FluidR3 GM mix" \
        -o assets/vae/tiny_rave.safetensors

Seeded random melodies (a diatonic random walk with varied rhythms and velocities, a
few two-note chords) played one instrument after another by eight General MIDI programs
of the FluidR3 GM soundfont through fluidsynth (Debian packages fluidsynth
fluid-soundfont-gm): piano, nylon guitar, vibraphone, violin, cello, trumpet, clarinet
and flute, each in its own range for about 11 s, dry (fluidsynth reverb and chorus off).
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
OUT = Path("build/vae_data")
TICKS = 480
TEMPO = 500000  # microseconds per quarter (120 bpm)
BEATS_PER_INSTRUMENT = 22
#: (General MIDI program, lowest root, name)
INSTRUMENTS = ((0, 48, "piano"), (24, 45, "nylon guitar"), (11, 55, "vibraphone"), (40, 57, "violin"),
               (42, 38, "cello"), (56, 55, "trumpet"), (71, 52, "clarinet"), (73, 64, "flute"))
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)


def melody(rng, root: int, beats: int) -> list:
    """[(midi notes, quarter lengths)] of a random walk on a major or minor scale; an
    empty note tuple is a rest."""
    scale = MAJOR if rng.random() < 0.5 else MINOR
    degree, notes, total = int(rng.integers(3, 8)), [], 0.0
    while total < beats:
        q = float(rng.choice([0.25, 0.5, 0.5, 1.0, 1.0, 1.5, 2.0]))
        q = min(q, beats - total)
        total += q
        if rng.random() < 0.08:
            notes.append(((), q))
            continue
        degree = int(np.clip(degree + rng.integers(-3, 4), 0, 15))
        pitch = root + 12 * (degree // 7) + scale[degree % 7]
        chord = (pitch,)
        if rng.random() < 0.12:  # a third below the melody note
            low = degree - 2
            chord = (root + 12 * (low // 7) + scale[low % 7], pitch) if low >= 0 else chord
        notes.append((chord, q))
    return notes


def write_midi(path: Path, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    mid = mido.MidiFile(ticks_per_beat=TICKS)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=TEMPO))
    wait, quarters = 0, 0.0
    for channel, (program, root, _) in enumerate(INSTRUMENTS):
        channel = channel if channel < 9 else channel + 1  # skip the drum channel
        tr.append(mido.Message("program_change", program=program, channel=channel, time=wait))
        wait = 0
        for chord, q in melody(rng, root, BEATS_PER_INSTRUMENT):
            ticks = int(q * TICKS)
            quarters += q
            if not chord:
                wait += ticks
                continue
            vel = int(rng.integers(45, 120))
            for k, note in enumerate(chord):
                tr.append(mido.Message("note_on", note=note, velocity=vel, channel=channel, time=wait if k == 0 else 0))
            for k, note in enumerate(chord):
                tr.append(mido.Message("note_off", note=note, velocity=0, channel=channel, time=ticks if k == 0 else 0))
            wait = 0
        wait += TICKS  # a beat of rest between instruments
        quarters += 1.0
    tr.append(mido.MetaMessage("end_of_track", time=wait))
    mid.save(path)
    return quarters * TEMPO / 1e6


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        midi, wav = Path(tmp) / "gm_mix.mid", Path(tmp) / "raw.wav"
        seconds = write_midi(midi)
        subprocess.run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "1.0", "-r", str(SR), "-F", str(wav),
                        SOUNDFONT, str(midi)], check=True)
        raw, sr = sf.read(wav, dtype="float32", always_2d=True)
    audio = raw.mean(axis=1)
    audio = (audio / (np.max(np.abs(audio)) + 1e-9) * 0.7).astype(np.float32)
    sf.write(OUT / "gm_mix.wav", audio, SR, subtype="FLOAT")
    print(f"wrote {OUT}/gm_mix.wav ({len(audio) / SR:.1f} s, score {seconds:.1f} s)")


if __name__ == "__main__":
    main()
