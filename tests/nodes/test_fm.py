"""synth.fm: operators against numpy sines and Bessel sidebands, feedback, the 32 algorithms,
block-size invariance, events and frames driving."""
import numpy as np
import pytest
from scipy.special import jv

from neuropatch.engine.events import PITCH_BEND, note_off, note_on
from neuropatch.engine.testing import FramesIn, run_node
from neuropatch.nodes.fm.algorithms import ALGORITHMS, CARRIERS, FEEDBACK, MODULATION, carriers
from neuropatch.nodes.fm.kernels import frames_render
from neuropatch.nodes.fm.node import FMSynth

SR = 48000
HOP = 256


def synth(**params):
    node = FMSynth()
    base = {f"level_{k}": 0.0 for k in range(1, 7)}
    base.update(attack_ms=0.5, sustain=1.0, mod_attack_ms=0.5, mod_sustain=1.0, velocity_to_index=0.0,
                gain_db=0.0)
    base.update(params)
    for k, v in base.items():
        node.set_param(k, v)
    return node


def play(node, events, n_samples, block_size=256):
    return run_node(node, {"events": events}, SR, block_size, n_samples=n_samples)["out"][0].astype(np.float64)


def partial_amplitudes(x, freqs, start):
    """Least-squares amplitudes of sinusoids at ``freqs`` (Hz) in x[start:] (exact for any frequency)."""
    t = (np.arange(start, len(x))) / SR
    cols = [f(2 * np.pi * fr * t) for fr in freqs for f in (np.cos, np.sin)]
    coef, *_ = np.linalg.lstsq(np.stack(cols, axis=1), x[start:], rcond=None)
    return np.hypot(coef[0::2], coef[1::2])


class TestOperators:
    def test_a_lone_carrier_is_a_sine_at_its_ratio_times_f0_with_its_level(self):
        y = play(synth(algorithm=32, ratio_1=2.0, level_1=0.6), [note_on(0, 69, 127)], 4800)
        i = np.arange(4800)
        oracle = 0.6 * np.sin(2 * np.pi * 880.0 * (i + 1) / SR)   # the first sample already advanced
        np.testing.assert_allclose(y[200:], oracle[200:], atol=2e-5)

    def test_a_modulator_gives_bessel_sideband_amplitudes(self):
        beta = 1.5
        y = play(synth(algorithm=1, ratio_1=8.0, ratio_2=1.0, level_1=1.0, level_2=beta), [note_on(0, 57, 127)],
                 24000)
        ks = np.arange(-6, 7)
        amps = partial_amplitudes(y, 220.0 * (8 + ks), 1000)
        np.testing.assert_allclose(amps, np.abs(jv(ks, beta)), atol=2e-4)

    def test_feedback_turns_a_sine_towards_a_sawtooth(self):
        def harmonics(fb):
            y = play(synth(algorithm=32, level_6=1.0, ratio_6=1.0, feedback=fb), [note_on(0, 57, 127)], 24000)
            h = partial_amplitudes(y, 220.0 * np.arange(1, 7), 2000)
            return h / h[0]

        saw = 1.0 / np.arange(1, 7)
        plain, some, more = harmonics(0.0), harmonics(0.8), harmonics(1.5)
        assert np.all(plain[1:] < 1e-4)
        np.testing.assert_allclose(more[1:4], saw[1:4], rtol=0.25)
        distance = [float(np.sum((h - saw) ** 2)) for h in (plain, some, more)]
        assert distance[0] > distance[1] > distance[2]

    @pytest.mark.parametrize("algorithm", range(1, 33))
    def test_every_algorithm_renders_finite_sound(self, algorithm):
        levels = {f"level_{k}": 0.7 for k in range(1, 7)}
        y = play(synth(algorithm=algorithm, feedback=0.5, ratio_5=2.0, ratio_6=3.0, **levels),
                 [note_on(0, 60, 100), note_off(6000, 60)], 9600)
        assert np.all(np.isfinite(y))
        assert np.sqrt(np.mean(y[:6000] ** 2)) > 0.05

    def test_algorithm_tables_route_every_operator_to_a_carrier(self):
        for a, (mods, heard, _) in enumerate(ALGORITHMS):
            assert set(np.flatnonzero(CARRIERS[a]) + 1) == set(heard)
            for dst, srcs in mods.items():
                assert all(src > dst for src in srcs)   # evaluating 6 -> 1 sees every modulator first
            reaches = {c for c in heard}
            for op in range(1, 7):
                if any(op in srcs and dst in reaches for dst, srcs in mods.items()):
                    reaches.add(op)
            assert reaches == set(range(1, 7)), f"algorithm {a + 1}: an operator reaches no carrier"
        assert carriers(32) == (1, 2, 3, 4, 5, 6) and tuple(FEEDBACK[3]) == (5, 3)


class TestPlaying:
    def test_output_does_not_depend_on_the_block_size(self):
        events = [note_on(10, 60, 100), note_on(333, 67, 80), (2000, PITCH_BEND, 0, 0, 0, 0.5),
                  note_off(4000, 60), note_on(4100, 72, 127)]
        params = dict(algorithm=5, level_1=0.5, level_2=1.0, level_3=0.5, level_4=2.0, level_6=1.0, feedback=0.7,
                      velocity_to_index=0.5, mod_sustain=0.3, mod_decay_ms=50.0)
        ref = play(synth(**params), events, 8000, 1024)
        for bs in (1, 17, 64, 256):
            np.testing.assert_allclose(play(synth(**params), events, 8000, bs), ref, atol=1e-6)

    def test_a_note_on_sounds_at_the_notes_frequency_and_note_off_releases_it(self):
        y = play(synth(algorithm=32, level_1=0.5, release_ms=50.0), [note_on(480, 64, 127), note_off(24000, 64)],
                 36000)
        assert np.max(np.abs(y[:480])) == 0.0
        spectrum = np.abs(np.fft.rfft(y[4800:24000] * np.hanning(19200)))
        peak_hz = np.argmax(spectrum) * SR / 19200
        assert abs(peak_hz - 440.0 * 2 ** (-5 / 12)) < 2.5
        assert np.sqrt(np.mean(y[12000:24000] ** 2)) > 0.3
        assert np.max(np.abs(y[24000 + 4800:])) < 1e-3      # released within ~5 x 50 ms... and silent

    def test_pitch_bend_moves_the_sounding_note(self):
        y = play(synth(algorithm=32, level_1=0.5, bend_range=2.0),
                 [note_on(0, 69, 127), (0, PITCH_BEND, 0, 0, 0, 1.0)], 24000)
        amps = partial_amplitudes(y, [440.0, 440.0 * 2 ** (2 / 12)], 1000)
        assert amps[1] > 0.49 and amps[0] < 0.01

    def test_more_notes_than_voices_steal_the_oldest(self):
        events = [note_on(0, 60, 127), note_on(100, 64, 127), note_on(200, 67, 127)]
        y = play(synth(algorithm=32, level_1=0.3, voices=2), events, 24000)
        amps = partial_amplitudes(y, [440.0 * 2 ** ((n - 69) / 12) for n in (60, 64, 67)], 4800)
        assert amps[0] < 0.01 and amps[1] > 0.29 and amps[2] > 0.29


class TestFrames:
    def frames(self, n_frames, seed=0):
        rng = np.random.default_rng(seed)
        f0 = np.full(n_frames, 220.0) * 2 ** (np.cumsum(rng.normal(0, 0.02, n_frames)))
        f0[n_frames // 3: n_frames // 3 + 4] = 0.0       # unvoiced frames hold the last f0
        levels = np.abs(rng.normal(0.5, 0.3, (n_frames, 6)))
        return f0, levels

    def render(self, f0, levels, block_size, **params):
        node = synth(algorithm=2, ratio_5=3.0, ratio_6=14.0, **params)
        ins = {"f0": FramesIn(f0.astype(np.float32)[:, None, None], HOP),
               "levels": FramesIn(levels.astype(np.float32)[:, None, :], HOP)}
        return run_node(node, ins, SR, block_size, n_samples=len(f0) * HOP)["out"][0].astype(np.float64), node

    def test_frame_driven_voice_follows_the_frame_grid_one_hop_late(self):
        f0, levels = self.frames(40)
        y, node = self.render(f0, levels, 256)
        assert node.latency_samples == HOP
        held = f0.copy()
        for i in range(1, len(held)):
            if held[i] <= 0:
                held[i] = held[i - 1]
        # the stream starts from silence (f0 0, levels 0): frame j is reached at sample (j + 2) * hop
        held = np.concatenate([[0.0, 0.0], held]).astype(np.float32).astype(np.float64)
        levels = np.concatenate([np.zeros((2, 6)), levels]).astype(np.float32).astype(np.float64)
        ratios = np.array([1, 1, 1, 1, 3, 14], np.float64)
        ref = np.zeros(len(y))
        frames_render(held, levels, HOP, float(SR), 1, MODULATION, CARRIERS, FEEDBACK, ratios, 0.0, ref)
        np.testing.assert_allclose(y, ref, atol=1e-5)

    def test_frame_driven_voice_is_block_size_invariant(self):
        f0, levels = self.frames(30, seed=3)
        ref, _ = self.render(f0, levels, 1024, feedback=0.6)
        for bs in (1, 17, 64, 256):
            np.testing.assert_allclose(self.render(f0, levels, bs, feedback=0.6)[0], ref, atol=1e-6)

    def test_level_frames_scale_the_carrier(self):
        n = 60
        f0 = np.full(n, 375.0)
        levels = np.zeros((n, 6))
        levels[:, 0] = 0.25
        node = synth(algorithm=32)
        ins = {"f0": FramesIn(f0.astype(np.float32)[:, None, None], HOP),
               "levels": FramesIn(levels.astype(np.float32)[:, None, :], HOP)}
        y = run_node(node, ins, SR, 64, n_samples=n * HOP)["out"][0].astype(np.float64)
        amps = partial_amplitudes(y, [375.0, 750.0], 4 * HOP)
        np.testing.assert_allclose(amps, [0.25, 0.0], atol=1e-4)


def test_event_driven_voices_allocate_nothing_at_steady_state():
    from neuropatch.engine.testing import steady_state_allocation

    assert steady_state_allocation(synth(algorithm=5, level_2=1.0), {"events": []}, SR, 1024) < 2048
