"""fx.ir against scipy's fftconvolve; tone stack and noise gate behaviour."""
import numpy as np
import pytest
import soundfile as sf
from scipy.signal import fftconvolve, sosfreqz

from neuropatch.engine.testing import run_node
from neuropatch.nodes.dsp.convolver import make_convolver, partition_size
from neuropatch.nodes.dsp.fir import DIRECT_MAX_TAPS
from neuropatch.nodes.effects import ImpulseResponse, NoiseGate, ToneStack, rbj_biquad

SR = 48000


def ir_node(path, **params):
    node = ImpulseResponse()
    node.id = "ir"
    node.set_resource("ir", path)
    for k, v in params.items():
        node.set_param(k, v)
    return node


# a cabinet-length response (direct form) and a longer one (partitioned FFT convolution)
@pytest.fixture(params=[DIRECT_MAX_TAPS, 3000], ids=["cabinet-2048", "room-3000"])
def ir_file(tmp_path, request):
    taps = request.param
    rng = np.random.default_rng(5)
    ir = (rng.standard_normal(taps) * np.exp(-np.arange(taps) / 600.0)).astype(np.float32)
    path = tmp_path / "cab.wav"
    sf.write(str(path), ir, SR, subtype="FLOAT")
    return path, ir


def convolve_in_blocks(ir, x, block):
    """make_convolver's output for x float32 [channels, n], fed `block` samples at a time."""
    conv = make_convolver(ir, x.shape[0], block)
    y = np.zeros_like(x)
    for start in range(0, x.shape[1], block):
        conv.process(x[:, start:start + block], y[:, start:start + block])
    return y


class TestImpulseResponse:
    @pytest.mark.parametrize("block", [17, 64, 256, 1024])
    def test_ir_matches_fftconvolve(self, ir_file, block):
        path, ir = ir_file
        x = np.random.default_rng(1).uniform(-0.5, 0.5, (2, 9000)).astype(np.float32)
        y = run_node(ir_node(path, normalize="off"), {"in": x}, SR, block)["out"]
        ref = np.stack([fftconvolve(x[c].astype(np.float64), ir.astype(np.float64))[:9000] for c in range(2)])
        assert np.max(np.abs(y - ref)) <= 1e-5

    @pytest.mark.parametrize("taps", [1, 7, 9, 900, DIRECT_MAX_TAPS, DIRECT_MAX_TAPS + 1])
    def test_short_and_long_responses_match_fftconvolve_at_any_block_size(self, taps):
        rng = np.random.default_rng(taps)
        ir = rng.standard_normal(taps) * np.exp(-np.arange(taps) / 300.0)
        x = rng.uniform(-0.5, 0.5, (2, 6000)).astype(np.float32)
        ref = np.stack([fftconvolve(x[c].astype(np.float64), ir)[:6000] for c in range(2)])
        outputs = [convolve_in_blocks(ir, x, block) for block in (256, 1, 17, 1024)]
        assert np.max(np.abs(outputs[0] - ref)) <= 1e-6 * np.max(np.abs(ref))
        for y in outputs[1:]:
            assert np.array_equal(y, outputs[0])   # the same sums whatever the block size

    @pytest.mark.parametrize("taps", [900, 3000])
    def test_reset_forgets_the_history(self, taps):
        rng = np.random.default_rng(8)
        ir = rng.standard_normal(taps)
        x = rng.uniform(-0.5, 0.5, (1, 2048)).astype(np.float32)
        conv = make_convolver(ir, 1, 256)
        first = np.zeros_like(x)
        conv.process(x, first)
        conv.reset()
        again = np.zeros_like(x)
        conv.process(x, again)
        assert np.array_equal(first, again)

    @pytest.mark.parametrize("taps", [1, 7, 900, 2048, 3000, 48000, 480000])
    @pytest.mark.parametrize("block", [1, 17, 64, 256, 1024])
    def test_partition_size_is_a_power_of_two_within_the_block(self, taps, block):
        p = partition_size(taps, block)
        assert p >= 8 and p & (p - 1) == 0
        assert p <= max(8, 1 << (block - 1).bit_length())

    def test_partition_size_balances_head_and_fft_work(self):
        assert partition_size(2048, 1024) == 128     # 2 * sqrt(2048) = 90.5 -> 128
        assert partition_size(480000, 4096) == 2048  # 2 * sqrt(480000) = 1386 -> 2048
        assert partition_size(480000, 256) == 256    # capped at the block

    def test_ir_has_no_latency_and_mix_blends_dry(self, ir_file):
        path, ir = ir_file
        node = ir_node(path, normalize="energy", mix=0.25)
        x = np.zeros((1, 4000), np.float32)
        x[0, 100] = 1.0
        y = run_node(node, {"in": x}, SR, 256)["out"][0]
        assert node.latency_samples == 0
        wet = ir / np.sqrt(np.sum(ir.astype(np.float64) ** 2))
        expected = np.zeros(3900)
        expected[:ir.size] = 0.25 * wet
        expected[0] += 0.75
        np.testing.assert_allclose(y[100:4000], expected, atol=1e-5)
        assert np.all(y[:100] == 0)

    def test_ir_at_another_rate_is_resampled(self, tmp_path):
        path = tmp_path / "ir44.wav"
        sf.write(str(path), np.r_[1.0, np.zeros(99)].astype(np.float32), 44100, subtype="FLOAT")
        from neuropatch.engine.testing import prepare_node
        node = ir_node(path, normalize="off")
        ctx = prepare_node(node, {"in": np.zeros((1, 64), np.float32)}, SR, 64)
        assert any("resampled" in n for n in ctx.notes)
        assert node.ir.size == round(100 * SR / 44100)


class TestToneStack:
    def test_flat_settings_pass_audio_unchanged(self):
        x = np.random.default_rng(2).uniform(-1, 1, (1, 2000)).astype(np.float32)
        y = run_node(ToneStack(), {"in": x}, SR, 64)["out"]
        np.testing.assert_allclose(y, x, atol=1e-6)

    def test_bands_boost_their_region(self):
        sos = np.array([np.r_[c[:3], 1.0, c[3:]] for c in (rbj_biquad("low", 120, 12, 0.7, SR),
                                                          rbj_biquad("peak", 800, -12, 0.7, SR),
                                                          rbj_biquad("high", 3200, 12, 0.7, SR))])
        w, h = sosfreqz(sos, worN=[30.0, 800.0, 15000.0], fs=SR)
        db = 20 * np.log10(np.abs(h))
        assert db[0] > 10 and db[1] < -9 and db[2] > 10


class TestNoiseGate:
    def test_gate_silences_hiss_and_passes_signal(self):
        rng = np.random.default_rng(3)
        x = (1e-4 * rng.standard_normal((1, 48000))).astype(np.float32)
        x[0, 24000:36000] += 0.5 * np.sin(np.arange(12000) * 0.05)
        node = NoiseGate()
        node.set_param("threshold_db", -50.0)
        y = run_node(node, {"in": x}, SR, 256)["out"][0]
        assert np.max(np.abs(y[:23000])) < 1e-6
        np.testing.assert_allclose(y[25000:35000], x[0, 25000:35000], atol=1e-6)
