"""ddsp.*: synths against oracles (sine level and pitch, Nyquist, noise spectrum and
whiteness, scipy convolution), the numba decoders against the torch modules, block-size
invariance, the chain's latency measured on a note onset, model files, and train-ddsp."""
import json

import numpy as np
import pytest
import soundfile as sf

from neuropatch.engine.errors import ModelFormatError, NodeConfigError, ResourceError
from neuropatch.engine.testing import FramesIn, run_node
from neuropatch.nodes.ddsp.kernels import harmonic_frames
from neuropatch.nodes.ddsp.model import DDSPModel, load_model, rnn_config, save_model
from neuropatch.nodes.ddsp.onsets import after_silence, lag_scores, onset_delay, onset_strength
from neuropatch.nodes.ddsp.node import (SHIPPED_MODEL, DDSPDecoder, DDSPHarmonic, DDSPNoise, DDSPReverb,
                                        DDSPSynth, DDSPTimbre)

SR = 48000
HOP = 256


def frames(values, bins=None):
    v = np.asarray(values, np.float32)
    return FramesIn(v.reshape(len(v), 1, bins or (v.shape[1] if v.ndim == 2 else 1)), HOP)


def node_with(cls, model=None, **params):
    node = cls()
    if model is not None:
        node.set_resource("model", model)
    for k, v in params.items():
        node.set_param(k, v)
    return node


def harmonic_out(f0, amp, dist, block=256, **params):
    n = len(f0)
    return run_node(node_with(DDSPHarmonic, **params),
                    {"f0": frames(f0), "amplitude": frames(amp), "harmonics": frames(dist)},
                    SR, block, n_samples=n * HOP)["out"][0].astype(np.float64)


def peak_hz(x):
    """Frequency of the largest spectral peak (parabolic interpolation on a 4x padded FFT)."""
    n = 4 * len(x)
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    k = int(np.argmax(spec))
    a, b, c = np.log(spec[k - 1:k + 2] + 1e-30)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * SR / n


class TestHarmonic:
    def test_constant_controls_render_a_sine_of_that_frequency_and_level(self):
        f0, amp, n_frames = 437.3, 0.25, 200
        dist = np.zeros((n_frames, 60))
        dist[:, 0] = 1.0
        out = harmonic_out(np.full(n_frames, f0), np.full(n_frames, amp), dist)
        steady = out[4 * HOP:]
        assert abs(peak_hz(steady) - f0) < 1.0
        level_db = 20 * np.log10(np.sqrt(np.mean(steady ** 2)) * np.sqrt(2) / amp)
        assert abs(level_db) < 0.1

    def test_glide_matches_ddsp_cumsum_formula(self):
        n_frames, n_harm = 40, 12
        rng = np.random.default_rng(0)
        f0_frames = np.geomspace(110.0, 3000.0, n_frames)  # upper harmonics cross Nyquist
        amp_frames = rng.uniform(0.0, 0.2, (n_frames, n_harm))
        n = (n_frames - 1) * 64
        out = np.zeros(n)
        harmonic_frames(f0_frames, amp_frames, 64, float(SR), out)
        grid = np.arange(n_frames) * 64
        t = np.arange(n)
        f0 = np.interp(t, grid, f0_frames)
        amps = np.stack([np.interp(t, grid, amp_frames[:, k]) for k in range(n_harm)], axis=1)
        k = np.arange(1, n_harm + 1)
        amps = amps * (f0[:, None] * k < SR / 2)
        oracle = np.sum(amps * np.sin(np.cumsum(2 * np.pi * f0[:, None] * k / SR, axis=0)), axis=1)
        np.testing.assert_allclose(out, oracle, atol=1e-4)

    def test_no_energy_above_nyquist_for_a_high_f0(self):
        f0, n_frames = 4950.0, 200   # 60 harmonics requested; only 4 fit below 24 kHz
        out = harmonic_out(np.full(n_frames, f0), np.full(n_frames, 0.5), np.full((n_frames, 60), 1 / 60))
        steady = out[4 * HOP:]
        spec = np.abs(np.fft.rfft(steady * np.blackman(len(steady)))) ** 2
        freqs = np.fft.rfftfreq(len(steady), 1 / SR)
        near_harmonic = np.min(np.abs(freqs[:, None] - f0 * np.arange(1, 5)[None, :]), axis=1) < 60.0
        aliased = spec[~near_harmonic].max() / spec.max()
        assert 10 * np.log10(aliased) < -100.0
        # the kept harmonics share the whole amplitude (renormalised after the cut)
        rms = np.sqrt(np.mean(steady ** 2))
        assert abs(rms - np.sqrt(4 * (0.5 / 4) ** 2 / 2)) < 0.01 * rms

    def test_output_is_the_same_at_every_block_size(self):
        rng = np.random.default_rng(1)
        n_frames = 60
        f0 = 200 + 100 * rng.random(n_frames)
        dist = rng.random((n_frames, 30))
        dist /= dist.sum(axis=1, keepdims=True)
        outs = [harmonic_out(f0, np.full(n_frames, 0.3), dist, block=b) for b in (1, 64, 256, 1000)]
        for out in outs[1:]:
            np.testing.assert_array_equal(out, outs[0])


def noise_out(mags, n_frames, block=256):
    mags = np.broadcast_to(np.asarray(mags, np.float32), (n_frames, len(mags)))
    return run_node(DDSPNoise(), {"magnitudes": frames(mags)}, SR, block, n_samples=n_frames * HOP)["out"][0]


class TestNoise:
    def test_long_term_spectrum_follows_the_band_magnitudes_within_1_db(self):
        from scipy.signal import welch

        bands = 65
        target_db = -12.0 + 9.0 * np.sin(2 * np.pi * np.arange(bands) / 40.0)
        out = noise_out(10 ** (target_db / 20), int(20 * SR / HOP)).astype(np.float64)[4 * HOP:]
        freqs, psd = welch(out, SR, nperseg=4096)
        centres = np.arange(bands) / (bands - 1) * SR / 2
        measured = 10 * np.log10(np.interp(centres, freqs, psd))
        # white uniform noise in [-1, 1) has variance 1/3 spread over 0..Nyquist
        expected = target_db + 10 * np.log10((1 / 3) / (SR / 2))
        inner = slice(1, bands - 1)   # DC and Nyquist bins of a one-sided PSD are half-width
        assert np.max(np.abs(measured[inner] - expected[inner])) < 1.0

    def test_noise_never_repeats_within_10_seconds(self):
        out = noise_out(np.ones(65), int(12 * SR / HOP)).astype(np.float64)
        x = out - out.mean()
        n = len(x)
        spec = np.fft.rfft(x, 2 * n)
        acf = np.fft.irfft(spec * np.conj(spec))[:n] / np.sum(x * x)
        assert np.max(np.abs(acf[1:10 * SR])) < 0.05

    def test_block_size_does_not_change_the_noise(self):
        rng = np.random.default_rng(2)
        mags = rng.random(65)
        outs = [noise_out(mags, 40, block=b) for b in (1, 64, 1000)]
        for out in outs[1:]:
            np.testing.assert_array_equal(out, outs[0])


class TestReverb:
    def test_exponential_reverb_is_dry_plus_scipy_convolution(self):
        from scipy.signal import fftconvolve

        from neuropatch.nodes.ddsp.processors import exponential_ir

        x = np.random.default_rng(3).standard_normal((1, 20000)).astype(np.float32)
        node = node_with(DDSPReverb, wet_db=-6.0, decay_s=0.05, length_s=0.2)
        out = run_node(node, {"in": x}, SR, 256)["out"][0]
        ir = exponential_ir(0.2, 0.05, SR)
        oracle = x[0] + 10 ** (-6 / 20) * fftconvolve(x[0].astype(np.float64), ir)[:20000]
        np.testing.assert_allclose(out, oracle, atol=2e-5)

    def test_model_source_without_a_learned_reverb_says_so(self, tmp_path):
        path = tmp_path / "dry.safetensors"
        save_model(path, tiny_model(reverb=False))
        node = node_with(DDSPReverb, model=path, source="model")
        with pytest.raises(ResourceError, match="no learned reverb"):
            run_node(node, {"in": np.zeros((1, 512), np.float32)}, SR, 256)


def tiny_model(reverb=True, seed=0, arch="rnn", z_dims=0):
    """A randomly initialised model file's content (torch's initialisation, perturbed)."""
    import torch

    from neuropatch.nodes.ddsp.model import default_config
    from neuropatch.nodes.ddsp.timbre import ENCODER_DEFAULTS
    from neuropatch.nodes.ddsp.torch_model import build_decoder, build_encoder

    torch.manual_seed(seed)
    config = (rnn_config(SR, HOP, n_harmonics=20, n_bands=17, mlp_units=24, gru_units=32, z_dims=z_dims)
              if arch == "rnn" else default_config(SR, HOP, 20, 17, (24, 24)))
    modules = {"": build_decoder(config)}
    if z_dims:
        config["encoder"] = dict(ENCODER_DEFAULTS, units=16)
        modules["encoder."] = build_encoder(config)
    tensors = {}
    with torch.no_grad():
        for prefix, module in modules.items():
            for p in module.parameters():
                p.add_(0.2 * torch.randn_like(p))
            tensors.update({prefix + k: v.numpy().copy() for k, v in module.state_dict().items()})
    if reverb:
        tensors["reverb.ir"] = (0.01 * np.random.default_rng(seed).standard_normal(2000)).astype(np.float32)
    return DDSPModel(config, tensors)


class TestDecoder:
    @pytest.mark.parametrize("arch", ["rnn", "mlp"])
    def test_numba_decoder_matches_the_torch_module_over_a_sequence(self, tmp_path, arch):
        torch = pytest.importorskip("torch")
        from neuropatch.nodes.ddsp.torch_model import build_decoder

        path = tmp_path / f"{arch}.safetensors"
        save_model(path, tiny_model(arch=arch))
        model = load_model(path)
        decoder = build_decoder(model.config).double()
        decoder.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in model.tensors.items()
                                 if k != "reverb.ir"})
        rng = np.random.default_rng(4)
        n = 80
        f0 = np.where(rng.random(n) < 0.2, 0.0, rng.uniform(80, 2000, n)).astype(np.float32)
        db = rng.uniform(-90, 0, n).astype(np.float32)
        outs = run_node(node_with(DDSPDecoder, model=path), {"f0": frames(f0), "loudness": frames(db)}, SR, 1000,
                        n_samples=n * HOP)
        held = np.array(f0, np.float64)
        for i in range(1, n):
            held[i] = held[i] if held[i] > 0 else held[i - 1]
        with torch.no_grad():
            amp, dist, noise = decoder(torch.from_numpy(held)[None], torch.from_numpy(db.astype(np.float64))[None])
        np.testing.assert_allclose(outs["f0"][:, 0, 0], held, rtol=1e-6)
        for got, want in ((outs["amplitude"][:, 0, 0], amp[0]), (outs["harmonics"][:, 0], dist[0]),
                          (outs["noise"][:, 0], noise[0])):
            want = want.numpy()
            assert np.max(np.abs(got - want)) <= 1e-5 * np.max(np.abs(want))

    def test_a_model_trained_on_another_hop_is_refused_naming_the_fix(self, tmp_path):
        path = tmp_path / "m.safetensors"
        save_model(path, tiny_model())
        with pytest.raises(NodeConfigError, match="hop 256"):
            run_node(node_with(DDSPDecoder, model=path),
                     {"f0": FramesIn(np.full((8, 1, 1), 220, np.float32), 192),
                      "loudness": FramesIn(np.full((8, 1, 1), -20, np.float32), 192)}, SR, 256, n_samples=2048)

    def test_split_chain_equals_the_one_node_synth(self, tmp_path):
        path = tmp_path / "m.safetensors"
        save_model(path, tiny_model())
        rng = np.random.default_rng(5)
        n = 60
        ins = {"f0": frames(rng.uniform(150, 600, n)), "loudness": frames(rng.uniform(-50, -10, n))}
        whole = run_node(node_with(DDSPSynth, model=path), ins, SR, 256, n_samples=n * HOP)["out"][0]
        ctrl = run_node(node_with(DDSPDecoder, model=path), ins, SR, 256, n_samples=n * HOP)
        as_in = {k: FramesIn(v.astype(np.float32), HOP) for k, v in ctrl.items()}
        harm = run_node(DDSPHarmonic(), {"f0": as_in["f0"], "amplitude": as_in["amplitude"],
                                         "harmonics": as_in["harmonics"]}, SR, 256, n_samples=n * HOP)["out"]
        noise = run_node(DDSPNoise(), {"magnitudes": as_in["noise"]}, SR, 256, n_samples=n * HOP)["out"]
        rev = run_node(node_with(DDSPReverb, model=path, source="model", wet_db=0.0), {"in": harm + noise}, SR, 256)
        np.testing.assert_allclose(whole, rev["out"][0], atol=1e-6)


def violin_phrase():
    """Four FluidR3 violin notes separated by rests (dry), float32 [samples]."""
    from neuropatch.assets.make_ddsp_assets import INSTRUMENTS, render

    return render(INSTRUMENTS["violin"], [[(None, 1.0), (67, 1.0), (None, 0.5), (72, 1.0), (None, 0.5), (64, 1.0),
                                           (None, 0.5), (69, 1.0), (None, 1.0)]], seed=1)


def chain_patch(model_path, reverb_db=-60.0):
    feats = load_model(model_path).config["features"]
    return {"format": "neuropatch", "version": 1, "settings": {"sample_rate": SR, "block_size": 256},
            "nodes": [{"id": "in", "type": "io.audio_in"},
                      {"id": "pitch", "type": "feature.pitch",
                       "params": {"frame_length": feats["n_fft"], "hop": feats["hop"], "fmin": feats["fmin"]}},
                      {"id": "loud", "type": "feature.loudness",
                       "params": {"n_fft": feats["n_fft"], "hop": feats["hop"]}},
                      {"id": "synth", "type": "ddsp.synth", "params": {"reverb_db": reverb_db},
                       "resources": {"model": {"path": str(model_path)}}},
                      {"id": "out", "type": "io.audio_out"}],
            "edges": [{"from": ["in", "out"], "to": ["pitch", "in"]}, {"from": ["in", "out"], "to": ["loud", "in"]},
                      {"from": ["pitch", "out"], "to": ["synth", "f0"]},
                      {"from": ["loud", "out"], "to": ["synth", "loudness"]},
                      {"from": ["synth", "out"], "to": ["out", "in"]}]}


class TestLatency:
    def test_the_harmonic_synth_reaches_a_frame_one_reported_latency_after_it_arrives(self):
        n = 40
        amp = np.where(np.arange(n) < 20, 0.0, 0.5)      # frame 20 arrives at sample 21 * hop - 1
        dist = np.zeros((n, 8))
        dist[:, 0] = 1.0
        node = DDSPHarmonic()
        y = run_node(node, {"f0": frames(np.full(n, 1500.0)), "amplitude": frames(amp), "harmonics": frames(dist)},
                     SR, 64, n_samples=n * HOP)["out"][0]
        env = np.abs(y)
        arrival = 21 * HOP
        reached = arrival + node.latency_samples
        assert np.max(env[:arrival]) == 0.0
        assert np.max(env[reached:reached + 4 * HOP]) > 0.49
        assert np.max(env[arrival:reached - HOP // 2]) < 0.49   # still gliding before it

    def test_loudness_frames_describe_their_window_centre(self):
        """A click's loudest frame is the one centred on it: emitted the reported latency later."""
        from neuropatch.nodes.spectral.loudness import Loudness

        x = np.zeros((1, 20000), np.float32)
        t0 = 10007
        x[0, t0] = 1.0
        node = Loudness()
        node.set_param("n_fft", 1024)
        node.set_param("hop", 16)
        loud = run_node(node, {"in": x}, SR, 16)["out"][:, 0, 0]
        emitted = (int(np.argmax(loud)) + 1) * 16            # frame k completes at sample (k + 1) * hop
        assert abs(emitted - t0 - node.latency_samples) <= 16

    @pytest.mark.parametrize("instrument", ["violin", "flute", "trumpet"])
    def test_reported_chain_latency_equals_the_measured_onset_delay(self, instrument):
        """FluidR3 notes starting from silence (four phrases of twelve, none of them in the
        model's training or onset calibration) through pitch + loudness + ddsp.synth with
        the shipped instrument: the output's onsets line up with the input's at the graph's
        reported latency (within a quarter hop), pooled over the phrases."""
        from neuropatch.assets.make_ddsp_assets import INSTRUMENTS, onset_phrases, render as render_notes
        from neuropatch.engine import render
        from neuropatch.engine.patch import graph_from_dict

        graph = graph_from_dict(chain_patch(SHIPPED_MODEL.with_name(f"{instrument}.safetensors")))
        scores = 0.0
        for seed in (21, 22, 23, 24):
            x = render_notes(INSTRUMENTS[instrument], onset_phrases(INSTRUMENTS[instrument], seed), seed)
            y, sched = render(graph, x[None, :], compensate_latency=False)
            scores = scores + lag_scores(onset_strength(x, after_silence(x, SR)), onset_strength(y[0]), 4000)
        measured = int(np.argmax(scores))
        assert sched.latency_samples / SR <= 0.032
        assert abs(measured - sched.latency_samples) <= HOP // 4, (measured, sched.latency_samples)

    def test_chain_latency_stays_within_32_ms_and_onsets_follow_the_input(self):
        from neuropatch.engine import render
        from neuropatch.engine.patch import graph_from_dict

        x = violin_phrase()[None, :]
        y, sched = render(graph_from_dict(chain_patch(SHIPPED_MODEL)), x, compensate_latency=False)
        assert sched.latency_samples / SR <= 0.032
        assert 0 < onset_delay(x[0], y[0], SR) <= sched.latency_samples


class TestModelFile:
    def test_garbage_file_raises_model_format_error(self, tmp_path):
        bad = tmp_path / "bad.safetensors"
        bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not a header")
        with pytest.raises(ModelFormatError):
            load_model(bad)

    def test_wrong_tensor_shape_names_the_tensor(self, tmp_path):
        model = tiny_model()
        model.tensors["gru.bias_hh_l0"] = np.zeros(3, np.float32)
        path = tmp_path / "wrong.safetensors"
        save_model(path, model)
        with pytest.raises(ModelFormatError, match="gru.bias_hh_l0"):
            load_model(path)

    def test_missing_model_file_raises_resource_error(self, tmp_path):
        with pytest.raises(ResourceError):
            load_model(tmp_path / "nope.safetensors")

    def test_shipped_models_have_their_config_beside_them_and_stay_small(self):
        for path in SHIPPED_MODEL.parent.glob("*.safetensors"):
            cfg = json.loads(path.with_suffix(".json").read_text())
            assert cfg == load_model(path).config
            assert path.stat().st_size < 5_000_000


class TestTraining:
    def test_a_tiny_run_checkpoints_resumes_and_reports_held_out_quality(self, tmp_path):
        pytest.importorskip("torch")
        from neuropatch.app.cli import main

        t = np.arange(12 * SR) / SR
        f0 = 220.0 * 2.0 ** (np.floor(t * 2) % 5 / 12)
        phase = np.cumsum(2 * np.pi * f0 / SR)
        audio = sum(0.3 / k * np.sin(k * phase) for k in range(1, 9)).astype(np.float32)
        folder = tmp_path / "takes"
        folder.mkdir()
        sf.write(folder / "a.wav", audio[: 6 * SR], SR)
        sf.write(folder / "b.flac", audio[6 * SR:], SR)
        out = tmp_path / "tiny.safetensors"
        common = ["train-ddsp", str(folder), "-o", str(out), "--units", "16", "--gru", "16", "--harmonics", "12",
                  "--noise-bands", "9", "--batch", "2", "-q"]
        assert main(common + ["--steps", "2"]) == 0
        ckpt = json.loads((tmp_path / "tiny.ckpt" / "progress.json").read_text())
        assert ckpt["step"] == 2
        assert main(common + ["--steps", "3"]) == 0     # resumes at step 2
        assert json.loads((tmp_path / "tiny.ckpt" / "progress.json").read_text())["step"] == 3
        model = load_model(out)
        quality = model.config["training"]["quality"]
        assert quality["segments"] > 0 and np.isfinite(quality["model"]) and np.isfinite(quality["sawtooth"])
        assert model.reverb_ir is not None
        y = run_node(node_with(DDSPSynth, model=out), {"f0": frames(np.full(32, 330.0)),
                                                       "loudness": frames(np.full(32, -20.0))},
                     SR, 128, n_samples=32 * HOP)["out"]
        assert np.all(np.isfinite(y)) and np.max(np.abs(y)) > 0

    def test_an_empty_folder_is_a_clear_error(self, tmp_path, capsys):
        from neuropatch.app.cli import main

        (tmp_path / "empty").mkdir()
        assert main(["train-ddsp", str(tmp_path / "empty"), "-o", str(tmp_path / "m.safetensors"), "-q"]) != 0
        assert "no audio files" in capsys.readouterr().err
