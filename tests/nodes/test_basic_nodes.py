"""io, gen and util nodes checked against numpy/scipy oracles."""
import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from neuropatch.engine import Graph, compile_graph, default_registry, render
from neuropatch.engine.testing import run_node

SR = 48000


def node(type_id, **params):
    n = default_registry().create(type_id)
    for k, v in params.items():
        n.set_param(k, v)
    return n


class TestOscillator:
    def test_sine_matches_numpy_sine(self):
        y = run_node(node("gen.oscillator", freq_hz=441.0, level_db=0.0), {}, SR, 64, n_samples=4800)["out"][0]
        t = np.arange(4800)
        np.testing.assert_allclose(y, np.sin(2 * np.pi * 441.0 * t / SR), atol=2e-6)

    @pytest.mark.parametrize("waveform", ["saw", "square"])
    def test_band_limited_waveforms_alias_far_less_than_naive_ones(self, waveform):
        f0 = 4700.0
        n = SR
        y = run_node(node("gen.oscillator", waveform=waveform, freq_hz=f0, level_db=0.0), {}, SR, 256, n_samples=n)["out"][0]
        phase = (np.arange(n) * f0 / SR) % 1.0
        naive = 2 * phase - 1 if waveform == "saw" else np.where(phase < 0.5, 1.0, -1.0)

        def alias_ratio(x):
            spec = np.abs(np.fft.rfft(x * signal.windows.blackmanharris(n))) ** 2
            freqs = np.fft.rfftfreq(n, 1 / SR)
            harmonic = np.zeros_like(freqs, bool)
            for k in range(1, int(SR / 2 / f0) + 1):
                harmonic |= np.abs(freqs - k * f0) < 8
            return spec[~harmonic].sum() / spec[harmonic].sum()

        assert alias_ratio(y) < alias_ratio(naive) / 10  # >= 10 dB less aliasing energy

    def test_frequency_control_input_overrides_param(self):
        y = run_node(node("gen.oscillator", freq_hz=100.0, level_db=0.0), {"freq": 1000.0}, SR, 256, n_samples=SR)["out"][0]
        assert abs(np.argmax(np.abs(np.fft.rfft(y))) - 1000) <= 1


    def test_a_non_finite_frequency_control_block_does_not_silence_the_oscillator_for_good(self):
        from neuropatch.engine.testing import prepare_node

        osc = node("gen.oscillator", level_db=0.0)
        ctx = prepare_node(osc, {"freq": 440.0}, SR, 64)
        out = np.zeros((1, 64), np.float32)
        for value in (440.0, float("nan"), float("inf"), 440.0):
            osc.process({"freq": np.array([value], np.float32)}, {"out": out}, 64)
            assert np.all(np.isfinite(out)), value
        assert np.max(np.abs(out)) > 0.5  # sounding again once the control is finite


class TestNoise:
    def test_white_noise_is_reproducible_from_seed_and_flat(self):
        a = run_node(node("gen.noise", seed=7, level_db=0.0), {}, SR, 100, n_samples=SR)["out"][0]
        b = run_node(node("gen.noise", seed=7, level_db=0.0), {}, SR, 333, n_samples=SR)["out"][0]
        c = run_node(node("gen.noise", seed=8, level_db=0.0), {}, SR, 100, n_samples=SR)["out"][0]
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
        f, p = signal.welch(a, SR, nperseg=4096)
        low, high = p[(f > 100) & (f < 1000)].mean(), p[(f > 10000) & (f < 20000)].mean()
        assert 0.8 < low / high < 1.25

    def test_pink_noise_falls_3_db_per_octave(self):
        y = run_node(node("gen.noise", color="pink", level_db=0.0), {}, SR, 256, n_samples=4 * SR)["out"][0]
        f, p = signal.welch(y, SR, nperseg=8192)
        slope = np.polyfit(np.log2(f[(f > 100) & (f < 10000)]), 10 * np.log10(p[(f > 100) & (f < 10000)]), 1)[0]
        assert -3.6 < slope < -2.4


class TestUtility:
    def test_gain_scales_by_decibels(self):
        x = np.random.default_rng(0).uniform(-1, 1, (2, 1000)).astype(np.float32)
        y = run_node(node("util.gain", gain_db=-6.0), {"in": x}, SR, 64)["out"]
        np.testing.assert_allclose(y, x * 10 ** (-6 / 20), rtol=1e-6)

    def test_mix_sums_inputs_with_gains_and_spreads_mono(self):
        rng = np.random.default_rng(1)
        a = rng.uniform(-1, 1, (2, 500)).astype(np.float32)
        b = rng.uniform(-1, 1, (1, 500)).astype(np.float32)
        y = run_node(node("util.mix", gain2_db=-20.0), {"in1": a, "in2": b}, SR, 64)["out"]
        np.testing.assert_allclose(y, a + 0.1 * b, atol=1e-6)

    def test_delay_shifts_by_whole_samples(self):
        x = np.random.default_rng(2).uniform(-1, 1, (1, 3000)).astype(np.float32)
        y = run_node(node("util.delay", delay_ms=10.0), {"in": x}, SR, 17)["out"]
        np.testing.assert_array_equal(y[:, 480:], x[:, :-480])
        assert not y[:, :480].any()


class TestFiles:
    def test_file_player_resamples_to_graph_rate_at_the_right_pitch(self, tmp_path):
        t = np.arange(44100) / 44100
        sf.write(tmp_path / "a.wav", np.sin(2 * np.pi * 1000 * t).astype(np.float32), 44100, subtype="FLOAT")
        n = node("io.file_player")
        n.set_resource("file", tmp_path / "a.wav")
        y = run_node(n, {}, SR, 256, n_samples=SR)["out"][0]
        ref = np.sin(2 * np.pi * 1000 * np.arange(SR) / SR)
        np.testing.assert_allclose(y[2000:-2000], ref[2000:-2000], atol=2e-3)

    def test_file_player_loops(self, tmp_path):
        x = np.arange(100, dtype=np.float32) / 100
        sf.write(tmp_path / "b.wav", x, SR, subtype="FLOAT")
        n = node("io.file_player", loop=True)
        n.set_resource("file", tmp_path / "b.wav")
        y = run_node(n, {}, SR, 64, n_samples=250)["out"][0]
        np.testing.assert_array_equal(y, np.tile(x, 3)[:250])

    def test_recorder_writes_what_it_heard(self, tmp_path):
        from neuropatch.engine import Edge, new_node_spec

        g = Graph()
        g.nodes["in"] = new_node_spec("io.audio_in", "in")
        g.nodes["rec"] = new_node_spec("io.recorder", "rec", params={"path": str(tmp_path / "rec.wav")})
        g.edges.append(Edge("in", "out", "rec", "in"))
        x = np.random.default_rng(4).uniform(-1, 1, (2, 5000)).astype(np.float32)
        render(g, x, SR, 128)
        y, sr = sf.read(tmp_path / "rec.wav", dtype="float32")
        assert sr == SR
        np.testing.assert_array_equal(y.T, x)


class TestModulation:
    def test_lfo_follows_its_shape_once_per_block(self):
        y = run_node(node("util.lfo", rate_hz=1.0, depth=2.0, offset=5.0), {}, SR, 480, n_samples=SR)["out"]
        t = np.arange(100) * 480 / SR
        np.testing.assert_allclose(y, 5.0 + 2.0 * np.sin(2 * np.pi * t), atol=1e-5)

    def test_follower_tracks_a_step_with_its_attack_and_release(self):
        x = np.zeros((1, SR), np.float32)
        x[0, : SR // 2] = 0.5
        y = run_node(node("util.follower", attack_ms=1.0, release_ms=100.0), {"in": x}, SR, 48, n_samples=SR)["out"]
        assert y[20] == pytest.approx(0.5, abs=1e-3)             # 20 ms after onset: settled
        t_rel = 100 * 48 / SR                                      # 100 ms after release (block end)
        assert y[599] == pytest.approx(0.5 * np.exp(-(0.1 + 48 / SR - 1 / SR) / 0.1), rel=0.03)

    def test_vca_ramps_between_block_values_without_steps(self):
        x = np.ones((1, 256), np.float32)
        v = node("util.vca")
        out = run_node(v, {"in": x, "gain": 0.5}, SR, 64)["out"][0]
        np.testing.assert_allclose(out, 0.5)
