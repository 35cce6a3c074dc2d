"""The shipped VAE (assets/vae/tiny_rave) follows the nn~ TorchScript conventions, streams
chunk by chunk exactly like one whole call, reconstructs unseen audio better than trivial
baselines; bad files raise typed errors naming the file; train-vae and export-vae work."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.:DeprecationWarning")

from neuropatch.engine.errors import ModelFormatError, ResourceError  # noqa: E402
from neuropatch.nodes.vae.convention_model import (build_model, cache_buffers, default_config,  # noqa: E402
                                                   export_torchscript, load_convention_model, load_model,
                                                   save_model, zero_caches)
from neuropatch.nodes.vae.train import ltas_noise, spectral_distance, train_vae  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "assets" / "vae" / "tiny_rave.safetensors"
GUITAR = REPO / "assets" / "guitar_di_demo.flac"  # electric guitar: an instrument the model never heard
TINY = {"frontend": {"n_fft": 256, "hop": 64, "bands": 16, "fmin": 40.0, "fmax": 16000.0},
        "encoder_strides": [2, 2], "encoder_channels": [16, 16],
        "decoder_strides": [4], "decoder_channels": [16], "latent_dims": 4,
        "synth": {"hop": 64, "reference_hz": 440.0, "per_octave": 12, "fmin": 110.0, "fmax": 3520.0,
                  "f0_max": 880.0, "harmonics": 8, "pitch_width": 0.25, "freq_resolution": 16,
                  "noise_bands": 4, "noise_table_length": 4096, "noise_seed": 0}}


@pytest.fixture(scope="module")
def shipped():
    return load_convention_model(SHIPPED)


def call(module, method, x):
    with torch.inference_mode():
        return getattr(module, method)(x)


def whole(module, method, x):
    zero_caches(module)
    return call(module, method, x)


def chunked(module, method, x, sizes):
    zero_caches(module)
    outs, start, k = [], 0, 0
    while start < x.shape[-1]:
        outs.append(call(module, method, x[..., start:start + sizes[k % len(sizes)]]))
        start += sizes[k % len(sizes)]
        k += 1
    return torch.cat(outs, -1)


def assert_close(actual, expected, rel=1e-5):
    atol = rel * max(float(expected.abs().max()), 1e-12)
    np.testing.assert_allclose(actual.numpy(), expected.numpy(), rtol=0, atol=atol)


def method_input(module, method, frames, seed=0):
    in_ch, in_ratio, _, _ = getattr(module, f"{method}_params").tolist()
    gen = torch.Generator().manual_seed(seed)
    return 0.3 * torch.randn(2, in_ch, frames // in_ratio, generator=gen)


def guitar(seconds=6.0):
    import soundfile as sf

    audio, sr = sf.read(str(GUITAR), dtype="float32")
    return audio[:int(seconds * sr)], sr


class TestConvention:
    def test_shipped_model_loads_as_a_script_module_with_zeroed_caches(self, shipped):
        assert isinstance(shipped, torch.jit.ScriptModule)
        caches = cache_buffers(shipped)
        assert caches and all(float(buf.abs().max()) == 0.0 for buf in caches.values() if buf.numel())

    def test_methods_rate_and_attributes(self, shipped):
        assert shipped.get_methods() == ["encode", "decode", "forward"]
        assert shipped.sr == 48000 and shipped.get_sample_rate() == 48000
        assert shipped.get_attributes() == ["temperature"]
        assert shipped.get_temperature() == 0.0

    def test_params_buffers_match_the_shapes_methods_return(self, shipped):
        ratio = int(shipped.encode_params[3])
        assert ratio in (1024, 2048)
        for method in ("encode", "decode", "forward"):
            in_ch, in_ratio, out_ch, out_ratio = getattr(shipped, f"{method}_params").tolist()
            y = whole(shipped, method, torch.zeros(3, in_ch, 6 * ratio // in_ratio))
            assert tuple(y.shape) == (3, out_ch, 6 * ratio // out_ratio)
            assert y.dtype == torch.float32
            assert len(getattr(shipped, f"{method}_input_labels")) == in_ch
            assert len(getattr(shipped, f"{method}_output_labels")) == out_ch
        assert shipped.encode_params[2] == shipped.decode_params[0] == 8

    @pytest.mark.parametrize("method", ["encode", "decode", "forward"])
    def test_chunked_calls_equal_one_whole_call(self, shipped, method):
        ratio = int(shipped.encode_params[3])
        in_ratio = int(getattr(shipped, f"{method}_params")[1])
        x = method_input(shipped, method, 20 * ratio)
        reference = whole(shipped, method, x)
        for frames in ([1], [3, 1, 5], [7]):
            assert_close(chunked(shipped, method, x, [f * ratio // in_ratio for f in frames]), reference)

    def test_temperature_draws_posterior_noise_reproducibly(self, shipped):
        x = method_input(shipped, "encode", 8 * int(shipped.encode_params[3]))
        mean = whole(shipped, "encode", x)
        shipped.set_temperature(1.0)
        try:
            assert shipped.get_temperature() == 1.0
            torch.manual_seed(3)
            first = whole(shipped, "encode", x)
            torch.manual_seed(3)
            again = whole(shipped, "encode", x)
        finally:
            shipped.set_temperature(0.0)
        assert torch.equal(first, again)
        assert not torch.allclose(first, mean)
        assert torch.equal(whole(shipped, "encode", x), mean)


def harmonic_tone(f0, frames=48, ratio=1024, sr=48000):
    t = np.arange(frames * ratio) / sr
    x = sum(0.3 * 0.7 ** k * np.sin(2 * np.pi * (k + 1) * f0 * t) for k in range(10))
    return torch.from_numpy(x.astype(np.float32))[None, None]


class TestPitchDimension:
    @pytest.mark.parametrize("f0", [110.0, 220.0, 330.0, 523.25])
    def test_dimension_0_is_the_pitch_in_octaves_from_440_hz(self, shipped, f0):
        assert "pitch" in shipped.encode_output_labels[0]
        z = whole(shipped, "encode", harmonic_tone(f0))
        np.testing.assert_allclose(z[0, 0, 4:].numpy(), np.log2(f0 / 440.0), atol=0.01)

    @pytest.mark.parametrize("f0", [110.0, 330.0])
    def test_decoding_keeps_the_pitch_and_adding_to_dimension_0_transposes(self, shipped, f0):
        z = whole(shipped, "encode", harmonic_tone(f0))
        fifth = z.clone()
        fifth[:, 0] += 7 / 12
        again = whole(shipped, "encode", whole(shipped, "decode", z))
        up = whole(shipped, "encode", whole(shipped, "decode", fifth))
        assert abs(float(again[0, 0, 4:].median()) - np.log2(f0 / 440.0)) < 0.02
        assert abs(float(up[0, 0, 4:].median()) - (np.log2(f0 / 440.0) + 7 / 12)) < 0.02


class TestQuality:
    def test_reconstructs_unseen_guitar_better_than_trivial_baselines(self, shipped):
        audio, sr = guitar()
        ratio = int(shipped.encode_params[3])
        n = len(audio) // ratio * ratio
        x = torch.from_numpy(audio[:n])[None]
        y = whole(shipped, "forward", x[:, None])[:, 0]
        model = float(spectral_distance(y, x))
        silence = float(spectral_distance(torch.zeros_like(x), x))
        noise = float(spectral_distance(torch.from_numpy(ltas_noise(audio, n))[None], x))
        assert model < noise < silence

    def test_recorded_held_out_numbers_beat_the_baselines(self):
        training = json.loads(SHIPPED.with_suffix(".json").read_text())["training"]
        held = training["held_out_distance"]
        assert held["model"] < held["ltas_noise"] < held["silence"]


class TestFiles:
    def test_missing_weights_raise_resource_error_naming_the_file(self, tmp_path):
        with pytest.raises(ResourceError, match="nothing.safetensors"):
            load_convention_model(tmp_path / "nothing.safetensors")

    def test_missing_json_raises_model_format_error_naming_it(self, tmp_path):
        shutil.copy(SHIPPED, tmp_path / "lonely.safetensors")
        with pytest.raises(ModelFormatError, match="lonely.json"):
            load_convention_model(tmp_path / "lonely.safetensors")

    def test_json_that_is_not_json_names_the_file(self, tmp_path):
        shutil.copy(SHIPPED, tmp_path / "m.safetensors")
        (tmp_path / "m.json").write_text("{not json")
        with pytest.raises(ModelFormatError, match="m.json"):
            load_convention_model(tmp_path / "m.safetensors")

    def test_config_that_does_not_match_the_weights_names_the_tensor(self, tmp_path):
        shutil.copy(SHIPPED, tmp_path / "m.safetensors")
        config = json.loads(SHIPPED.with_suffix(".json").read_text())
        config["decoder_channels"][-1] += 1
        (tmp_path / "m.json").write_text(json.dumps(config))
        with pytest.raises(ModelFormatError, match=r"m\.safetensors.*decoder\.inp\.conv\.weight.*expected shape"):
            load_convention_model(tmp_path / "m.safetensors")

    def test_bad_config_value_names_the_key(self, tmp_path):
        shutil.copy(SHIPPED, tmp_path / "m.safetensors")
        config = json.loads(SHIPPED.with_suffix(".json").read_text())
        config["ratio"] = 1000
        (tmp_path / "m.json").write_text(json.dumps(config))
        with pytest.raises(ModelFormatError, match=r"m\.json.*config\.ratio"):
            load_convention_model(tmp_path / "m.safetensors")

    def test_garbage_weights_raise_model_format_error(self, tmp_path):
        (tmp_path / "g.safetensors").write_bytes(b"\x00\x01 not a safetensors file")
        shutil.copy(SHIPPED.with_suffix(".json"), tmp_path / "g.json")
        with pytest.raises(ModelFormatError, match="g.safetensors"):
            load_convention_model(tmp_path / "g.safetensors")

    def test_export_writes_torchscript_that_matches_the_safetensors_model(self, shipped, tmp_path):
        out = export_torchscript(SHIPPED, tmp_path / "tiny_rave.ts")
        loaded = torch.jit.load(str(out))
        assert loaded.get_methods() == shipped.get_methods()
        assert loaded.get_sample_rate() == 48000
        x = method_input(shipped, "forward", 10 * int(shipped.encode_params[3]))
        assert_close(whole(loaded, "forward", x), whole(shipped, "forward", x))
        assert_close(chunked(loaded, "forward", x, [2048]), whole(shipped, "forward", x))


class TestTraining:
    @staticmethod
    def tone(seconds=1.0, sr=48000):
        t = np.arange(int(seconds * sr)) / sr
        f0 = 220.0 * 2 ** (np.floor(t * 4) / 12)  # a rising semitone every quarter second
        envelope = 0.5 * (1 - np.exp(-(t % 0.25) * 40)) * np.exp(-(t % 0.25) * 6)
        phase = 2 * np.pi * np.cumsum(f0) / sr
        return (envelope * (np.sin(phase) + 0.3 * np.sin(3 * phase))).astype(np.float32)

    def test_a_tiny_run_reduces_the_loss_and_saves_a_loadable_model(self, tmp_path):
        losses = []
        config = default_config(**TINY)
        model, config, metrics = train_vae(self.tone(), 48000, steps=40, batch=4, segment_frames=8, lr=3e-3,
                                           config=config, progress=lambda s, n, loss: losses.append(loss))
        assert len(losses) == 40 and metrics["steps"] == 40
        assert np.mean(losses[-5:]) < np.mean(losses[:5])
        assert config["training"]["steps"] == 40
        weights, _ = save_model(model, config, tmp_path / "tiny")
        scripted = load_convention_model(weights)
        x = torch.from_numpy(self.tone(0.5)[:8 * config["ratio"]])[None, None]
        assert_close(whole(scripted, "forward", x), whole(model, "forward", x))

    def test_same_seed_same_weights(self):
        config = default_config(**TINY)
        runs = [train_vae(self.tone(), 48000, steps=3, batch=2, segment_frames=8, config=config, seed=5)[0]
                for _ in range(2)]
        for (name, a), b in zip(runs[0].state_dict().items(), runs[1].state_dict().values()):
            assert torch.equal(a, b), name

    def test_build_model_rejects_a_config_naming_the_key(self):
        with pytest.raises(ValueError, match=r"config\.ratio.*decoder_strides"):
            build_model(default_config(decoder_strides=[2], decoder_channels=[8]))

    def test_segments_shorter_than_the_largest_fft_are_refused(self):
        with pytest.raises(ValueError, match="segment"):
            train_vae(self.tone(), 48000, steps=1, segment_frames=4, config=default_config(**TINY))

    def test_cli_trains_and_exports(self, cli, tmp_path):
        import soundfile as sf

        sf.write(tmp_path / "tone.wav", self.tone(1.0), 48000)
        r = cli("train-vae", "--audio", tmp_path / "tone.wav", "--steps", "2", "--batch", "2",
                "--segment-frames", "4", "-q", "-o", tmp_path / "cli_vae.safetensors", timeout=120)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "cli_vae.safetensors").is_file() and (tmp_path / "cli_vae.json").is_file()
        model, config = load_model(tmp_path / "cli_vae.safetensors")
        assert config["training"]["steps"] == 2 and config["sr"] == 48000
        r = cli("export-vae", tmp_path / "cli_vae.safetensors", "-o", tmp_path / "cli_vae.ts", timeout=120)
        assert r.returncode == 0, r.stderr
        assert torch.jit.load(str(tmp_path / "cli_vae.ts")).get_methods() == ["encode", "decode", "forward"]

    def test_cli_reports_a_missing_model_in_one_line(self, cli, tmp_path):
        r = cli("export-vae", tmp_path / "absent.safetensors", "-o", tmp_path / "x.ts", timeout=120)
        assert r.returncode == 2
        assert "absent.safetensors" in r.stderr and len(r.stderr.strip().splitlines()) == 1
