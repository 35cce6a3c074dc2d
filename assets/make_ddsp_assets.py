"""Render the DDSP instruments' training audio with fluidsynth (run from the repository root):

    python assets/make_ddsp_assets.py                 # -> build/ddsp_data/<instrument>/train.wav
    python assets/make_ddsp_assets.py demo            # -> midi/violin_melody.mid, ddsp/flute_phrase.flac
    neuropatch train-ddsp build/ddsp_data/violin -o assets/ddsp/violin.safetensors --reverb
    (the same for flute and trumpet; the exact commands are in assets/README.md)

Each instrument (General MIDI programs of the FluidR3 GM soundfont, Debian packages
fluidsynth fluid-soundfont-gm) plays, dry (fluidsynth reverb and chorus off: the
decoder learns its own reverb):
- soprano lines of Bach chorales from the music21 corpus, transposed into its range;
- seeded random scale melodies with varied note lengths;
- long notes that swell and fade (expression, CC 11) with vibrato (modulation, CC 1,
  which the soundfont maps to its vibrato depth);
each note with its own velocity. :func:`heldout_clip` renders different chorales and
seeds for evaluation (the quality test and train-ddsp's report never see training notes).
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

SR = 48000
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
OUT = Path("build/ddsp_data")
TICKS = 480
TEMPO = 600000  # microseconds per quarter (100 bpm)


@dataclass(frozen=True)
class Instrument:
    name: str
    program: int          # General MIDI program (0-based)
    low: int              # playable range, MIDI notes
    high: int
    chorales: tuple       # training chorales (music21 corpus names)
    heldout: str          # evaluation chorale


INSTRUMENTS = {
    "violin": Instrument("violin", 40, 55, 88, ("bach/bwv66.6", "bach/bwv269", "bach/bwv153.1"), "bach/bwv86.6"),
    "flute": Instrument("flute", 73, 60, 93, ("bach/bwv66.6", "bach/bwv269", "bach/bwv153.1"), "bach/bwv86.6"),
    "trumpet": Instrument("trumpet", 56, 55, 82, ("bach/bwv66.6", "bach/bwv269", "bach/bwv153.1"), "bach/bwv86.6"),
}


def chorale_notes(name: str) -> list:
    """(midi note or None for a rest, quarter lengths) of the chorale's soprano line."""
    from music21 import corpus

    part = corpus.parse(name).parts[0].flatten()
    notes = []
    for el in part.notesAndRests:
        q = float(el.quarterLength)
        if q > 0:
            notes.append((None if el.isRest else int(el.pitches[0].midi), q))
    return notes


def fit_range(notes: list, inst: Instrument) -> list:
    """Transpose by octaves so the line's middle sits in the middle of the instrument's range."""
    pitches = [p for p, _ in notes if p is not None]
    shift = 12 * round(((inst.low + inst.high) / 2 - np.mean(pitches)) / 12)
    return [(None if p is None else int(np.clip(p + shift, inst.low, inst.high)), q) for p, q in notes]


def scale_melody(rng, inst: Instrument, beats: int) -> list:
    scale = [0, 2, 4, 5, 7, 9, 11]
    root = int(rng.integers(inst.low, inst.low + 8))
    degree, notes = 3, []
    while sum(q for _, q in notes) < beats:
        degree = int(np.clip(degree + rng.integers(-3, 4), 0, 20))
        pitch = root + 12 * (degree // 7) + scale[degree % 7]
        if pitch <= inst.high:
            notes.append((pitch, float(rng.choice([0.25, 0.5, 0.5, 1.0, 1.0, 1.5, 2.0]))))
    return notes


def write_midi(path: Path, inst: Instrument, phrases: list, rng) -> float:
    """phrases: lists of (note, quarters[, 'swell']); returns the score length in seconds."""
    mid = mido.MidiFile(ticks_per_beat=TICKS)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=TEMPO))
    tr.append(mido.Message("program_change", program=inst.program, channel=0))
    wait, quarters = 0, 0.0
    for phrase in phrases:
        for item in phrase:
            pitch, q = item[0], item[1]
            ticks = int(q * TICKS)
            quarters += q
            if pitch is None:
                wait += ticks
                continue
            swell = len(item) > 2
            vel = int(rng.integers(35, 125))
            expr = 127 if not swell else 30
            tr.append(mido.Message("control_change", control=11, value=expr, time=wait))
            tr.append(mido.Message("control_change", control=1, value=int(rng.integers(0, 90)) if swell else 0))
            tr.append(mido.Message("note_on", note=pitch, velocity=vel))
            if swell:  # expression up then down over the note, in 16 steps
                steps = 16
                for s in range(1, steps + 1):
                    level = 30 + 97 * np.sin(np.pi * s / (steps + 1))
                    tr.append(mido.Message("control_change", control=11, value=int(level), time=ticks // steps))
                tr.append(mido.Message("note_off", note=pitch, velocity=0, time=ticks - steps * (ticks // steps)))
            else:
                tr.append(mido.Message("note_off", note=pitch, velocity=0, time=ticks))
            wait = 0
        wait += TICKS  # a beat of rest between phrases
        quarters += 1.0
    mid.save(path)
    return quarters * TEMPO / 1e6


def render(inst: Instrument, phrases: list, seed: int) -> np.ndarray:
    """float32 [samples] mono at SR, peak 0.7."""
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        midi, wav = Path(tmp) / "score.mid", Path(tmp) / "raw.wav"
        write_midi(midi, inst, phrases, rng)
        subprocess.run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "1.0", "-r", str(SR), "-F", str(wav),
                        SOUNDFONT, str(midi)], check=True, stdout=subprocess.DEVNULL)
        raw, _ = sf.read(wav, dtype="float32", always_2d=True)
    audio = raw.mean(axis=1)
    return (audio / (np.max(np.abs(audio)) + 1e-9) * 0.7).astype(np.float32)


def training_phrases(inst: Instrument, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    phrases = [fit_range(chorale_notes(name), inst) for name in inst.chorales]
    phrases += [scale_melody(rng, inst, 24) for _ in range(4)]
    long_notes = [(int(p), 4.0, "swell") for p in rng.integers(inst.low, inst.high + 1, 14)]
    phrases += [long_notes[i:i + 2] for i in range(0, len(long_notes), 2)]
    order = rng.permutation(len(phrases))
    return [phrases[i] for i in order]


def heldout_clip(name: str, seconds: float = 8.0) -> np.ndarray:
    """Evaluation audio for ``name``: the first bars of a chorale not used in training and a
    swelled long note, float32 [samples] at SR (at most ``seconds`` long)."""
    inst = INSTRUMENTS[name]
    rng = np.random.default_rng(99)
    notes, beats = [], 0.0
    for p, q in fit_range(chorale_notes(inst.heldout), inst):
        notes.append((p, q))
        beats += q
        if beats * TEMPO / 1e6 > seconds - 4.0:
            break
    phrases = [notes, [(int(rng.integers(inst.low + 5, inst.high - 5)), 3.0, "swell")]]
    return render(inst, phrases, seed=99)[: int(seconds * SR)]


HERE = Path(__file__).resolve().parent


def demo_files() -> None:
    """Small files the DDSP example patches play: ``midi/violin_melody.mid`` (a chorale's
    soprano line for patches/midi_violin.json) and ``ddsp/flute_phrase.flac`` (a held-out
    flute phrase whose timbre patches/timbre_morph.json morphs towards)."""
    inst = INSTRUMENTS["violin"]
    notes = fit_range(chorale_notes("bach/bwv86.6"), inst)
    write_midi(HERE / "midi" / "violin_melody.mid", Instrument("violin", 40, inst.low, inst.high, (), ""),
               [notes], np.random.default_rng(5))
    sf.write(HERE / "ddsp" / "flute_phrase.flac", heldout_clip("flute", seconds=6.0), SR, subtype="PCM_16")
    print("wrote assets/midi/violin_melody.mid and assets/ddsp/flute_phrase.flac")


def onset_phrases(inst: Instrument, seed: int, notes: int = 12) -> list:
    """A phrase of ``notes`` notes across the instrument's range, each starting from
    silence (half a beat of rest before it), 0.75-1.5 beats long."""
    rng = np.random.default_rng(seed)
    phrase = [(None, 1.0)]
    for p in rng.integers(inst.low, inst.high + 1, notes):
        phrase += [(int(p), float(rng.choice([0.75, 1.0, 1.5]))), (None, 0.5)]
    return [phrase]


CALIBRATION_SEEDS = (11, 12, 13, 14, 15, 16)


def calibrate(names=None) -> None:
    """Render notes that start from silence (seeds 11-16: six phrases of 12 notes per
    instrument, none of them used elsewhere) into build/ddsp_data/onsets/<name>/ and store
    each shipped model's onset lead measured on them (the timbre model: on all three)."""
    from neuropatch.nodes.ddsp.train import calibrate_file

    root = OUT / "onsets"
    for name in names or INSTRUMENTS:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for seed in CALIBRATION_SEEDS:
            sf.write(folder / f"notes_{seed}.wav", render(INSTRUMENTS[name], onset_phrases(INSTRUMENTS[name], seed),
                                                         seed), SR, subtype="FLOAT")
        lead = calibrate_file(HERE / "ddsp" / f"{name}.safetensors", folder, progress=False)
        print(f"ddsp/{name}: onset lead {lead} samples")
    if not names:
        lead = calibrate_file(HERE / "ddsp" / "timbre.safetensors", root, progress=False)
        print(f"ddsp/timbre: onset lead {lead} samples")


def main(names=None) -> None:
    if names == ["demo"]:
        demo_files()
        return
    if names and names[0] == "calibrate":
        calibrate(names[1:])
        return
    for name in names or INSTRUMENTS:
        inst = INSTRUMENTS[name]
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        audio = render(inst, training_phrases(inst), seed=0)
        sf.write(folder / "train.wav", audio, SR, subtype="FLOAT")
        print(f"wrote {folder}/train.wav ({len(audio) / SR:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
