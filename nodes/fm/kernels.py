"""numba kernels of the 6-operator FM synth (synth.fm).

One operator: ``y = level * sin(2 pi phase + m)``, phase in cycles advancing by
ratio * 2 ** (detune_cents / 1200) * f0 / sample_rate per sample (the first sample
already advanced, as DDSP's cumsum), m (radians) the sum of its modulators' outputs of
the same sample plus, on the algorithm's feedback operator, ``feedback`` times the mean
of the feedback source's two previous outputs (the DX7's anti-hunting average). A
carrier's output is heard; a modulator's output is a phase offset in radians, so a
modulator of level b at ratio r gives the carrier sidebands at f_c +- k r f0 with
amplitudes J_k(b).

Two drivers share :func:`operators_sample`:

- events (``events_block``): polyphonic voices allocated per note (a free voice, else
  the oldest releasing, else the oldest), a carrier ADSR and a modulator ADSR, velocity,
  pitch bend; events land on their exact samples.
- frames (``frames_block``): one voice from f0 frames (Hz) and per-operator level
  frames [6], on ddsp.harmonic's grid: output segment s (samples [s*hop, (s+1)*hop))
  glides linearly from frame s-2 to frame s-1 (latency hop).
"""
from __future__ import annotations

import math

import numpy as np
from neuropatch.engine.events import ALL_NOTES_OFF, CONTROL, NOTE_OFF, NOTE_ON, PITCH_BEND
from neuropatch.engine.jit import njit

from ..dsp.frame_queue import queue_pop, queue_slot
from ..dsp.voices import ATTACK, OFF, RELEASE, adsr_step, env_coef, pick_voice

N_OPS = 6
TWO_PI = 2.0 * math.pi
# per-voice state columns (float64 [voices, NV]); phases follow at PH
NOTE, VEL, CHAN, AGE, STAGE, ENV, MSTAGE, MENV, FB0, FB1, PH = range(11)
NV = PH + N_OPS
# frames driver state (float64 [FS]): f0 at the segment start, at its end, the held f0
F0_A, F0_B, F0_HELD = 0, 1, 2
SEG_POS, SEGMENTS = 0, 1


# ---- one sample of six operators ---------------------------------------------------------

@njit(cache=True, fastmath=False)
def operators_sample(alg, modulation, carriers, feedback_ops, inc, levels, phase, y, fb_hist, feedback):
    """One sample of the six operators of algorithm ``alg`` (0-based); returns the sum of
    the carriers.

    inc: [6] phase increments (cycles per sample); levels: [6] output levels (carriers:
    amplitude, modulators: radians); phase: [6] cycles (advanced in place); y: [6] the
    operators' outputs (written); fb_hist: [2] the feedback source's two previous outputs
    (updated); feedback: radians per unit of output.
    """
    fb_to = feedback_ops[alg, 0]
    out = 0.0
    for op in range(N_OPS - 1, -1, -1):
        m = 0.0
        for src in range(op + 1, N_OPS):
            if modulation[alg, op, src]:
                m += y[src]
        if op == fb_to:
            m += feedback * 0.5 * (fb_hist[0] + fb_hist[1])
        p = phase[op] + inc[op]
        p -= math.floor(p)
        phase[op] = p
        v = levels[op] * math.sin(TWO_PI * p + m)
        y[op] = v
        if carriers[alg, op]:
            out += v
    fb_hist[1] = fb_hist[0]
    fb_hist[0] = y[feedback_ops[alg, 1]]
    return out


# ---- events: polyphonic voices -----------------------------------------------------------

@njit(cache=True, fastmath=False)
def note_on(st, note, vel, chan, clock):
    """Start ``note`` on a free voice, else steal the oldest releasing voice, else the oldest."""
    pick = pick_voice(st, STAGE, AGE)
    if st[pick, STAGE] == OFF:       # a fresh voice starts from zero phases and envelopes
        for k in range(N_OPS):
            st[pick, PH + k] = 0.0
        st[pick, ENV] = 0.0
        st[pick, MENV] = 0.0
        st[pick, FB0] = 0.0
        st[pick, FB1] = 0.0
    st[pick, NOTE] = note
    st[pick, VEL] = vel / 127.0
    st[pick, CHAN] = chan
    st[pick, STAGE] = ATTACK
    st[pick, MSTAGE] = ATTACK
    st[pick, AGE] = clock


@njit(cache=True, fastmath=False)
def _release(st, v):
    st[v, STAGE] = RELEASE
    if st[v, MSTAGE] != OFF:
        st[v, MSTAGE] = RELEASE


@njit(cache=True, fastmath=False)
def events_block(out, n, ev_off, ev_type, ev_chan, ev_d1, ev_d2, ev_val, ev_count, st, bend, clock, sr, alg,
                 modulation, carriers, feedback_ops, ratios, level_params, feedback, env, mod_env, vel_to_index,
                 bend_range, gain, inc, levels, phase, y, fb_hist):
    """Render ``n`` samples of the polyphonic FM synth into out (float32 [n], overwritten).

    st: float64 [voices, NV] voice state; bend: float64 [16] semitones per channel; clock:
    note-on counter (voice age); ratios: [6] frequency multiples of the note (detune
    folded in); level_params: [6] operator levels; env, mod_env: [4] (attack ms, decay
    ms, sustain 0..1, release ms) of the carriers and of the modulators; vel_to_index:
    0..1, how much velocity scales the modulators; gain: linear. inc, levels, phase, y:
    [6] scratch; fb_hist [2] scratch. Returns the new clock.
    """
    a_c, d_c, r_c = env_coef(env[0], sr), env_coef(env[1], sr), env_coef(env[3], sr)
    ma_c, md_c, mr_c = env_coef(mod_env[0], sr), env_coef(mod_env[1], sr), env_coef(mod_env[3], sr)
    voices = st.shape[0]
    k = 0
    for i in range(n):
        while k < ev_count and ev_off[k] <= i:
            t = ev_type[k]
            ch = ev_chan[k] & 15
            if t == NOTE_ON and ev_d2[k] > 0:
                clock += 1.0
                note_on(st, ev_d1[k], ev_d2[k], ch, clock)
            elif t == NOTE_OFF or (t == NOTE_ON and ev_d2[k] == 0):
                for v in range(voices):
                    if st[v, NOTE] == ev_d1[k] and st[v, CHAN] == ch and st[v, STAGE] != OFF \
                            and st[v, STAGE] != RELEASE:
                        _release(st, v)
            elif t == PITCH_BEND:
                bend[ch] = ev_val[k] * bend_range
            elif t == CONTROL and (ev_d1[k] == ALL_NOTES_OFF or ev_d1[k] == 120):
                for v in range(voices):
                    if st[v, CHAN] == ch and st[v, STAGE] != OFF:
                        _release(st, v)
            k += 1
        acc = 0.0
        for v in range(voices):
            if st[v, STAGE] == OFF:
                continue
            e = adsr_step(st, v, STAGE, ENV, a_c, d_c, env[2], r_c)
            me = adsr_step(st, v, MSTAGE, MENV, ma_c, md_c, mod_env[2], mr_c)
            vel = st[v, VEL]
            mod_scale = me * (1.0 - vel_to_index + vel_to_index * vel)
            f0 = 440.0 * 2.0 ** ((st[v, NOTE] - 69.0 + bend[int(st[v, CHAN])]) / 12.0)
            for op in range(N_OPS):
                inc[op] = ratios[op] * f0 / sr
                phase[op] = st[v, PH + op]
                levels[op] = level_params[op] * (e * vel if carriers[alg, op] else mod_scale)
            fb_hist[0] = st[v, FB0]
            fb_hist[1] = st[v, FB1]
            acc += operators_sample(alg, modulation, carriers, feedback_ops, inc, levels, phase, y, fb_hist,
                                    feedback)
            for op in range(N_OPS):
                st[v, PH + op] = phase[op]
            st[v, FB0] = fb_hist[0]
            st[v, FB1] = fb_hist[1]
        out[i] = acc * gain
    return clock


# ---- frames: one voice from f0 and level frames -----------------------------------------

@njit(cache=True, fastmath=False)
def frames_block(f0_frames, level_frames, use_level_frames, count, out, n, hop, sr, alg, modulation, carriers,
                 feedback_ops, ratios, level_params, feedback, gain, ring, qstate, seg, fstate, lev_a, lev_b,
                 phase, y, fb_hist, inc, levels):
    """One block of the frame-driven FM voice into out (float32 [n], overwritten).

    f0_frames: float32 [max_frames, 1, 1] Hz (<= 0 holds the last positive f0);
    level_frames: float32 [max_frames, 1, 6] operator levels, read when
    ``use_level_frames`` (else every frame takes ``level_params`` [6]); ``count`` new
    frames. ring: float64 [cap, 7] queued (f0, levels); qstate int64 [3] (read, write,
    count); seg int64 [2]; fstate float64 [3]; lev_a, lev_b [6] levels at the segment's
    ends; phase [6], y [6], fb_hist [2], inc [6], levels [6] as in :func:`events_block`.
    """
    cap = ring.shape[0]
    for k in range(count):
        w = queue_slot(qstate, cap)
        ring[w, 0] = f0_frames[k, 0, 0]
        for op in range(N_OPS):
            ring[w, 1 + op] = level_frames[k, 0, op] if use_level_frames else level_params[op]
    inv_hop = 1.0 / hop
    for i in range(n):
        pos = seg[SEG_POS]
        if pos == 0:
            if seg[SEGMENTS] >= 1:
                for op in range(N_OPS):
                    lev_a[op] = lev_b[op]
                fstate[F0_A] = fstate[F0_B]
                r = queue_pop(qstate, cap)
                if r >= 0:
                    if ring[r, 0] > 0.0:
                        fstate[F0_HELD] = ring[r, 0]
                    for op in range(N_OPS):
                        lev_b[op] = ring[r, 1 + op]
                fstate[F0_B] = fstate[F0_HELD]
            seg[SEGMENTS] += 1
        a = pos * inv_hop
        f0 = fstate[F0_A] + (fstate[F0_B] - fstate[F0_A]) * a
        for op in range(N_OPS):
            inc[op] = ratios[op] * f0 / sr
            levels[op] = lev_a[op] + (lev_b[op] - lev_a[op]) * a
        out[i] = gain * operators_sample(alg, modulation, carriers, feedback_ops, inc, levels, phase, y, fb_hist,
                                         feedback)
        seg[SEG_POS] = (pos + 1) % hop


@njit(cache=True, fastmath=False)
def frames_render(f0_frames, level_frames, hop, sr, alg, modulation, carriers, feedback_ops, ratios, feedback, out):
    """Whole-signal reference of the frame path: f0 [F] Hz, levels [F, 6], frame j at sample
    j * hop, linear glides between frames, samples after the last frame hold it;
    out float64 [n] overwritten (the torch synth's grid, no latency)."""
    phase = np.zeros(N_OPS)
    y = np.zeros(N_OPS)
    fb_hist = np.zeros(2)
    inc = np.zeros(N_OPS)
    levels = np.zeros(N_OPS)
    last = f0_frames.shape[0] - 1
    for t in range(out.shape[0]):
        j = t // hop
        a_i, b_i = min(j, last), min(j + 1, last)
        a = (t % hop) / hop
        f0 = f0_frames[a_i] + (f0_frames[b_i] - f0_frames[a_i]) * a
        for op in range(N_OPS):
            inc[op] = ratios[op] * f0 / sr
            levels[op] = level_frames[a_i, op] + (level_frames[b_i, op] - level_frames[a_i, op]) * a
        out[t] = operators_sample(alg, modulation, carriers, feedback_ops, inc, levels, phase, y, fb_hist, feedback)
