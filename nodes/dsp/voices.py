"""Polyphonic voice bookkeeping shared by the event-driven synths (synth.poly, synth.fm).

A synth keeps its voices in a float64 [voices, columns] state array; these kernels read and
write the columns a synth names for them (the envelope's stage and level, the voice's age),
so each synth lays out the rest of its state as it needs.

Envelope: a one-pole ADSR. Attack aims past 1 (at 1.02) so it ends in finite time, decay
and release approach their targets exponentially; :func:`env_coef` turns a time in ms into
the per-sample coefficient that covers ~99.3 % of a step in that time (5 time constants).
"""
from __future__ import annotations

import math

from neuropatch.engine.jit import njit

#: envelope stages (stored as floats in the state array)
OFF, ATTACK, DECAY, SUSTAIN, RELEASE = 0, 1, 2, 3, 4
#: envelope level below which a releasing voice is free
SILENT = 1e-5


@njit(cache=True, fastmath=False)
def env_coef(ms, sr):
    """One-pole coefficient reaching ~99.3% of a step in ``ms`` milliseconds (5 time constants)."""
    n = max(ms * 1e-3 * sr, 1.0)
    return 1.0 - math.exp(-5.0 / n)


@njit(cache=True, fastmath=False)
def adsr_step(st, v, stage_col, env_col, a_c, d_c, sustain, r_c):
    """Advance the ADSR in columns (stage_col, env_col) of voice ``v`` one sample; returns the level."""
    stage = st[v, stage_col]
    env = st[v, env_col]
    if stage == ATTACK:
        env += (1.02 - env) * a_c       # aims past 1 so the attack ends in finite time
        if env >= 1.0:
            env = 1.0
            stage = DECAY
    elif stage == DECAY:
        env += (sustain - env) * d_c
        if abs(env - sustain) < 1e-4:
            env = sustain
            stage = SUSTAIN
    elif stage == SUSTAIN:
        env = sustain
    elif stage == RELEASE:
        env -= env * r_c
        if env < SILENT:
            env = 0.0
            stage = OFF
    st[v, stage_col] = stage
    st[v, env_col] = env
    return env


@njit(cache=True, fastmath=False)
def pick_voice(st, stage_col, age_col):
    """The voice for a new note: a free one (stage OFF), else the oldest releasing voice,
    else the oldest voice (smallest age, the note-on clock when it started)."""
    voices = st.shape[0]
    for v in range(voices):
        if st[v, stage_col] == OFF:
            return v
    pick = -1
    best = 1e300
    for v in range(voices):
        if st[v, stage_col] == RELEASE and st[v, age_col] < best:
            best = st[v, age_col]
            pick = v
    if pick < 0:
        for v in range(voices):
            if st[v, age_col] < best:
                best = st[v, age_col]
                pick = v
    return pick
