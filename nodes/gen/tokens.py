"""Notes <-> tokens for the generator: miditok's REMI vocabulary on a fixed grid.

The tokenizer is miditok's ``REMI`` (bars of 4 beats, 4 positions per beat), set up for
one merged stream of notes without velocities, tempos, time signatures, programs, chords
or rests. A piece becomes ::

    Bar  Position_p  Pitch_k Duration_d  Pitch_k Duration_d  Position_p ...  Bar ...

where a ``Position`` is the onset inside the bar in quarter-beats (0..15), the pitches at
one onset come in ascending order, and a ``Duration`` is ``beats.frac.res`` (0.25 to 4
beats in quarter-beat steps, 4.5 to 8 beats in half-beat steps). Encoding goes through
miditok (``symusic`` scores); decoding a token stream is done here with lookup tables
(``Vocab``) so that the generator can read times and pitches while it samples; the tests
check that it agrees with miditok's own decoder.

Units: ``Note.start`` and ``Note.duration`` are in beats (quarter notes); ``pitch`` is a
MIDI note number; ``velocity`` is 1..127. The vocabulary carries no velocity and no voice:
``quantise`` sets them to ``DEFAULT_VELOCITY`` and 0, and decoded notes carry those values.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

TICKS_PER_BEAT = 4          # grid: quarter-beats (sixteenth notes)
BEATS_PER_BAR = 4
PITCH_RANGE = (21, 109)     # piano range, upper bound exclusive
BEAT_RES = {(0, 4): 4, (4, 8): 2}
DEFAULT_VELOCITY = 80

# token kinds in Vocab.kind
SPECIAL, BAR, POSITION, PITCH, DURATION, OTHER = range(6)


@dataclass(frozen=True, order=True)
class Note:
    """One note. ``start`` and ``duration`` in beats, ``pitch`` 0..127, ``velocity`` 1..127,
    ``voice`` a free label (0 for the melody / a single line)."""
    start: float
    pitch: int
    duration: float
    velocity: int = DEFAULT_VELOCITY
    voice: int = 0

    def __init__(self, pitch: int, start: float, duration: float, velocity: int = DEFAULT_VELOCITY,
                 voice: int = 0):
        object.__setattr__(self, "pitch", int(pitch))
        object.__setattr__(self, "start", float(start))
        object.__setattr__(self, "duration", float(duration))
        object.__setattr__(self, "velocity", int(velocity))
        object.__setattr__(self, "voice", int(voice))

    @property
    def end(self) -> float:
        return self.start + self.duration


@lru_cache(maxsize=1)
def tokenizer():
    """The shared miditok REMI tokenizer (built once per process)."""
    from miditok import REMI, TokenizerConfig

    config = TokenizerConfig(pitch_range=PITCH_RANGE, beat_res=BEAT_RES, use_velocities=False,
                             use_chords=False, use_rests=False, use_tempos=False,
                             use_time_signatures=False, use_programs=False,
                             special_tokens=["PAD", "BOS", "EOS"])
    return REMI(config)


@dataclass(frozen=True)
class Vocab:
    """Lookup tables over the token ids, all numpy arrays of length ``size``.

    kind: token kind (SPECIAL, BAR, POSITION, PITCH, DURATION, OTHER);
    value: the position in quarter-beats, the MIDI pitch, or the duration in quarter-beats
    (0 for the other kinds). ``durations_qb`` lists the duration values in id order."""
    size: int
    kind: np.ndarray
    value: np.ndarray
    pad: int
    bos: int
    eos: int
    bar: int
    position_ids: np.ndarray   # id of Position_p at index p
    pitch_ids: np.ndarray      # id of Pitch_k at index k - PITCH_RANGE[0]
    duration_ids: np.ndarray   # ids of the Duration tokens, ascending duration
    durations_qb: np.ndarray   # their durations in quarter-beats


@lru_cache(maxsize=1)
def vocab() -> Vocab:
    tok = tokenizer()
    size = len(tok.vocab)
    kind = np.full(size, OTHER, np.int64)
    value = np.zeros(size, np.int64)
    for name, i in tok.vocab.items():
        typ, _, val = name.partition("_")
        if typ in ("PAD", "BOS", "EOS"):
            kind[i] = SPECIAL
        elif typ == "Bar":
            kind[i] = BAR
        elif typ == "Position":
            kind[i], value[i] = POSITION, int(val)
        elif typ == "Pitch":
            kind[i], value[i] = PITCH, int(val)
        elif typ == "Duration":
            whole, frac, res = (int(x) for x in val.split("."))
            kind[i], value[i] = DURATION, (whole * res + frac) * TICKS_PER_BEAT // res
    positions = np.array([tok.vocab[f"Position_{p}"] for p in range(TICKS_PER_BEAT * BEATS_PER_BAR)])
    pitches = np.array([tok.vocab[f"Pitch_{k}"] for k in range(*PITCH_RANGE)])
    dur = np.flatnonzero(kind == DURATION)
    dur = dur[np.argsort(value[dur], kind="stable")]
    return Vocab(size, kind, value, tok.vocab["PAD_None"], tok.vocab["BOS_None"], tok.vocab["EOS_None"],
                 tok.vocab["Bar_None"], positions, pitches, dur, value[dur])


def quantise(notes: list[Note]) -> list[Note]:
    """``notes`` as the tokens can carry them: onset on the quarter-beat grid, duration the
    nearest representable one (0.25..8 beats), pitch clipped to the piano range, velocity
    DEFAULT_VELOCITY, voice 0; sorted by (start, pitch), exact duplicates dropped."""
    v = vocab()
    out = set()
    for n in notes:
        start_qb = max(0, int(round(n.start * TICKS_PER_BEAT)))
        dur_qb = int(v.durations_qb[np.argmin(np.abs(v.durations_qb - n.duration * TICKS_PER_BEAT))])
        pitch = min(max(n.pitch, PITCH_RANGE[0]), PITCH_RANGE[1] - 1)
        out.add((start_qb, pitch, dur_qb))
    # one note per (onset, pitch): the longest, as miditok keeps it
    best = {}
    for s, p, d in out:
        best[(s, p)] = max(d, best.get((s, p), 0))
    return [Note(p, s / TICKS_PER_BEAT, d / TICKS_PER_BEAT) for (s, p), d in sorted(best.items())]


def notes_to_score(notes: list[Note], ticks_per_beat: int = 480):
    """A one-track ``symusic.Score`` (ticks) holding ``notes``."""
    import symusic

    score = symusic.Score(ticks_per_beat)
    track = symusic.Track(program=0)
    for n in notes:
        start = int(round(n.start * ticks_per_beat))
        dur = max(1, int(round(n.duration * ticks_per_beat)))
        track.notes.append(symusic.Note(start, dur, int(n.pitch), int(n.velocity)))
    score.tracks.append(track)
    return score


def score_to_notes(score) -> list[Note]:
    """All notes of a ``symusic.Score`` (every track, drums skipped) in beats, sorted;
    ``voice`` is the track index."""
    tpq = score.ticks_per_quarter
    notes = []
    for ti, track in enumerate(score.tracks):
        if track.is_drum:
            continue
        for n in track.notes:
            notes.append(Note(n.pitch, n.time / tpq, n.duration / tpq, n.velocity, ti))
    notes.sort(key=lambda n: (n.start, n.pitch))
    return notes


def read_midi(path) -> list[Note]:
    """Notes of a MIDI file, every track merged (``voice`` = track index)."""
    import symusic

    return score_to_notes(symusic.Score(str(path)))


def notes_to_tokens(notes: list[Note]) -> list[int]:
    """Token ids of ``notes`` (quantised first), starting with the first bar that holds a
    note's bar (bars before it are kept so onsets stay absolute). No BOS/EOS."""
    q = quantise(notes)
    if not q:
        return []
    seqs = tokenizer().encode(notes_to_score(q, TICKS_PER_BEAT * 120))
    seq = seqs[0] if isinstance(seqs, list) else seqs
    return [int(i) for i in seq.ids]


class Decoder:
    """Incremental token -> note reader: ``feed(id)`` returns the Note completed by that
    token (on a Duration) or None. ``time_qb`` is the current onset in quarter-beats,
    ``bar_qb`` the start of the current bar. Tokens that do not fit the grammar (a Duration
    without a Pitch, a Pitch before any Bar/Position) are ignored, as miditok ignores them."""

    def __init__(self):
        self.v = vocab()
        self.reset()

    def reset(self) -> None:
        self.bar_index = -1        # Bar tokens seen - 1
        self.time_qb = 0
        self.pending_pitch = -1
        self.last = -1             # last token id

    @property
    def bar_qb(self) -> int:
        return max(self.bar_index, 0) * TICKS_PER_BEAT * BEATS_PER_BAR

    def feed(self, tok: int) -> Note | None:
        v = self.v
        k = v.kind[tok]
        self.last = tok
        if k == BAR:
            self.bar_index += 1
            self.time_qb = self.bar_qb
            self.pending_pitch = -1
        elif k == POSITION:
            self.time_qb = self.bar_qb + int(v.value[tok])
            self.pending_pitch = -1
        elif k == PITCH:
            self.pending_pitch = int(v.value[tok])
        elif k == DURATION:
            p, self.pending_pitch = self.pending_pitch, -1
            if p >= 0:
                return Note(p, self.time_qb / TICKS_PER_BEAT, int(v.value[tok]) / TICKS_PER_BEAT)
        return None


def tokens_to_notes(ids) -> list[Note]:
    """Notes (beats, sorted by start then pitch) of a token-id stream."""
    dec = Decoder()
    notes = [n for n in (dec.feed(int(t)) for t in ids) if n is not None]
    notes.sort(key=lambda n: (n.start, n.pitch))
    return notes


def transpose_tokens(ids: np.ndarray, semitones: int) -> np.ndarray | None:
    """``ids`` (int array) with every Pitch token moved ``semitones``; None when a pitch
    would leave the piano range."""
    v = vocab()
    ids = np.asarray(ids)
    is_pitch = v.kind[ids] == PITCH
    if not is_pitch.any():
        return ids.copy()
    pitches = v.value[ids[is_pitch]] + semitones
    if pitches.min() < PITCH_RANGE[0] or pitches.max() >= PITCH_RANGE[1]:
        return None
    out = ids.copy()
    out[is_pitch] = v.pitch_ids[pitches - PITCH_RANGE[0]]
    return out
