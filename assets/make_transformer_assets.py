"""Make the training MIDI of the shipped note generator (run from the repository root):

    python assets/make_transformer_assets.py     # -> build/transformer_data/{train,held_out}/*.mid
    neuropatch train-transformer build/transformer_data/train --held-out build/transformer_data/held_out \
        --from-scratch --steps 2200 --lr 2e-3 --threads 2 --seed 0 --name "Bach chorales (music21 corpus)" \
        -o assets/transformer/chorales.safetensors

The Bach chorales of the ``music21`` corpus (MusicXML / kern, about 410 pieces) are read
with music21, ties merged, the pickup bar padded so that bar lines fall on multiples of 4
beats, and each written as a MIDI file (one track per part, 480 ticks per beat, 120 bpm).
The pieces are split by piece name, seeded: about one in ten goes to ``held_out``; the
held-out names are recorded in ``assets/transformer/split.json``. The token streams of
both sets (``BOS tokens EOS`` per piece, as ``train-transformer`` reads the MIDI files)
go to ``assets/transformer/chorale_tokens.npz`` (int16 arrays ``train`` and ``held_out``,
with ``*_offsets`` [pieces + 1] and ``*_names``): the quality test scores the shipped
model and the n-gram baseline on them without reparsing the corpus. Transposition
(-5..+6 semitones) is applied while training, not here.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

OUT = Path("build/transformer_data")
SPLIT = Path("assets/transformer/split.json")
TOKENS = Path("assets/transformer/chorale_tokens.npz")
HELD_OUT_FRACTION = 0.1
SEED = 0
TICKS = 480


def chorale_paths() -> list[Path]:
    """The chorale files of music21's Bach corpus (analyses in .rntxt excluded), sorted."""
    from music21 import corpus

    return sorted(p for p in corpus.getComposer("bach") if p.suffix in (".mxl", ".xml", ".krn"))


def piece_name(p: Path) -> str:
    return p.stem


def parse_parts(p: Path) -> list[list[tuple[int, float, float]]]:
    """[part][(midi pitch, start beats, duration beats)] of a corpus file, ties merged, the
    pickup bar padded to a full bar."""
    from music21 import converter

    score = converter.parse(str(p))
    parts = []
    pad = 0.0
    if score.parts:
        measures = score.parts[0].getElementsByClass("Measure")
        if measures:
            pad = float(measures[0].paddingLeft or 0.0)
    for part in score.parts:
        notes = []
        for el in part.stripTies().flatten().notes:
            start, dur = float(el.offset) + pad, float(el.quarterLength)
            if dur <= 0:
                continue
            for pitch in el.pitches:
                notes.append((int(pitch.midi), start, dur))
        if notes:
            parts.append(notes)
    return parts


def write_midi(parts, path: Path) -> None:
    import mido

    mid = mido.MidiFile(ticks_per_beat=TICKS)
    for ch, notes in enumerate(parts):
        track = mido.MidiTrack()
        if ch == 0:
            track.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
        events = []
        for pitch, start, dur in notes:
            on, off = round(start * TICKS), round((start + dur) * TICKS)
            events.append((on, 1, pitch))
            events.append((off, 0, pitch))
        events.sort()
        now = 0
        for t, kind, pitch in events:
            msg = "note_on" if kind else "note_off"
            track.append(mido.Message(msg, note=pitch, velocity=80 if kind else 0, channel=ch % 16, time=t - now))
            now = t
        mid.tracks.append(track)
    mid.save(str(path))


def split_names(names: list[str], fraction: float = HELD_OUT_FRACTION, seed: int = SEED) -> set[str]:
    rng = random.Random(seed)
    shuffled = sorted(names)
    rng.shuffle(shuffled)
    return set(shuffled[: max(1, round(fraction * len(shuffled)))])


def write_tokens(folder: Path, out: Path) -> None:
    """Token streams of ``folder``/train and ``folder``/held_out -> ``out`` (.npz, no pickle)."""
    import numpy as np

    from neuropatch.nodes.gen.train import load_pieces

    arrays = {}
    for sub in ("train", "held_out"):
        pieces, names = load_pieces(folder / sub)
        arrays[sub] = np.concatenate(pieces).astype(np.int16)
        arrays[f"{sub}_offsets"] = np.cumsum([0] + [len(p) for p in pieces]).astype(np.int64)
        arrays[f"{sub}_names"] = np.array(names, dtype="U32")
    np.savez_compressed(out, **arrays)


def read_tokens(path: Path, part: str) -> tuple[list, list[str]]:
    """([int64 token arrays], names) of ``part`` ("train" or "held_out") of a token file."""
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        flat, off, names = z[part].astype(np.int64), z[f"{part}_offsets"], list(z[f"{part}_names"])
    return [flat[a:b] for a, b in zip(off[:-1], off[1:])], [str(n) for n in names]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--split", type=Path, default=SPLIT)
    ap.add_argument("--tokens", type=Path, default=TOKENS)
    ap.add_argument("--limit", type=int, default=0, help="convert only the first N pieces (0: all)")
    args = ap.parse_args(argv)
    paths = chorale_paths()
    if args.limit:
        paths = paths[: args.limit]
    held = split_names([piece_name(p) for p in paths])
    for sub in ("train", "held_out"):
        (args.out / sub).mkdir(parents=True, exist_ok=True)
    done = skipped = 0
    for i, p in enumerate(paths):
        try:
            parts = parse_parts(p)
        except Exception as exc:  # a corpus file music21 cannot read is skipped, not fatal
            print(f"skip {p.name}: {exc}", file=sys.stderr)
            skipped += 1
            continue
        if not parts:
            skipped += 1
            continue
        sub = "held_out" if piece_name(p) in held else "train"
        write_midi(parts, args.out / sub / f"{piece_name(p)}.mid")
        done += 1
        if (i + 1) % 50 == 0:
            print(f"{i + 1}/{len(paths)}", file=sys.stderr)
    args.split.parent.mkdir(parents=True, exist_ok=True)
    args.split.write_text(json.dumps({"corpus": "music21 bach chorales", "seed": SEED,
                                      "held_out": sorted(held)}, indent=1) + "\n")
    write_tokens(args.out, args.tokens)
    print(f"{done} pieces ({skipped} skipped) -> {args.out}/train, {args.out}/held_out ({len(held)} held out)")
    print("then: neuropatch train-transformer build/transformer_data/train --held-out build/transformer_data/held_out "
          "--from-scratch --steps 2200 --lr 2e-3 --threads 2 --seed 0 --name 'Bach chorales (music21 corpus)' "
          "-o assets/transformer/chorales.safetensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
