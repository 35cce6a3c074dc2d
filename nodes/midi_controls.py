"""``midi.to_controls``: notes -> the f0 and loudness frames a DDSP instrument is played by.

Monophonic, last-note priority: f0 glides (in pitch, over ``glide_ms``) to each new note,
takes pitch bend, and gets a delayed vibrato; loudness follows an ADSR from ``floor_db`` up
to a level set by velocity. Between notes f0 holds the last pitch (a DDSP decoder wants a
continuous f0) while loudness falls to the floor.

Frame k covers samples [k*hop, (k+1)*hop) and is emitted in the block that holds sample
(k+1)*hop - 1, with the controls at that sample, so the output does not depend on the
block size.
"""
from __future__ import annotations

import math

import numpy as np

from neuropatch.engine import Node, Param, Port, StreamSpec
from neuropatch.engine.events import CONTROL, NOTE_OFF, NOTE_ON, PITCH_BEND

MAX_HELD = 16


class MidiToControls(Node):
    type_id = "midi.to_controls"
    title = "MIDI to Controls"
    category = "midi"
    doc = ("Notes -> f0 (Hz) and loudness (dB) frames for a DDSP instrument: last-note "
           "priority, glide, pitch bend, delayed vibrato, an ADSR on loudness scaled by velocity.")
    inputs = [Port("events", "events")]
    outputs = [Port("f0", "frames"), Port("loudness", "frames")]
    params = [
        Param("hop", 16, 4096, 256, int, unit="samples", structural=True, doc="frame hop"),
        Param("glide_ms", 0.0, 2000.0, 40.0, unit="ms"),
        Param("vibrato_hz", 0.0, 12.0, 5.5, unit="Hz"),
        Param("vibrato_cents", 0.0, 200.0, 20.0, unit="cents"),
        Param("vibrato_delay_ms", 0.0, 3000.0, 300.0, unit="ms"),
        Param("attack_ms", 1.0, 5000.0, 60.0, unit="ms", log=True),
        Param("decay_ms", 1.0, 10000.0, 400.0, unit="ms", log=True),
        Param("sustain_db", -40.0, 0.0, -6.0, unit="dB", doc="sustain level below the peak"),
        Param("release_ms", 1.0, 10000.0, 250.0, unit="ms", log=True),
        Param("peak_db", -60.0, 0.0, -12.0, unit="dB", doc="loudness of a velocity-127 note"),
        Param("floor_db", -120.0, -20.0, -80.0, unit="dB", doc="loudness of silence"),
        Param("bend_range", 0.0, 24.0, 2.0, unit="st"),
    ]

    def prepare(self, ctx):
        self.sr = float(ctx.sample_rate)
        self.hop = int(self.param_values["hop"])
        for name in ("f0", "loudness"):
            ctx.out_specs[name] = StreamSpec("frames", channels=1, bins=1, hop=self.hop)
        self._held = np.zeros(MAX_HELD, np.int32)       # notes held, oldest first
        self.reset()

    def reset(self):
        super().reset()
        self._n_held = 0
        self._pos = 0                 # samples seen
        self._pitch = 69.0            # current (gliding) pitch, semitones
        self._target = 69.0
        self._bend = 0.0
        self._env = 0.0               # 0..1 amplitude envelope
        self._stage = 0               # 0 idle, 1 attack, 2 decay/sustain, 4 release
        self._vel = 1.0
        self._note_age = 0.0          # seconds since the current note started (vibrato delay)

    def _on_event(self, typ, d1, d2, value):
        if typ == NOTE_ON and d2 > 0:
            if self._n_held == MAX_HELD:     # forget the oldest
                for i in range(MAX_HELD - 1):   # in place: nothing allocated on the audio path
                    self._held[i] = self._held[i + 1]
                self._n_held -= 1
            self._held[self._n_held] = d1
            self._n_held += 1
            legato = self._stage in (1, 2)
            self._target = float(d1)
            if not legato and self._env <= 1e-4:
                self._pitch = float(d1)     # from silence: no glide
            self._vel = d2 / 127.0
            self._stage = 1
            self._note_age = 0.0
        elif typ == NOTE_OFF or (typ == NOTE_ON and d2 == 0):
            k = 0
            for i in range(self._n_held):
                if self._held[i] != d1:
                    self._held[k] = self._held[i]
                    k += 1
            self._n_held = k
            if k:                           # back to the previous held note
                self._target = float(self._held[k - 1])
            elif self._stage:
                self._stage = 4
        elif typ == PITCH_BEND:
            self._bend = float(value) * self.param_values["bend_range"]
        elif typ == CONTROL and d1 in (120, 123):
            self._n_held = 0
            if self._stage:
                self._stage = 4

    def _advance(self, samples: int) -> None:
        """Move glide, envelope and vibrato age forward by `samples`."""
        if samples <= 0:
            return
        p = self.param_values
        dt = samples / self.sr
        glide = p["glide_ms"] * 1e-3
        if glide <= 0:
            self._pitch = self._target
        else:
            self._pitch = self._target + (self._pitch - self._target) * math.exp(-5.0 * dt / glide)
        sustain = 10.0 ** (p["sustain_db"] / 20.0)
        stage, env = self._stage, self._env
        left = dt
        while left > 0.0 and stage:   # stage changes at their exact time: block-size invariant
            if stage == 1:
                attack = p["attack_ms"] * 1e-3
                need = (1.0 - env) * attack
                if left < need:
                    env += left / attack
                    left = 0.0
                else:
                    env, stage, left = 1.0, 2, left - need
            elif stage == 2:          # decay towards the sustain level (and stays there)
                env = sustain + (env - sustain) * math.exp(-5.0 * left / (p["decay_ms"] * 1e-3))
                left = 0.0
            else:                     # release down to silence
                tau = p["release_ms"] * 1e-3 / 5.0
                need = tau * math.log(env / 1e-4) if env > 1e-4 else 0.0
                if left < need:
                    env *= math.exp(-left / tau)
                    left = 0.0
                else:
                    env, stage, left = 0.0, 0, 0.0
        self._stage, self._env = stage, env
        self._note_age += dt

    def _controls(self) -> tuple[float, float]:
        p = self.param_values
        vib = 0.0
        if p["vibrato_cents"] > 0 and self._note_age > p["vibrato_delay_ms"] * 1e-3:
            t = self._note_age - p["vibrato_delay_ms"] * 1e-3
            vib = p["vibrato_cents"] / 100.0 * math.sin(2.0 * math.pi * p["vibrato_hz"] * t) * min(1.0, t / 0.3)
        f0 = 440.0 * 2.0 ** ((self._pitch + self._bend + vib - 69.0) / 12.0)
        level = self._env * self._vel
        floor = p["floor_db"]
        loud = floor if level <= 1e-6 else max(floor, p["peak_db"] + 20.0 * math.log10(level))
        return f0, loud

    def process(self, ins, outs, n):
        ev = ins["events"]
        f0, loud = outs["f0"], outs["loudness"]
        hop = self.hop
        count = 0
        k = 0
        at = 0                               # samples of this block already advanced
        end_frame = (self._pos // hop + 1) * hop - 1 - self._pos   # offset of the next frame's last sample
        while end_frame < n:
            while k < ev.count and ev.offset[k] <= end_frame:
                self._advance(int(ev.offset[k]) - at)
                at = int(ev.offset[k])
                self._on_event(int(ev.type[k]), int(ev.data1[k]), int(ev.data2[k]), float(ev.value[k]))
                k += 1
            self._advance(end_frame - at)
            at = end_frame
            f, l = self._controls()
            f0.data[count, 0, 0] = f
            loud.data[count, 0, 0] = l
            count += 1
            end_frame += hop
        while k < ev.count:
            self._advance(int(ev.offset[k]) - at)
            at = int(ev.offset[k])
            self._on_event(int(ev.type[k]), int(ev.data1[k]), int(ev.data2[k]), float(ev.value[k]))
            k += 1
        self._advance(n - at)
        f0.count = loud.count = count
        self._pos += n


NODE_CLASSES = [MidiToControls]
