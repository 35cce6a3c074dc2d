"""ddx7.decoder: the numba TCN against the torch model, streaming at any host block,
the model file, and train-ddx7 end to end (tiny)."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neuropatch.engine.errors import ModelFormatError  # noqa: E402
from neuropatch.engine.testing import FramesIn, run_node  # noqa: E402
from neuropatch.nodes.ddx7.model import DDX7Model, default_config, load_model, save_model  # noqa: E402
from neuropatch.nodes.ddx7.node import DDX7Decoder  # noqa: E402
from neuropatch.nodes.ddx7.torch_model import build_decoder, fm_synth, state_tensors  # noqa: E402
from neuropatch.nodes.fm.algorithms import CARRIERS, FEEDBACK, MODULATION  # noqa: E402
from neuropatch.nodes.fm.kernels import frames_render  # noqa: E402

SR = 48000
HOP = 256


def random_model(tmp_path, blocks=5, channels=32, seed=0):
    torch.manual_seed(seed)
    config = default_config(SR, HOP, blocks=blocks, channels=channels)
    decoder = build_decoder(config)
    with torch.no_grad():
        for p in decoder.parameters():
            p.mul_(3.0)     # livelier outputs than the initialisation's
    path = tmp_path / "m.safetensors"
    save_model(path, DDX7Model(config, state_tensors(decoder)))
    return path, decoder, config


def features(n_frames, seed=1):
    rng = np.random.default_rng(seed)
    f0 = 220.0 * 2 ** np.cumsum(rng.normal(0, 0.03, n_frames))
    loud = np.clip(-40 + np.cumsum(rng.normal(0, 2.0, n_frames)), -90, 0)
    return f0.astype(np.float32), loud.astype(np.float32)


def decode(path, f0, loud, block_size):
    node = DDX7Decoder()
    node.set_resource("model", path)
    ins = {"f0": FramesIn(f0[:, None, None], HOP), "loudness": FramesIn(loud[:, None, None], HOP)}
    return run_node(node, ins, SR, block_size, n_samples=len(f0) * HOP)


class TestDecoder:
    def test_numba_levels_match_the_torch_model_over_a_sequence(self, tmp_path):
        path, decoder, _ = random_model(tmp_path)
        f0, loud = features(400)
        decoder = decoder.double()      # the kernel computes in float64 (float32 torch rounds at ~1e-5 here)
        with torch.no_grad():
            expected = decoder(torch.from_numpy(f0).double()[None], torch.from_numpy(loud).double()[None])[0].numpy()
        got = decode(path, f0, loud, 256)["levels"][:, 0, :]
        assert got.shape == expected.shape == (400, 6)
        assert np.std(expected) > 0.05       # the comparison is not between constants
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)

    @pytest.mark.parametrize("block_size", [1, 17, 100, 1024])
    def test_streaming_at_any_host_block_equals_the_whole_sequence(self, tmp_path, block_size):
        path, decoder, _ = random_model(tmp_path, blocks=3, channels=16, seed=2)
        f0, loud = features(150, seed=3)
        with torch.no_grad():
            expected = decoder(torch.from_numpy(f0)[None], torch.from_numpy(loud)[None])[0].numpy()
        out = decode(path, f0, loud, block_size)
        np.testing.assert_allclose(out["levels"][:, 0, :], expected, atol=1e-5, rtol=0)
        np.testing.assert_allclose(out["f0"][:, 0, 0], f0, rtol=1e-6)

    def test_the_torch_model_stepped_per_frame_equals_the_whole_sequence(self, tmp_path):
        from neuropatch.nodes.ddx7.torch_model import StreamingDecoder

        _, decoder, config = random_model(tmp_path, blocks=3, channels=16, seed=5)
        f0, loud = features(60, seed=6)
        with torch.no_grad():
            expected = decoder(torch.from_numpy(f0)[None], torch.from_numpy(loud)[None])[0].numpy()
            stream = StreamingDecoder(decoder, config)
            stepped = np.stack([stream.step(float(a), float(b)).numpy() for a, b in zip(f0, loud)])
        np.testing.assert_allclose(stepped, expected, atol=1e-5, rtol=0)

    def test_unvoiced_frames_hold_the_last_voiced_f0(self, tmp_path):
        path, decoder, _ = random_model(tmp_path, blocks=2, channels=8)
        f0, loud = features(40)
        gaps = f0.copy()
        gaps[10:15] = 0.0
        held = f0.copy()
        held[10:15] = f0[9]
        with torch.no_grad():
            expected = decoder(torch.from_numpy(held)[None], torch.from_numpy(loud)[None])[0].numpy()
        out = decode(path, gaps, loud, 64)
        np.testing.assert_allclose(out["f0"][:, 0, 0], held, rtol=1e-6)
        np.testing.assert_allclose(out["levels"][:, 0, :], expected, atol=1e-5, rtol=0)

    def test_the_shipped_model_has_ddx7s_size(self):
        from neuropatch.nodes.ddx7.node import SHIPPED_MODEL

        model = load_model(SHIPPED_MODEL)
        assert 350_000 < model.parameters < 450_000
        assert model.config["features"]["n_fft"] == 1024 and model.config["hop"] == 256


class TestModelFile:
    def test_a_missing_tensor_is_named(self, tmp_path):
        path, decoder, config = random_model(tmp_path, blocks=2, channels=8)
        tensors = state_tensors(decoder)
        del tensors["blocks.1.conv2.weight"]
        from safetensors.numpy import save_file

        bad = tmp_path / "bad.safetensors"
        save_file(tensors, str(bad), metadata={"config": json.dumps(config)})
        with pytest.raises(ModelFormatError, match="blocks.1.conv2.weight"):
            load_model(bad)

    def test_a_file_of_another_format_is_refused(self, tmp_path):
        from neuropatch.assets import path as shipped

        with pytest.raises(ModelFormatError, match="config.format"):
            load_model(shipped("ddsp", "violin.safetensors"))


class TestTorchSynth:
    def test_torch_fm_synth_matches_the_numba_frame_renderer(self):
        rng = np.random.default_rng(4)
        f0 = (200 + 50 * rng.random(20)).astype(np.float64)
        levels = rng.random((20, 6)) * 1.5
        ratios = np.array([1, 1, 1, 1, 3, 14], np.float64)
        got = fm_synth(torch, torch.from_numpy(f0)[None], torch.from_numpy(levels)[None], HOP, SR, 2,
                       ratios)[0].numpy()
        ref = np.zeros(19 * HOP)
        frames_render(f0, levels, HOP, float(SR), 1, MODULATION, CARRIERS, FEEDBACK, ratios, 0.0, ref)
        np.testing.assert_allclose(got, ref, atol=1e-9)


def _recording(tmp_path, seconds=4.0):
    import soundfile as sf

    t = np.arange(int(seconds * SR)) / SR
    f = 220 * 2 ** (0.05 * np.sin(2 * np.pi * 5 * t))
    phase = np.cumsum(f) / SR
    x = 0.3 * np.sin(2 * np.pi * phase) + 0.1 * np.sin(4 * np.pi * phase) + 0.05 * np.sin(6 * np.pi * phase)
    folder = tmp_path / "audio"
    folder.mkdir()
    sf.write(folder / "tone.wav", x.astype(np.float32), SR)
    return folder


class TestTraining:
    def test_a_tiny_run_writes_a_model_the_chain_plays_and_resumes_from_its_checkpoint(self, tmp_path):
        from neuropatch.app.cli import main
        from neuropatch.nodes.fm.node import FMSynth

        audio = _recording(tmp_path)
        out = tmp_path / "tiny.safetensors"
        ckpt = tmp_path / "ckpt"
        args = ["train-ddx7", str(audio), "-o", str(out), "--blocks", "2", "--channels", "8", "--segment-frames",
                "40", "--batch", "2", "--checkpoint", str(ckpt), "-q"]
        assert main(args + ["--steps", "3"]) == 0
        first = load_model(out)
        assert json.loads((ckpt / "progress.json").read_text())["step"] == 3
        assert first.config["training"]["quality"]["segments"] >= 1
        # the reverb learned with it plays in ddsp.reverb: an impulse comes back as itself plus the IR
        from neuropatch.nodes.ddsp.node import DDSPReverb

        reverb = DDSPReverb()
        reverb.set_resource("model", out)
        reverb.set_param("source", "model")
        reverb.set_param("wet_db", 0.0)
        impulse = np.zeros((1, 16384), np.float32)
        impulse[0, 0] = 1.0
        wet = run_node(reverb, {"in": impulse}, SR, 256)["out"][0]
        ir = first.reverb_ir
        np.testing.assert_allclose(wet[:len(ir)], np.concatenate([[1.0], ir[1:]])[:16384], atol=1e-6)
        # the same schedule again: nothing left to train, the checkpoint's weights and final loss come back
        assert main(args + ["--steps", "3"]) == 0
        again = load_model(out)
        assert again.config["training"]["final_loss"] == first.config["training"]["final_loss"]
        for name, t in first.tensors.items():
            np.testing.assert_array_equal(again.tensors[name], t)
        # a longer schedule continues from step 3
        assert main(args + ["--steps", "5"]) == 0
        assert json.loads((ckpt / "progress.json").read_text())["step"] == 5
        assert any(not np.array_equal(load_model(out).tensors[k], t) for k, t in first.tensors.items())

        f0, loud = features(60)
        levels = decode(out, f0, loud, 256)
        synth = FMSynth()
        cfg = first.config
        synth.set_param("algorithm", cfg["algorithm"])
        for k, r in enumerate(cfg["ratios"], 1):
            synth.set_param(f"ratio_{k}", r)
        ins = {"f0": FramesIn(levels["f0"], HOP), "levels": FramesIn(levels["levels"], HOP)}
        y = run_node(synth, ins, SR, 256, n_samples=60 * HOP)["out"]
        assert np.all(np.isfinite(y)) and np.sqrt(np.mean(y ** 2)) > 1e-3


def test_the_example_patch_plays_the_shipped_model_with_its_synth_and_features():
    from pathlib import Path

    from neuropatch.nodes.ddx7.node import SHIPPED_MODEL

    patch = json.loads((Path(__file__).resolve().parents[2] / "patches" / "fm_resynthesis.json").read_text())
    nodes = {n["type"]: n for n in patch["nodes"]}
    cfg = load_model(SHIPPED_MODEL).config
    fm = nodes["synth.fm"]["params"]
    assert fm["algorithm"] == cfg["algorithm"] and fm["feedback"] == cfg["feedback"]
    assert [fm[f"ratio_{k}"] * 2 ** (fm[f"detune_{k}"] / 1200) for k in range(1, 7)] == cfg["ratios"]
    pitch, loud = nodes["feature.pitch"]["params"], nodes["feature.loudness"]["params"]
    feats = cfg["features"]
    assert (pitch["frame_length"], pitch["hop"], pitch["fmin"], pitch["fmax"], pitch["threshold"]) == \
        (feats["n_fft"], feats["hop"], feats["fmin"], feats["fmax"], feats["threshold"])
    assert (loud["n_fft"], loud["hop"]) == (feats["n_fft"], feats["hop"])
