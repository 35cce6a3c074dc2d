"""``synth.poly``: a polyphonic subtractive synth played by an events stream.

Per voice: a band-limited oscillator (PolyBLEP saw and square, sine, triangle), a
zero-delay-feedback state-variable low-pass filter (Zavalishin's TPT form) whose cutoff
follows a filter envelope, and an ADSR amplitude envelope scaled by velocity. Voices are
allocated per note; when all are busy the oldest releasing voice, else the oldest voice, is
stolen. Pitch bend moves every voice of its channel by up to ``bend_range`` semitones.

The kernel renders sample by sample between event offsets, so the output does not depend
on the block size (events land on their exact samples).
"""
from __future__ import annotations

import math

import numpy as np

from neuropatch.engine import Node, Param, Port
from neuropatch.engine.events import ALL_NOTES_OFF, CONTROL, NOTE_OFF, NOTE_ON, PITCH_BEND
from neuropatch.engine.jit import njit

from .dsp.voices import ATTACK, OFF, RELEASE, adsr_step, env_coef, pick_voice
from .generators import blep_saw, blep_square

WAVES = ("saw", "square", "triangle", "sine")
# per-voice state columns (float64 [voices, NV])
NOTE, VEL, PHASE, STAGE, ENV, AGE, IC1, IC2, CHAN, TRI = range(10)
NV = 10


@njit(cache=True, fastmath=False)
def _voice_sample(v, st, sr, wave, bend, cutoff, res_k, env_amt, a_c, d_c, s_lvl, r_c):
    """Advance voice `v` one sample; returns its output."""
    env = adsr_step(st, v, STAGE, ENV, a_c, d_c, s_lvl, r_c)
    if st[v, STAGE] == OFF:
        return 0.0
    freq = 440.0 * 2.0 ** ((st[v, NOTE] - 69.0 + bend[int(st[v, CHAN])]) / 12.0)
    dt = min(freq / sr, 0.49)
    ph = st[v, PHASE]
    if wave == 0:
        x = blep_saw(ph, dt)
    elif wave == 1 or wave == 2:
        x = blep_square(ph, dt)
        if wave == 2:   # triangle: the band-limited square, integrated (leaky) and scaled
            tri = st[v, TRI] * (1.0 - 0.5 * dt) + 4.0 * dt * x
            st[v, TRI] = tri
            x = tri
    else:
        x = math.sin(2.0 * math.pi * ph)
    ph += dt
    if ph >= 1.0:
        ph -= 1.0
    st[v, PHASE] = ph
    # filter: cutoff moves with the envelope by env_amt octaves
    fc = min(cutoff * 2.0 ** (env_amt * env), 0.45 * sr)
    g = math.tan(math.pi * fc / sr)
    a1 = 1.0 / (1.0 + g * (g + res_k))
    a2 = g * a1
    a3 = g * a2
    ic1, ic2 = st[v, IC1], st[v, IC2]
    v3 = x - ic2
    v1 = a1 * ic1 + a2 * v3
    v2 = ic2 + a2 * ic1 + a3 * v3
    st[v, IC1] = 2.0 * v1 - ic1
    st[v, IC2] = 2.0 * v2 - ic2
    return v2 * env * st[v, VEL]


@njit(cache=True, fastmath=False)
def _note_on(st, note, vel, chan, clock):
    pick = pick_voice(st, STAGE, AGE)
    if st[pick, STAGE] == OFF:       # a fresh voice starts from a clean oscillator and filter
        st[pick, PHASE] = 0.0
        st[pick, IC1] = 0.0
        st[pick, IC2] = 0.0
        st[pick, TRI] = 0.0
        st[pick, ENV] = 0.0
    st[pick, NOTE] = note
    st[pick, VEL] = vel / 127.0
    st[pick, CHAN] = chan
    st[pick, STAGE] = ATTACK
    st[pick, AGE] = clock


@njit(cache=True, fastmath=False)
def synth_kernel(out, n, ev_off, ev_type, ev_chan, ev_d1, ev_d2, ev_val, ev_count, st, bend, clock,
                 sr, wave, cutoff, resonance, env_amt, attack_ms, decay_ms, sustain, release_ms,
                 bend_range, gain):
    """Render `n` samples into out [n] float32, applying events at their offsets.

    st: float64 [voices, NV] voice state; bend: float64 [16] semitones per channel;
    clock: note-on counter (voice age). Returns the new clock.
    """
    a_c = env_coef(attack_ms, sr)
    d_c = env_coef(decay_ms, sr)
    r_c = env_coef(release_ms, sr)
    res_k = 2.0 - 1.96 * resonance    # damping 2 (none) .. 0.04 (near self-oscillation)
    voices = st.shape[0]
    k = 0
    for i in range(n):
        while k < ev_count and ev_off[k] <= i:
            t = ev_type[k]
            ch = ev_chan[k] & 15
            if t == NOTE_ON and ev_d2[k] > 0:
                clock += 1.0
                _note_on(st, ev_d1[k], ev_d2[k], ch, clock)
            elif t == NOTE_OFF or (t == NOTE_ON and ev_d2[k] == 0):
                for v in range(voices):
                    if st[v, NOTE] == ev_d1[k] and st[v, CHAN] == ch and st[v, STAGE] != OFF \
                            and st[v, STAGE] != RELEASE:
                        st[v, STAGE] = RELEASE
            elif t == PITCH_BEND:
                bend[ch] = ev_val[k] * bend_range
            elif t == CONTROL and (ev_d1[k] == ALL_NOTES_OFF or ev_d1[k] == 120):
                for v in range(voices):
                    if st[v, CHAN] == ch and st[v, STAGE] != OFF:
                        st[v, STAGE] = RELEASE
            k += 1
        acc = 0.0
        for v in range(voices):
            if st[v, STAGE] != OFF:
                acc += _voice_sample(v, st, sr, wave, bend, cutoff, res_k, env_amt, a_c, d_c,
                                     sustain, r_c)
        out[i] = acc * gain
    return clock


class PolySynth(Node):
    type_id = "synth.poly"
    title = "Poly Synth"
    category = "synth"
    doc = ("Polyphonic synth played by events: band-limited oscillator (saw, square, triangle, "
           "sine), resonant low-pass filter with its own envelope amount, ADSR, velocity, pitch "
           "bend, voice stealing (oldest releasing voice first). Mono audio out.")
    inputs = [Port("events", "events", doc="notes, pitch bend, all-notes-off")]
    outputs = [Port("out", "audio", 1)]
    params = [
        Param("voices", 1, 32, 8, int, structural=True, doc="voices (notes sounding at once)"),
        Param.choice("wave", WAVES, "saw"),
        Param("cutoff_hz", 20.0, 20000.0, 1200.0, unit="Hz", log=True, doc="filter cutoff at envelope 0",
              primary=True),
        Param("resonance", 0.0, 1.0, 0.2, primary=True),
        Param("filter_env_oct", 0.0, 8.0, 2.5, unit="oct", doc="cutoff rise at full envelope"),
        Param("attack_ms", 0.5, 5000.0, 5.0, unit="ms", log=True),
        Param("decay_ms", 1.0, 10000.0, 300.0, unit="ms", log=True),
        Param("sustain", 0.0, 1.0, 0.6),
        Param("release_ms", 1.0, 10000.0, 250.0, unit="ms", log=True),
        Param("bend_range", 0.0, 24.0, 2.0, unit="st"),
        Param("gain_db", -60.0, 12.0, -12.0, unit="dB"),
    ]

    def prepare(self, ctx):
        self.sr = float(ctx.sample_rate)
        self._state = np.zeros((int(self.param_values["voices"]), NV), np.float64)
        self._bend = np.zeros(16, np.float64)
        self._clock = 0.0

    def reset(self):
        super().reset()
        self._state[:] = 0.0
        self._bend[:] = 0.0
        self._clock = 0.0

    def process(self, ins, outs, n):
        ev = ins["events"]
        p = self.param_values
        self._clock = synth_kernel(
            outs["out"][0], n, ev.offset, ev.type, ev.channel, ev.data1, ev.data2, ev.value, ev.count,
            self._state, self._bend, self._clock, self.sr, WAVES.index(p["wave"]), p["cutoff_hz"],
            p["resonance"], p["filter_env_oct"], p["attack_ms"], p["decay_ms"], p["sustain"],
            p["release_ms"], p["bend_range"], 10.0 ** (p["gain_db"] / 20.0))


NODE_CLASSES = [PolySynth]
