"""Streaming STFT/ISTFT, mel and friends against librosa computed on whole files."""
import librosa
import numpy as np
import pytest

from neuropatch.engine.testing import FramesIn, run_node
from neuropatch.nodes.dsp.fft import irfft, make_plan, make_work, rfft
from neuropatch.nodes.spectral.gate import SpectralGain, SpectralGate
from neuropatch.nodes.spectral.griffin_lim import GriffinLim
from neuropatch.nodes.spectral.mel import Mel, MelInverse
from neuropatch.nodes.spectral.stft import ISTFT, STFT

BLOCK_SIZES = [1, 17, 256]


def signals(sr, seconds=0.5, channels=1, seed=0):
    """A chirp plus harmonics plus noise, and plain noise: float32 [channels, samples]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    chirp = 0.4 * np.sin(2 * np.pi * (200 * t + 2000 * t ** 2)) + 0.2 * np.sin(2 * np.pi * 3000 * t)
    rich = chirp[None] + 0.05 * rng.standard_normal((channels, t.size))
    noise = rng.uniform(-0.5, 0.5, (channels, t.size))
    return {"tonal": rich.astype(np.float32), "noise": noise.astype(np.float32)}


def make(cls, **params):
    node = cls()
    for k, v in params.items():
        node.set_param(k, v)
    return node


def librosa_stft(x, n_fft, hop, window):
    """Oracle: center=False frames of the input left-padded with n_fft - hop zeros;
    returned as [frames, channels, bins] complex."""
    padded = np.pad(x, ((0, 0), (n_fft - hop, 0)))
    spec = librosa.stft(padded, n_fft=n_fft, hop_length=hop, window=window, center=False)
    return np.transpose(spec, (2, 0, 1))


def assert_close(ours, ref, rtol=1e-4):
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=rtol * float(np.max(np.abs(ref))))


class TestRealFFT:
    @pytest.mark.parametrize("n_fft", [4, 8, 16, 32, 64, 256, 1024, 2048, 8192])
    @pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-13), (np.float32, 1e-6)])
    def test_rfft_and_irfft_match_numpy(self, n_fft, dtype, tol):
        x = np.random.default_rng(n_fft).standard_normal(n_fft).astype(dtype)
        plan, work = make_plan(n_fft, dtype), make_work(n_fft, dtype)
        re, im = np.zeros(n_fft // 2 + 1, dtype), np.zeros(n_fft // 2 + 1, dtype)
        rfft(x, re, im, plan, work)
        ref = np.fft.rfft(x.astype(np.float64))
        scale = float(np.max(np.abs(ref)))
        assert np.max(np.abs(re - ref.real)) <= tol * scale
        assert np.max(np.abs(im - ref.imag)) <= tol * scale
        back = np.zeros(n_fft, dtype)
        irfft(re, im, back, plan, work)
        np.testing.assert_allclose(back, np.fft.irfft(ref, n_fft), atol=tol * float(np.max(np.abs(x))) * 4)

    def test_irfft_ignores_the_imaginary_parts_of_dc_and_nyquist(self):
        n_fft = 64
        spec = np.fft.rfft(np.random.default_rng(0).standard_normal(n_fft))
        re, im = spec.real.copy(), spec.imag.copy()
        im[0], im[-1] = 5.0, -3.0
        out = np.zeros(n_fft)
        irfft(re, im, out, make_plan(n_fft), make_work(n_fft))
        np.testing.assert_allclose(out, np.fft.irfft(spec, n_fft), atol=1e-12)

    def test_plan_rejects_sizes_that_are_not_powers_of_two(self):
        with pytest.raises(ValueError, match="power of two"):
            make_plan(1000)


class TestSTFT:
    @pytest.mark.parametrize("block", BLOCK_SIZES)
    @pytest.mark.parametrize("n_fft,hop,window", [(2048, 512, "hann"), (1024, 256, "hamming"),
                                                  (512, 384, "blackman")])
    def test_stft_magnitude_matches_librosa(self, n_fft, hop, window, block):
        for x in signals(48000).values():
            ours = run_node(make(STFT, n_fft=n_fft, hop=hop, window=window), {"in": x}, 48000, block)["out"]
            assert_close(ours, np.abs(librosa_stft(x, n_fft, hop, window)))

    @pytest.mark.parametrize("block", BLOCK_SIZES)
    def test_stft_power_and_complex_match_librosa_for_stereo(self, block):
        x = signals(44100, channels=2)["tonal"]
        ref = librosa_stft(x, 1024, 256, "hann")
        power = run_node(make(STFT, n_fft=1024, hop=256, output="power"), {"in": x}, 44100, block)["out"]
        assert_close(power, np.abs(ref) ** 2)
        cplx = run_node(make(STFT, n_fft=1024, hop=256, output="complex"), {"in": x}, 44100, block)["out"]
        assert cplx.shape[1] == 4
        assert_close(cplx[:, 0::2], ref.real)
        assert_close(cplx[:, 1::2], ref.imag)

    def test_stft_frame_k_is_emitted_in_the_block_holding_its_last_sample(self):
        x = signals(48000)["noise"][:, :4096]
        node = make(STFT, n_fft=1024, hop=256)
        from neuropatch.engine.testing import prepare_node
        from neuropatch.engine.streams import allocate_buffer
        ctx = prepare_node(node, {"in": x}, 48000, 100)
        out = allocate_buffer(ctx.out_specs["out"], 100)
        emitted = 0
        for start in range(0, 4096, 100):
            node.process({"in": x[:, start:start + 100]}, {"out": out}, min(100, 4096 - start))
            emitted += out.count
            assert emitted == (min(start + 100, 4096)) // 256
        assert node.latency_samples == 1024 - 256

    def test_stft_rejects_an_fft_size_that_is_not_a_power_of_two(self):
        with pytest.raises(ValueError, match="power of two"):
            run_node(make(STFT, n_fft=1000, hop=250), {"in": np.zeros((1, 100), np.float32)})


class TestISTFT:
    @pytest.mark.parametrize("block", BLOCK_SIZES + [1024])
    @pytest.mark.parametrize("n_fft,hop,window", [(1024, 256, "hann"), (1024, 512, "hann"),
                                                  (512, 128, "hamming"), (2048, 512, "blackman"),
                                                  (256, 64, "blackman")])
    def test_stft_then_istft_reconstructs_the_input_after_the_latency(self, n_fft, hop, window, block):
        x = signals(48000, channels=2)["tonal"]
        stft = make(STFT, n_fft=n_fft, hop=hop, window=window, output="complex")
        frames = run_node(stft, {"in": x}, 48000, block)["out"]
        istft = make(ISTFT, window=window)
        y = run_node(istft, {"in": FramesIn(frames, hop)}, 48000, block, n_samples=x.shape[1])["out"]
        latency = stft.latency_samples + istft.latency_samples
        assert latency == n_fft
        np.testing.assert_allclose(y[:, latency:], x[:, :-latency], atol=1e-5)
        assert np.max(np.abs(y[:, :latency])) == 0.0

    def test_istft_matches_librosa_istft_of_the_same_frames(self):
        x = signals(22050)["noise"]
        ref = librosa_stft(x, 512, 128, "hann")  # [frames, 1, bins]
        frames = np.stack([ref.real[:, 0], ref.imag[:, 0]], axis=1).astype(np.float32)
        y = run_node(ISTFT(), {"in": FramesIn(frames, 128)}, 22050, 17, n_samples=x.shape[1])["out"]
        lib = librosa.istft(ref[:, 0].T, hop_length=128, window="hann", center=False)
        # librosa starts at the first padded sample; ours lags the input by n_fft
        n = min(lib.size - 384, x.shape[1] - 512)
        np.testing.assert_allclose(y[0, 512:512 + n][600:], lib[384:384 + n][600:], atol=1e-5)


class TestMel:
    CASES = [
        dict(sr=48000, n_fft=2048, hop=512, n_mels=128, fmin=0.0, fmax=0.0, htk=False, norm="slaney"),
        dict(sr=22050, n_fft=1024, hop=256, n_mels=80, fmin=30.0, fmax=8000.0, htk=True, norm="slaney"),
        dict(sr=16000, n_fft=512, hop=160, n_mels=40, fmin=0.0, fmax=4000.0, htk=True, norm="none"),
        dict(sr=44100, n_fft=4096, hop=1024, n_mels=256, fmin=20.0, fmax=20000.0, htk=False, norm="none"),
    ]

    @pytest.mark.parametrize("block", BLOCK_SIZES)
    @pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['sr']}-{c['n_mels']}-htk{c['htk']}-{c['norm']}")
    @pytest.mark.parametrize("output", ["power", "magnitude"])
    def test_mel_matches_librosa_for_htk_and_slaney(self, case, output, block):
        sr, n_fft, hop = case["sr"], case["n_fft"], case["hop"]
        x = signals(sr)["tonal"]
        frames = run_node(make(STFT, n_fft=n_fft, hop=hop, output=output), {"in": x}, sr, block)["out"]
        mel = make(Mel, n_mels=case["n_mels"], fmin=case["fmin"], fmax=case["fmax"], htk=case["htk"],
                   norm=case["norm"])
        ours = run_node(mel, {"in": FramesIn(frames, hop)}, sr, block, n_samples=x.shape[1])["out"]
        spec = np.abs(librosa_stft(x, n_fft, hop, "hann")) ** (2.0 if output == "power" else 1.0)
        ref = librosa.feature.melspectrogram(
            S=np.transpose(spec, (1, 2, 0)), sr=sr, n_fft=n_fft, n_mels=case["n_mels"], fmin=case["fmin"],
            fmax=case["fmax"] or None, htk=case["htk"], norm="slaney" if case["norm"] == "slaney" else None)
        assert_close(ours, np.transpose(ref, (2, 0, 1)))

    @pytest.mark.parametrize("top_db", [80.0, 40.0])
    def test_mel_db_matches_power_to_db_with_the_file_maximum_as_ref(self, top_db):
        sr = 22050
        x = signals(sr)["tonal"] * np.linspace(0, 1, int(sr * 0.5), dtype=np.float32)
        frames = run_node(make(STFT, n_fft=1024, hop=256, output="power"), {"in": x}, sr, 256)["out"]
        ref_lin = librosa.feature.melspectrogram(
            S=np.abs(librosa_stft(x, 1024, 256, "hann")[:, 0].T) ** 2, sr=sr, n_fft=1024, n_mels=64)
        ref = librosa.power_to_db(ref_lin, ref=np.max, top_db=top_db).T
        mel = make(Mel, n_mels=64, db=True, top_db=top_db, ref=float(ref_lin.max()))
        ours = run_node(mel, {"in": FramesIn(frames, 256)}, sr, 17, n_samples=x.shape[1])["out"][:, 0]
        np.testing.assert_allclose(ours, ref, atol=2e-3)  # dB: 2e-3 dB is 5e-4 relative in power
        assert ours.min() == pytest.approx(-top_db)

    def test_mel_db_with_fixed_ref_matches_power_to_db_without_clamp(self):
        sr = 16000
        x = signals(sr)["noise"]
        frames = run_node(make(STFT, n_fft=512, hop=128, output="power"), {"in": x}, sr, 64)["out"]
        ours = run_node(make(Mel, n_mels=40, db=True, top_db=0.0, ref=0.5), {"in": FramesIn(frames, 128)},
                        sr, 64, n_samples=x.shape[1])["out"][:, 0]
        ref_lin = librosa.feature.melspectrogram(S=frames[:, 0].T.astype(np.float64), sr=sr, n_fft=512, n_mels=40)
        np.testing.assert_allclose(ours, librosa.power_to_db(ref_lin, ref=0.5, top_db=None).T, atol=2e-3)


class TestMelInverse:
    def test_mel_inverse_reproduces_the_mel_when_analysed_again(self):
        sr = 22050
        x = signals(sr)["tonal"]
        frames = run_node(make(STFT, n_fft=1024, hop=256, output="power"), {"in": x}, sr, 256)["out"]
        mel = run_node(make(Mel, n_mels=64), {"in": FramesIn(frames, 256)}, sr, 256, n_samples=x.shape[1])["out"]
        inv = make(MelInverse, n_fft=1024, iterations=30)
        mag = run_node(inv, {"in": FramesIn(mel, 256)}, sr, 17, n_samples=x.shape[1])["out"]
        assert mag.shape == frames.shape and mag.min() >= 0.0
        basis = librosa.filters.mel(sr=sr, n_fft=1024, n_mels=64)
        remel = np.einsum("mf,tcf->tcm", basis, mag.astype(np.float64) ** 2)
        err = np.linalg.norm(remel - mel) / np.linalg.norm(mel)
        assert err < 0.02
        # and it is at least as good a solution as librosa's own inverse
        lib = librosa.feature.inverse.mel_to_stft(mel[:, 0].T, sr=sr, n_fft=1024, power=2.0)
        lib_err = np.linalg.norm(basis @ lib ** 2 - mel[:, 0].T) / np.linalg.norm(mel)
        assert err < 2 * lib_err + 1e-3

    def test_mel_inverse_reads_db_frames(self):
        sr = 16000
        x = signals(sr)["tonal"]
        frames = run_node(make(STFT, n_fft=512, hop=128, output="power"), {"in": x}, sr, 128)["out"]
        lin = run_node(make(Mel, n_mels=40), {"in": FramesIn(frames, 128)}, sr, 128, n_samples=x.shape[1])["out"]
        db = run_node(make(Mel, n_mels=40, db=True, top_db=0.0, ref=2.0), {"in": FramesIn(frames, 128)}, sr, 128,
                      n_samples=x.shape[1])["out"]
        a = run_node(make(MelInverse, n_fft=512), {"in": FramesIn(lin, 128)}, sr, 128, n_samples=x.shape[1])["out"]
        b = run_node(make(MelInverse, n_fft=512, db=True, ref=2.0), {"in": FramesIn(db, 128)}, sr, 128,
                     n_samples=x.shape[1])["out"]
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * a.max())


class TestGriffinLim:
    def test_griffin_lim_output_has_the_target_magnitude(self):
        sr = 48000
        t = np.arange(sr // 2) / sr
        x = (0.3 * np.sin(2 * np.pi * 330 * t) + 0.2 * np.sin(2 * np.pi * 880 * t)).astype(np.float32)[None]
        mag = run_node(make(STFT, n_fft=1024, hop=256), {"in": x}, sr, 256)["out"]
        errors = {}
        for iterations in (0, 8):
            y = run_node(make(GriffinLim, iterations=iterations), {"in": FramesIn(mag, 256)}, sr, 17,
                         n_samples=x.shape[1])["out"]
            again = np.abs(librosa_stft(y, 1024, 256, "hann"))[4:]  # output lags by n_fft = 4 hops
            target = mag[:-4]
            errors[iterations] = np.linalg.norm(again[8:] - target[8:]) / np.linalg.norm(target[8:])
        assert errors[8] < 0.15
        assert errors[8] < 0.5 * errors[0]


class TestGateAndGain:
    def test_gate_attenuates_only_bins_below_the_threshold(self):
        frames = np.full((6, 1, 9), 1e-3, np.float32)
        frames[:, :, ::2] = 0.5
        out = run_node(make(SpectralGate, threshold_db=-40.0, floor_db=-60.0), {"in": FramesIn(frames, 64)},
                       48000, 17, n_samples=6 * 64)["out"]
        np.testing.assert_allclose(out[:, :, ::2], 0.5)
        np.testing.assert_allclose(out[:, :, 1::2], 1e-3 * 1e-3, rtol=1e-5)

    def test_gate_on_complex_frames_uses_the_pair_magnitude(self):
        frames = np.zeros((4, 2, 3), np.float32)
        frames[:, 0] = [0.006, 0.5, 0.0]     # re
        frames[:, 1] = [0.008, 0.0, 0.001]   # im: |X| = 0.01, 0.5, 0.001
        out = run_node(make(SpectralGate, threshold_db=-30.0, floor_db=-20.0, input="complex"),
                       {"in": FramesIn(frames, 32)}, 48000, 32, n_samples=128)["out"]
        np.testing.assert_allclose(out[:, :, 0], frames[:, :, 0] * 0.1, rtol=1e-6)
        np.testing.assert_allclose(out[:, :, 1], frames[:, :, 1])
        np.testing.assert_allclose(out[:, :, 2], frames[:, :, 2] * 0.1, rtol=1e-6)

    def test_gain_applies_a_mask_to_each_complex_pair(self):
        rng = np.random.default_rng(3)
        frames = rng.standard_normal((5, 4, 7)).astype(np.float32)
        mask = rng.uniform(0, 1, (5, 2, 7)).astype(np.float32)
        out = run_node(make(SpectralGain, gain_db=-6.0), {"in": FramesIn(frames, 64), "mask": FramesIn(mask, 64)},
                       48000, 17, n_samples=320)["out"]
        g = 10 ** (-6 / 20)
        np.testing.assert_allclose(out[:, 0::2], frames[:, 0::2] * mask * g, rtol=1e-5)
        np.testing.assert_allclose(out[:, 1::2], frames[:, 1::2] * mask * g, rtol=1e-5)
