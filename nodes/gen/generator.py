"""Sampling notes from the Music Transformer: the API the ``gen.transformer`` node runs in
its worker.

``NoteGenerator`` keeps one growing token stream (BOS, then REMI tokens, :mod:`.tokens`)
and the model's key/value cache over its last tokens. The model reads at most
``max_len`` tokens; when the cache is full it is rebuilt from the last ``max_len // 2``
tokens (the same window the uncached path reads, so both give the same logits).

Every sampled token passes a grammar mask, so the stream always decodes to valid notes:
``Bar`` -> ``Bar | Position``; ``Position`` -> ``Pitch``; ``Pitch`` -> ``Duration``;
``Duration`` -> a higher ``Pitch`` at the same onset, a later ``Position`` in the bar, or
``Bar``. Special tokens (PAD/BOS/EOS) are never sampled. Durations are 0.25..8 beats and
pitches 21..108, so every generated note has duration > 0 and a valid MIDI pitch.

Times: notes in and out are in absolute beats. The first primed note fixes the origin
(its bar, a multiple of 4 beats); the stream counts bars from there.

Threads: the constructor sets torch to ``threads`` intra-op threads (process-wide; the
engine runs this in a worker process). Inference runs under ``torch.inference_mode``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .model import load_model
from .tokens import (BAR, BEATS_PER_BAR, DURATION, PITCH, POSITION, TICKS_PER_BEAT, Decoder, Note,
                     notes_to_tokens, quantise, vocab)

BAR_QB = BEATS_PER_BAR * TICKS_PER_BEAT
MAX_LOWER_VOICES = 3


def sample_token(logits: np.ndarray, allowed: np.ndarray, temperature: float, top_p: float,
                 rng: np.random.Generator) -> int:
    """One token id from ``logits`` [vocab] restricted to ``allowed`` [vocab] (bool):
    temperature scaling then nucleus (top-p) sampling; temperature <= 0 is argmax."""
    z = np.where(allowed, logits.astype(np.float64), -np.inf)
    if temperature <= 0:
        return int(np.argmax(z))
    z = z / temperature
    z -= z.max()
    p = np.exp(z)
    p /= p.sum()
    order = np.argsort(-p, kind="stable")
    cum = np.cumsum(p[order])
    keep = order[: int(np.searchsorted(cum, min(max(top_p, 1e-9), 1.0) - 1e-12)) + 1]
    q = p[keep] / p[keep].sum()
    return int(keep[rng.choice(len(keep), p=q)])


class NoteGenerator:
    """Continue, answer or harmonise notes with a trained Music Transformer.

    ``weights``: the ``.safetensors`` file (its ``.json`` config beside it)."""

    def __init__(self, weights: Path, threads: int | None = 1, use_cache: bool = True):
        if threads:
            torch.set_num_threads(int(threads))
        self.model, self.config = load_model(weights)
        self.vocab = vocab()
        if self.config["vocab_size"] != self.vocab.size:
            from neuropatch.engine.errors import ModelFormatError

            raise ModelFormatError(f"{weights}: vocabulary {self.config['vocab_size']} != {self.vocab.size}")
        self.max_len = int(self.config["max_len"])
        self.use_cache = use_cache
        v = self.vocab
        self._is_pitch = v.kind == PITCH
        self._is_position = v.kind == POSITION
        self._is_duration = v.kind == DURATION
        self._is_bar = v.kind == BAR
        self.last_logits: np.ndarray | None = None
        self.reset(0)

    # -- context -------------------------------------------------------------------------
    def reset(self, seed: int) -> None:
        """Clear the context (no notes, no time origin) and reseed the sampler."""
        self.rng = np.random.default_rng(int(seed))
        self.tokens: list[int] = [self.vocab.bos]
        self.decoder = Decoder()
        self.notes: list[Note] = []           # relative to the origin, quantised
        self.origin_qb: int | None = None
        self.horizon_qb = 0.0                 # end of the span the last call covered (from the origin)
        self._drop_cache()

    def _drop_cache(self) -> None:
        self.window_start = max(0, len(self.tokens) - self.max_len // 2) if len(self.tokens) > self.max_len else 0
        self.cache = self.model.new_cache()
        self.cached = self.window_start       # tokens[window_start:cached] are in the cache
        self.last_logits = None

    def _relative(self, notes) -> list[Note]:
        q = quantise(notes)
        if self.origin_qb is None:
            first = round(min(n.start for n in notes) * TICKS_PER_BEAT)
            self.origin_qb = max(0, first) // BAR_QB * BAR_QB
        o = self.origin_qb / TICKS_PER_BEAT
        return quantise([Note(n.pitch, n.start - o, n.duration) for n in q if n.start >= o])

    def _absolute(self, n: Note, voice: int = 0, velocity: int | None = None) -> Note:
        o = (self.origin_qb or 0) / TICKS_PER_BEAT
        return Note(n.pitch, n.start + o, n.duration, n.velocity if velocity is None else velocity, voice)

    def prime(self, notes: list[Note]) -> None:
        """Add ``notes`` (absolute beats; quantised to the grid) to the context: what the
        user played, or a primer. The stream is rebuilt from all context notes in time
        order, so notes may also fall before ones generated earlier."""
        if not notes:
            return
        rel = self._relative(notes)
        self.notes = quantise(self.notes + rel)
        self.tokens = [self.vocab.bos] + notes_to_tokens(self.notes)
        self.decoder = Decoder()
        for t in self.tokens:
            self.decoder.feed(t)
        self._drop_cache()

    @property
    def end_beats(self) -> float:
        """Absolute beat of the latest onset in the context (0 when empty)."""
        if not self.notes:
            return (self.origin_qb or 0) / TICKS_PER_BEAT
        return (max(n.start for n in self.notes) * TICKS_PER_BEAT + (self.origin_qb or 0)) / TICKS_PER_BEAT

    # -- model ---------------------------------------------------------------------------
    @torch.inference_mode()
    def next_logits(self) -> np.ndarray:
        """Logits [vocab] (float32) for the token after the stream, through the cache or,
        with ``use_cache`` False, a full forward over the same window."""
        if len(self.tokens) - self.window_start > self.max_len:
            self.window_start = len(self.tokens) - self.max_len // 2
            self.cache = self.model.new_cache()
            self.cached = self.window_start
        if not self.use_cache:
            ids = torch.tensor([self.tokens[self.window_start:]], dtype=torch.long)
            out = self.model(ids)[0, -1]
        elif self.cached == len(self.tokens) and self.last_logits is not None:
            return self.last_logits            # nothing appended since the last call
        else:
            new = torch.tensor([self.tokens[self.cached:]], dtype=torch.long)
            out = self.model.forward_cached(new, self.cache)[0, -1]
            self.cached = len(self.tokens)
        self.last_logits = out.numpy().copy()
        return self.last_logits

    def _append(self, tok: int) -> Note | None:
        self.tokens.append(tok)
        note = self.decoder.feed(tok)
        if note is not None:
            self.notes.append(note)
        return note

    # -- grammar -------------------------------------------------------------------------
    def _grammar(self) -> np.ndarray:
        """Tokens allowed after the stream so far (bool [vocab])."""
        v, d = self.vocab, self.decoder
        kind = v.kind[d.last] if d.last >= 0 else -1
        if kind == BAR:
            return self._is_bar | self._is_position
        if kind == POSITION:
            return self._is_pitch.copy()
        if kind == PITCH:
            return self._is_duration.copy()
        if kind == DURATION:
            last_pitch = max((n.pitch for n in self._notes_at(d.time_qb)), default=-1)
            pos = d.time_qb - d.bar_qb
            return ((self._is_pitch & (v.value > last_pitch)) | (self._is_position & (v.value > pos))
                    | self._is_bar)
        return self._is_bar.copy()            # after BOS, or an empty stream

    def _notes_at(self, time_qb: int) -> list[Note]:
        t = time_qb / TICKS_PER_BEAT
        out = []
        for n in reversed(self.notes):
            if n.start < t:
                break
            if n.start == t:
                out.append(n)
        return out

    def _token_time(self, tok: int) -> int:
        """Onset (quarter-beats from the origin) a Bar or Position token would move to."""
        d, v = self.decoder, self.vocab
        if v.kind[tok] == BAR:
            return (d.bar_index + 1) * BAR_QB
        return d.bar_qb + int(v.value[tok])

    def _time_tokens_upto(self, limit_qb: int) -> np.ndarray:
        """Bar/Position tokens whose onset would be <= ``limit_qb`` (bool [vocab])."""
        d, v = self.decoder, self.vocab
        ok = self._is_position & (d.bar_qb + v.value <= limit_qb)
        if (d.bar_index + 1) * BAR_QB <= limit_qb:
            ok = ok | self._is_bar
        return ok

    # -- generation ----------------------------------------------------------------------
    def sample(self, temperature: float = 1.0, top_p: float = 0.95) -> int:
        """One token for the end of the stream, drawn from the grammar-masked
        distribution; not appended (``append`` does that). ``last_logits`` holds the
        model's logits for it."""
        return sample_token(self.next_logits(), self._grammar(), temperature, top_p, self.rng)

    def append(self, tok: int) -> Note | None:
        """Append a token to the stream; returns the note it completes (absolute beats)
        or None."""
        if self.origin_qb is None:
            self.origin_qb = 0
        note = self._append(int(tok))
        return None if note is None else self._absolute(note)

    def continue_notes(self, beats: float, temperature: float = 1.0, top_p: float = 0.95) -> list[Note]:
        """Sample the span of ``beats`` beats that starts at the latest onset in the context
        or at the end of the span the previous call covered, whichever is later (so calls
        in a row cover consecutive spans, rests included). Returns the new notes (absolute
        beats, sorted by start then pitch, voice 0, onsets inside the span). The token that
        would start the next span is not kept: the next call samples it afresh."""
        if self.origin_qb is None:
            self.origin_qb = 0
        start_rel_qb = max(round(self.end_beats * TICKS_PER_BEAT) - self.origin_qb, self.horizon_qb)
        target = start_rel_qb + max(0.0, beats) * TICKS_PER_BEAT
        self.horizon_qb = target
        out: list[Note] = []
        budget = int(64 * max(beats, 1)) + 4 * self.max_len
        while budget > 0:
            budget -= 1
            allowed = self._grammar()
            d, v = self.decoder, self.vocab
            if d.time_qb < start_rel_qb and (d.last < 0 or v.kind[d.last] != POSITION):
                # a rest up to the span: no more notes at an onset before it
                allowed &= self._is_bar | (self._is_position & (d.bar_qb + v.value >= start_rel_qb))
            tok = sample_token(self.next_logits(), allowed, temperature, top_p, self.rng)
            if self.vocab.kind[tok] in (BAR, POSITION) and self._token_time(tok) >= target:
                break
            note = self._append(tok)
            if note is not None:
                out.append(note)
        return sorted((self._absolute(n) for n in out), key=lambda n: (n.start, n.pitch))

    def harmonise(self, melody: list[Note], temperature: float = 1.0, top_p: float = 0.95,
                  candidates: int = 8) -> list[Note]:
        """Up to three voices under ``melody`` (absolute beats, at or after the context's
        latest onset): constrained decoding that forces the melody's notes (quantised) at
        their onsets and samples the other notes, each below the melody note sounding at
        its onset, at most three at an onset. Returns the ADDED notes only (absolute
        beats), ``voice`` 1..3 counted from the top among the added notes at one onset;
        the melody itself (and its velocities) stays with the caller. The melody and
        the added notes stay in the context for later calls.

        The tokens list an onset's pitches upwards, so the notes under a melody note are
        sampled before it. At each melody onset ``candidates`` sets of lower notes are
        sampled and one is kept with probability proportional to the model's
        probability of the melody pitch after it (the melody's notes steer the chords
        under them; ``candidates=1`` samples blind). Cost: about ``candidates`` times
        the tokens of an onset."""
        if not melody:
            return []
        rel = self._relative(melody)
        if self.notes and rel and rel[0].start * TICKS_PER_BEAT < self.decoder.time_qb:
            raise ValueError("the melody starts before the end of the context")
        by_onset: dict[int, list[int]] = {}
        dur: dict[tuple[int, int], float] = {}
        for n in rel:
            q = round(n.start * TICKS_PER_BEAT)
            by_onset.setdefault(q, []).append(n.pitch)
            dur[(q, n.pitch)] = n.duration
        onsets = sorted(by_onset)
        end_qb = max(round(n.end * TICKS_PER_BEAT) for n in rel)
        v, d = self.vocab, self.decoder
        dur_tok = {int(v.value[t]): int(t) for t in v.duration_ids}
        added: list[Note] = []
        k = 0                                  # next melody onset not yet emitted
        forced: list[int] = []
        budget = 64 * (end_qb - onsets[0] + BAR_QB) + 4 * self.max_len
        while budget > 0:
            budget -= 1
            if forced:
                tok = forced.pop(0)
                self.next_logits()             # keeps the cache and the no-cache path in step
                self._append(tok)
                continue
            allowed = self._grammar()
            now = d.time_qb
            kind = v.kind[d.last] if d.last >= 0 else -1
            next_onset = onsets[k] if k < len(onsets) else None
            if kind == POSITION and next_onset is not None and now == next_onset:
                pitches = sorted(by_onset[now])
                added += self._best_onset(pitches, [dur_tok[round(dur[(now, p)] * TICKS_PER_BEAT)]
                                                    for p in pitches], temperature, top_p, max(1, candidates))
                k += 1
                continue
            if kind in (BAR, DURATION) or d.last < 0 or kind not in (POSITION, PITCH):
                if next_onset is not None:
                    time_ok = self._time_tokens_upto(next_onset)
                    if k == 0:                 # jump straight to the melody's first onset
                        time_ok &= self._is_bar | (self._is_position & (d.bar_qb + v.value == next_onset))
                    allowed &= ~(self._is_bar | self._is_position) | time_ok
            if self._is_pitch.any() and (kind in (POSITION, DURATION)):
                here = self._notes_at(now)
                if next_onset is not None and now == next_onset:
                    low = min(by_onset[now])
                    n_lower = sum(1 for n in here if n.pitch < low)
                    cap = low if n_lower < MAX_LOWER_VOICES else -1
                    pitch_ok = self._is_pitch & (v.value < cap)
                    melody_tok = int(v.pitch_ids[low - 21])
                    allowed &= ~self._is_pitch | pitch_ok
                    allowed[melody_tok] = True
                    if kind == POSITION:       # something must sound at a melody onset
                        allowed &= self._is_pitch
                elif next_onset is not None and k == 0 and kind == DURATION:
                    allowed &= ~self._is_pitch     # nothing added before the melody begins
                else:
                    ceiling = self._melody_sounding(rel, now)
                    full = len(here) >= MAX_LOWER_VOICES
                    allowed &= ~self._is_pitch | (self._is_pitch & (v.value < ceiling) & (not full))
                    if kind == POSITION and not allowed.any():
                        allowed = self._is_pitch & (v.value < max(ceiling, 22))
            if not allowed.any():
                allowed = self._grammar()
            tok = sample_token(self.next_logits(), allowed, temperature, top_p, self.rng)
            if v.kind[tok] in (BAR, POSITION) and k >= len(onsets) and self._token_time(tok) >= end_qb:
                self.horizon_qb = max(self.horizon_qb, end_qb)
                break
            self._append(tok)
            if v.kind[tok] == PITCH and next_onset is not None and now == next_onset \
                    and int(v.value[tok]) == min(by_onset[now]):
                pitches = sorted(by_onset[now])
                forced = [dur_tok[round(dur[(now, pitches[0])] * TICKS_PER_BEAT)]]
                for p in pitches[1:]:
                    forced += [int(v.pitch_ids[p - 21]), dur_tok[round(dur[(now, p)] * TICKS_PER_BEAT)]]
                k += 1
            elif v.kind[tok] == DURATION:
                added.append(self.notes[-1])
        voiced = []
        for n in added:
            above = sum(1 for m in added if m.start == n.start and m.pitch > n.pitch)
            voiced.append(self._absolute(n, voice=min(1 + above, MAX_LOWER_VOICES)))
        return sorted(voiced, key=lambda n: (n.start, -n.pitch))

    def _snapshot(self) -> tuple:
        d = self.decoder
        return (len(self.tokens), len(self.notes), (d.bar_index, d.time_qb, d.pending_pitch, d.last),
                self.cache, list(self.cache.layers), self.cached, self.last_logits, self.window_start)

    def _restore(self, snap: tuple, tokens=(), notes=(), state=None) -> None:
        """Back to ``snap``, then (from a trial's ``state``) forward to its end."""
        from .model import KVCache

        n_tok, n_notes, dec, cache, layers, cached, last_logits, window_start = state or snap
        if state is not None:
            n_tok, n_notes = snap[0], snap[1]
        del self.tokens[n_tok:]
        self.tokens.extend(tokens)
        del self.notes[n_notes:]
        self.notes.extend(notes)
        d = self.decoder
        d.bar_index, d.time_qb, d.pending_pitch, d.last = dec
        self.cache = KVCache(list(layers))
        self.cached, self.last_logits, self.window_start = cached, last_logits, window_start

    def _onset_trial(self, pitches, durations, temperature, top_p) -> float:
        """From just after the Position of a melody onset: sample up to three notes under
        it, then append the melody's tokens. Returns ln P(lowest melody pitch | trial)."""
        v = self.vocab
        mtok = int(v.pitch_ids[pitches[0] - 21])
        last, n_lower = -1, 0
        while True:
            logits = self.next_logits()
            allowed = self._is_pitch & (v.value > last) & (v.value < pitches[0]) & (n_lower < MAX_LOWER_VOICES)
            allowed[mtok] = True
            tok = sample_token(logits, allowed, temperature, top_p, self.rng)
            if tok == mtok:
                z = logits.astype(np.float64)
                logp = float(z[mtok] - z.max() - np.log(np.exp(z - z.max()).sum()))
                break
            self._append(tok)
            last, n_lower = int(v.value[tok]), n_lower + 1
            self._append(sample_token(self.next_logits(), self._is_duration, temperature, top_p, self.rng))
        for i, p in enumerate(pitches):
            if i:
                self.next_logits()
            self._append(int(v.pitch_ids[p - 21]))
            self.next_logits()
            self._append(durations[i])
        return logp

    def _best_onset(self, pitches, durations, temperature, top_p, candidates) -> list[Note]:
        """Sample ``candidates`` trials at a melody onset, keep one (see ``harmonise``);
        returns its added notes (relative beats)."""
        snap = self._snapshot()
        trials = []
        for _ in range(candidates):
            logp = self._onset_trial(pitches, durations, temperature, top_p)
            trials.append((logp, self.tokens[snap[0]:], self.notes[snap[1]:], self._snapshot()))
            self._restore(snap)
        w = np.array([t[0] for t in trials])
        w = np.exp(w - w.max())
        pick = trials[int(self.rng.choice(len(trials), p=w / w.sum()))] if candidates > 1 else trials[0]
        self._restore(snap, pick[1], pick[2], pick[3])
        return [n for n in pick[2] if n.pitch not in pitches or n.pitch < pitches[0]]

    @staticmethod
    def _melody_sounding(rel: list[Note], now_qb: int) -> int:
        """Lowest melody pitch sounding at ``now_qb`` (else the latest melody pitch before
        it, else the first one)."""
        t = now_qb / TICKS_PER_BEAT
        sounding = [n.pitch for n in rel if n.start <= t < n.end]
        if sounding:
            return min(sounding)
        before = [n for n in rel if n.start <= t]
        return before[-1].pitch if before else rel[0].pitch
