"""ddsp.synth: oscillator bank vs DDSP's formula, numba decoder vs the torch module,
spectral sanity, hop checks, and a tiny train-ddsp run loaded by the node."""
import json

import numpy as np
import pytest

from neuropatch.engine.errors import NodeConfigError
from neuropatch.engine.testing import FramesIn, run_node
from neuropatch.nodes.ddsp.kernels import decode_frame, harmonic_frames
from neuropatch.nodes.ddsp.model import load_model
from neuropatch.nodes.ddsp.node import SHIPPED_MODEL, DDSPSynth

SR = 48000


def synth_node(model=SHIPPED_MODEL, **params):
    node = DDSPSynth()
    node.set_resource("model", model)
    for k, v in params.items():
        node.set_param(k, v)
    return node


def constant_frames(value, n_frames, hop):
    return FramesIn(np.full((n_frames, 1, 1), value, np.float32), hop)


class TestHarmonicSynth:
    def test_glide_matches_ddsp_cumsum_formula(self):
        hop, n_frames, n_harm = 64, 40, 12
        rng = np.random.default_rng(0)
        f0_frames = np.geomspace(110.0, 3000.0, n_frames)  # upper harmonics cross Nyquist
        amp_frames = rng.uniform(0.0, 0.2, (n_frames, n_harm))
        n = (n_frames - 1) * hop
        out = np.zeros(n)
        harmonic_frames(f0_frames, amp_frames, hop, float(SR), out)
        grid = np.arange(n_frames) * hop
        t = np.arange(n)
        f0 = np.interp(t, grid, f0_frames)
        amps = np.stack([np.interp(t, grid, amp_frames[:, k]) for k in range(n_harm)], axis=1)
        k = np.arange(1, n_harm + 1)
        amps = amps * (f0[:, None] * k < SR / 2)
        oracle = np.sum(amps * np.sin(np.cumsum(2 * np.pi * f0[:, None] * k / SR, axis=0)), axis=1)
        np.testing.assert_allclose(out, oracle, atol=1e-4)

    def test_silent_above_nyquist(self):
        out = np.zeros(512)
        harmonic_frames(np.full(4, 30000.0), np.ones((4, 3)), 128, float(SR), out)
        assert np.all(out == 0.0)


class TestDecoder:
    def test_numba_decoder_matches_torch_module(self):
        torch = pytest.importorskip("torch")
        from neuropatch.nodes.ddsp.train import build_torch_decoder

        model = load_model(SHIPPED_MODEL)
        decoder = build_torch_decoder(model.config)
        decoder.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.tensors.items()})
        f0 = np.array([0.0, 55.0, 196.0, 440.0, 880.0, 2500.0, 9000.0])
        db = np.array([-120.0, -60.0, -35.0, -20.0, -10.0, 0.0, -25.0])
        with torch.no_grad():
            amps_t, noise_t = decoder(torch.from_numpy(f0).float(), torch.from_numpy(db).float(), float(SR))
        k, b = model.n_harmonics, model.n_bands
        h1, h2 = model.config["hidden"]
        w = model.weights64()
        for i in range(len(f0)):
            amps, noise = np.zeros(k), np.zeros(b)
            decode_frame(f0[i], db[i], float(SR), *w, model.config["leaky_slope"], model.config["noise_bias"],
                         np.zeros(h1), np.zeros(h2), np.zeros(1 + k + b), amps, noise)
            np.testing.assert_allclose(amps, amps_t[i].numpy(), atol=1e-5)
            np.testing.assert_allclose(noise, noise_t[i].numpy(), atol=1e-5)


class TestSynthNode:
    def test_constant_a440_peaks_at_a_harmonic(self):
        hop, n_frames = 256, 96
        node = synth_node(noise_db=-60.0)
        out = run_node(node, {"f0": constant_frames(440.0, n_frames, hop),
                              "loudness": constant_frames(-20.0, n_frames, hop)}, SR, 256,
                       n_samples=n_frames * hop)["out"][0]
        seg = out[4 * hop:].astype(np.float64)
        assert np.all(np.isfinite(out)) and np.max(np.abs(seg)) > 1e-4
        spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
        peak_hz = np.argmax(spec) * SR / len(seg)
        harmonic = peak_hz / 440.0
        assert round(harmonic) >= 1 and abs(harmonic - round(harmonic)) * 440.0 < 3 * SR / len(seg)

    def test_different_hops_name_both_ports(self):
        node = synth_node()
        with pytest.raises(NodeConfigError) as err:
            run_node(node, {"f0": constant_frames(440.0, 8, 256), "loudness": constant_frames(-20.0, 8, 192)},
                     SR, 256, n_samples=2048)
        assert "'f0'" in str(err.value) and "'loudness'" in str(err.value)

    def test_latency_is_one_hop(self):
        node = synth_node()
        run_node(node, {"f0": constant_frames(440.0, 4, 512), "loudness": constant_frames(-20.0, 4, 512)},
                 SR, 256, n_samples=2048)
        assert node.latency_samples == 512

    def test_shipped_model_has_config_beside_it(self):
        cfg = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())
        assert cfg == load_model(SHIPPED_MODEL).config
        assert SHIPPED_MODEL.stat().st_size < 1_000_000


def test_tiny_training_run_writes_a_model_the_node_plays(tmp_path):
    pytest.importorskip("torch")
    from neuropatch.nodes.ddsp.model import save_model
    from neuropatch.nodes.ddsp.train import train_ddsp

    t = np.arange(3 * SR) / SR
    f0 = 220.0 * 2.0 ** (np.floor(t * 2) % 5 / 12)
    phase = np.cumsum(2 * np.pi * f0 / SR)
    audio = sum(0.3 / k * np.sin(k * phase) for k in range(1, 9)).astype(np.float32)
    result = train_ddsp(audio, SR, epochs=2, n_harmonics=16, n_bands=8, hidden=(32, 32), progress=False)
    assert np.isfinite(result.final_loss)
    path = tmp_path / "tiny.safetensors"
    save_model(path, result.model)
    node = synth_node(path)
    out = run_node(node, {"f0": constant_frames(330.0, 32, 256), "loudness": constant_frames(-20.0, 32, 256)},
                   SR, 128, n_samples=32 * 256)["out"]
    assert out.shape == (1, 32 * 256) and np.all(np.isfinite(out)) and np.max(np.abs(out)) > 0


class TestModelFile:
    def test_garbage_file_raises_model_format_error(self, tmp_path):
        from neuropatch.engine.errors import ModelFormatError

        bad = tmp_path / "bad.safetensors"
        bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not a header")
        with pytest.raises(ModelFormatError):
            load_model(bad)

    def test_wrong_tensor_shape_names_the_tensor(self, tmp_path):
        from neuropatch.engine.errors import ModelFormatError
        from neuropatch.nodes.ddsp.model import DDSPModel, save_model

        model = load_model(SHIPPED_MODEL)
        tensors = dict(model.tensors)
        tensors["l2.bias"] = np.zeros(3, np.float32)
        path = tmp_path / "wrong.safetensors"
        save_model(path, DDSPModel(model.config, tensors))
        with pytest.raises(ModelFormatError, match="l2.bias"):
            load_model(path)

    def test_missing_model_file_raises_resource_error(self, tmp_path):
        from neuropatch.engine.errors import ResourceError

        node = synth_node(tmp_path / "missing.safetensors")
        with pytest.raises(ResourceError):
            run_node(node, {"f0": constant_frames(440.0, 4, 256), "loudness": constant_frames(-20.0, 4, 256)},
                     SR, 256, n_samples=1024)
