"""The ``gen.transformer`` node's worker side: one chunk of events in, one chunk out.

Times are the lane's input clock (samples since the transport started): the events of
input chunk k cover [k*chunk, (k+1)*chunk), and the notes this model emits for chunk k are
the ones whose time falls in that same span; the lane plays them ``buffer_latency``
samples later, which the node reports as its latency. So a melody note and the harmony
generated for it leave together, and an answer can start on the bar the call ended on.

Per chunk the header row of the input carries the node's params (see ``HEADER``); a change
of mode or seed takes effect at the next bar line. Generation runs ahead of the chunks by
``AHEAD_BARS`` bars, a beat at a time, so no chunk carries a whole bar's work.
"""
from __future__ import annotations

import bisect
import math
from pathlib import Path

import numpy as np

from neuropatch.engine.events import CONTROL, NOTE_OFF, NOTE_ON

MODES = ("free", "continue", "call_response", "harmonise")
# header row: [count, mode index, temperature, top_p, seed, bars, tempo bpm]
HEADER = ("count", "mode", "temperature", "top_p", "seed", "bars", "tempo")
AHEAD_BARS = 1
HARMONY_CANDIDATES = 3   # lower-voice sets tried per melody note (fewer: faster, live)
BEATS_PER_BAR = 4


class TransformerChunkModel:
    """Chunk model for the inference lane (see :mod:`neuropatch.engine.lane`)."""

    def __init__(self, config: dict):
        from .generator import NoteGenerator

        self.sr = int(config["sample_rate"])
        self.chunk = int(config["chunk"])
        self.gen = NoteGenerator(Path(config["weights"]), threads=int(config.get("threads", 1)))
        self.reset()

    def describe(self) -> dict:
        return {"max_len": int(self.gen.max_len)}

    def reset(self) -> None:
        self.k = 0                 # chunk index
        self.params = None         # (mode, temperature, top_p, seed, bars, tempo) in force
        self.pending_params = None
        self.pending = []          # (time, type, channel, note, velocity) not yet emitted, sorted
        self.sounding = set()      # (channel, note) of emitted note-ons not yet released
        self.held = {}             # user notes held: pitch -> (start time, velocity)
        self.played = []           # user notes finished: (start time, pitch, end time, velocity)
        self.epoch = 0             # sample time generation is anchored at (a bar line)
        self.phase_end = None      # call_response: end of the current listen/answer phase
        self.listening = True
        self._voices = {}          # harmonise: (channel, pitch) -> the melody pitch it sounds under

    # ---- timing helpers --------------------------------------------------------------------

    def spb(self) -> float:
        return 60.0 * self.sr / self.params[5]

    def bar(self) -> float:
        return BEATS_PER_BAR * self.spb()

    def next_bar(self, t: float) -> int:
        b = self.bar()
        return int(math.ceil((t - self.epoch) / b - 1e-9) * b + self.epoch)

    # ---- the chunk ------------------------------------------------------------------------

    def process(self, inputs: dict, outputs: dict) -> None:
        rows, out = inputs["in"], outputs["out"]
        lo, hi = self.k * self.chunk, (self.k + 1) * self.chunk
        params = (int(rows[0, 1]), float(rows[0, 2]), float(rows[0, 3]), int(rows[0, 4]),
                  max(1, int(rows[0, 5])), float(rows[0, 6]) or 120.0)
        if self.params is None:
            self.params = params
            self._start_epoch(lo)
        elif params != self.params and params != self.pending_params:
            self.pending_params = params
        # a change waits for the next bar line inside this chunk
        if self.pending_params is not None:
            b = self.next_bar(lo)
            if b < hi:
                self._change(self.pending_params, b)
                self.pending_params = None
        for j in range(int(rows[0, 0])):
            r = rows[1 + j]
            self._user_event(lo + int(r[0]), int(r[1]), int(r[3]), int(r[4]))
        mode = MODES[self.params[0]]
        if mode in ("free", "continue"):
            # the lead grows chunk by chunk up to AHEAD_BARS: the first chunks stay cheap
            self._generate_until(hi + min(AHEAD_BARS * self.bar(), self.k * self.chunk))
        elif mode == "call_response":
            self._call_response(lo, hi)
        self._emit(out, lo, hi)
        self.k += 1

    def _start_epoch(self, t: int) -> None:
        """Start generating afresh at bar line `t` (reseed, context cleared)."""
        self.gen.reset(self.params[3])
        self.epoch = t
        self.phase_end = None
        self.listening = True

    def _change(self, params, at: int) -> None:
        old = self.params
        self.params = params
        if params[3] != old[3] or params[0] != old[0] or params[5] != old[5]:
            # new seed, mode or tempo: drop what was planned from the bar line on and restart
            self.pending = [e for e in self.pending if e[0] < at or e[1] == NOTE_OFF]
            self._release_all(at)
            self._start_epoch(at)

    def _release_all(self, at: int) -> None:
        for ch, note in list(self.sounding):
            self._schedule(at, NOTE_OFF, ch, note, 0)

    # ---- what the user plays ------------------------------------------------------------

    def _user_event(self, t: int, typ: int, note: int, vel: int) -> None:
        if typ == NOTE_ON and vel > 0:
            self.held[note] = (t, vel)
            if MODES[self.params[0]] == "harmonise":
                self._harmonise(t, note, vel)
        elif typ == NOTE_OFF or (typ == NOTE_ON and vel == 0):
            start = self.held.pop(note, None)
            if start is not None:
                self.played.append((start[0], note, t, start[1]))
                if MODES[self.params[0]] == "harmonise":
                    for (ch, n), melody in list(self._voices.items()):
                        if melody == note:
                            self._schedule(t, NOTE_OFF, ch, n, 0)
                            del self._voices[(ch, n)]
        elif typ == CONTROL and note in (120, 123):
            self.held.clear()

    def _user_notes(self, since: int, until: int) -> list:
        from .tokens import Note

        spb = self.spb()
        return [Note(p, (s - self.epoch) / spb, max((e - s) / spb, 0.25), v)
                for s, p, e, v in self.played if since <= s < until]

    # ---- modes ----------------------------------------------------------------------------

    def _generate_until(self, t_end: float) -> None:
        """free / continue: sample tokens until the stream's time passes `t_end` (a time
        token past it is kept, so the next chunk goes on from there)."""
        spb = self.spb()
        if MODES[self.params[0]] == "continue":
            fresh = [n for n in self.played if n[0] >= self.epoch]
            if fresh:   # what the user played becomes context for what follows
                self.gen.prime(self._user_notes(self.epoch, 1 << 62))
                self.played = []
        budget = 4096
        while self.epoch + self._stream_beats() * spb < t_end and budget:
            budget -= 1
            note = self.gen.append(self.gen.sample(self.params[1], self.params[2]))
            if note is not None:
                self._schedule_note(self.epoch + note.start * spb, note.duration * spb, note.pitch,
                                    note.velocity, 0)

    def _stream_beats(self) -> float:
        """Beats (from the epoch) of the generator's current position in its token stream."""
        from .tokens import TICKS_PER_BEAT

        return (self.gen.decoder.time_qb + (self.gen.origin_qb or 0)) / TICKS_PER_BEAT

    def _call_response(self, lo: int, hi: int) -> None:
        """Listen `bars` bars from the bar of the first note played, then answer as many bars
        (the model continues the call; the part after the call is played), and so on."""
        bars = self.params[4]
        span = bars * self.bar()
        if self.phase_end is None:
            first = min([s for s, *_ in self.played] + [s for s, _ in self.held.values()], default=None)
            if first is None:
                return
            start = self.epoch + math.floor((first - self.epoch) / self.bar()) * self.bar()
            self.phase_end = start + span
            self.listening = True
        spb = self.spb()
        while self.phase_end < hi:
            if self.listening:
                call = self._user_notes(self.phase_end - span, self.phase_end)
                self.gen.reset(self.params[3])
                if call:
                    self.gen.prime(call)
                need = (self.phase_end + span - self.epoch) / spb - self.gen.end_beats
                for n in self.gen.continue_notes(need, self.params[1], self.params[2]):
                    t = self.epoch + n.start * spb
                    if self.phase_end <= t < self.phase_end + span:
                        self._schedule_note(t, n.duration * spb, n.pitch, n.velocity, 0)
                self.played = [n for n in self.played if n[0] >= self.phase_end]
            self.listening = not self.listening
            self.phase_end += span

    def _harmonise(self, t: int, note: int, vel: int) -> None:
        from .tokens import Note

        spb = self.spb()
        beat = (t - self.epoch) / spb
        if self.gen.notes and beat * 1.0 < self.gen.end_beats:
            self.gen.reset(self.params[3])     # the melody jumped back in time (a new phrase)
        try:
            added = self.gen.harmonise([Note(note, beat, 1.0, vel)], self.params[1], self.params[2],
                                       candidates=HARMONY_CANDIDATES)
        except ValueError:
            self.gen.reset(self.params[3])
            added = self.gen.harmonise([Note(note, beat, 1.0, vel)], self.params[1], self.params[2],
                                       candidates=HARMONY_CANDIDATES)
        for n in added:
            if abs(n.start - beat) > 1.0 / 8:  # a voice moving later under a note not yet released
                continue
            self._schedule(t, NOTE_ON, n.voice, n.pitch, vel)
            self._voices[(n.voice, n.pitch)] = note

    # ---- output ---------------------------------------------------------------------------

    def _schedule_note(self, t: float, dur: float, pitch: int, vel: int, channel: int) -> None:
        on = int(round(t))
        off = max(on + 1, int(round(t + dur)))
        self._schedule(on, NOTE_ON, channel, pitch, vel)
        self._schedule(off, NOTE_OFF, channel, pitch, 0)

    def _schedule(self, t: int, typ: int, ch: int, note: int, vel: int) -> None:
        # in time order; at one time note-offs first (a repeated note is released, then struck)
        bisect.insort(self.pending, (int(t), typ, ch, note, vel), key=lambda e: (e[0], e[1] != NOTE_OFF))

    def _emit(self, out: np.ndarray, lo: int, hi: int) -> None:
        cap = out.shape[0] - 1
        count = 0
        keep = []
        for e in self.pending:
            t = e[0]
            if t < lo:
                continue            # its time passed (planned too late): skipped
            if t >= hi:
                keep.append(e)
                continue
            if count >= cap:
                keep.append((hi, *e[1:]))   # no room: next chunk, as early as possible
                continue
            r = out[1 + count]
            r[0], r[1], r[2], r[3], r[4], r[5] = t - lo, e[1], e[2], e[3], e[4], 0.0
            count += 1
            if e[1] == NOTE_ON:
                self.sounding.add((e[2], e[3]))
            else:
                self.sounding.discard((e[2], e[3]))
        out[0, 0] = count
        self.pending = keep
