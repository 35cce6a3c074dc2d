"""vocoder.gan: streaming equals whole-signal inference of the same weights at any host
block, the latency it reports is where an onset lands, the mel settings it was trained
on are enforced, model files are checked, train-vocoder checkpoints and resumes, and the
shipped model against Griffin-Lim on audio it never heard."""
import json

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")

from neuropatch.engine import Edge, Graph, new_node_spec  # noqa: E402
from neuropatch.engine.compiler import compile_graph  # noqa: E402
from neuropatch.engine.errors import ModelFormatError, ResourceError  # noqa: E402
from neuropatch.engine.render import render  # noqa: E402
from neuropatch.engine.testing import FramesIn, run_node  # noqa: E402
from neuropatch.nodes.ddsp.torch_model import spectral_loss_np  # noqa: E402
from neuropatch.nodes.vocoder.model import VocoderModel, default_config, default_mel, load_model, save_model  # noqa: E402
from neuropatch.nodes.vocoder.node import SHIPPED_MODEL, GanVocoder  # noqa: E402
from neuropatch.nodes.vocoder.torch_model import (MelFrontEnd, StreamingGenerator, build_generator,  # noqa: E402
                                                   state_tensors)

from ..conftest import REPO  # noqa: E402

SR = 48000
HOP = 256
HELD_OUT = [REPO / "assets" / "ddsp" / "flute_phrase.flac", REPO / "assets" / "guitar_di_demo.flac",
            REPO / "assets" / "vocoder" / "speech_heldout.flac"]


def small_config():
    return default_config(default_mel(SR), channels=32)


def random_model(tmp_path, seed=0):
    """A small generator with livelier weights than its initialisation, saved to a file."""
    torch.manual_seed(seed)
    config = small_config()
    gen = build_generator(config)
    with torch.no_grad():
        for p in gen.parameters():
            p.mul_(2.0)
    path = tmp_path / "v.safetensors"
    save_model(path, VocoderModel(config, state_tensors(gen)))
    return path, gen.eval(), config


def noise_mel(config, seconds=1.0, seed=1):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(int(seconds * SR)) * np.linspace(0.01, 0.3, int(seconds * SR))).astype(np.float32)
    with torch.no_grad():
        return MelFrontEnd(config["mel"])(torch.from_numpy(x)[None])[0]      # [n_mels, F]


def mel_chain(sr=SR, stft=None, mel=None, model=SHIPPED_MODEL, tail=("vocoder.gan",)):
    """in -> STFT -> mel -> tail nodes; stft / mel: params over the vocoder's settings."""
    g = Graph(settings={"sample_rate": sr, "block_size": 256})
    specs = [("in", "io.audio_in", {"channels": 1}),
             ("stft", "spectral.stft", dict({"n_fft": 1024, "hop": HOP, "output": "power"}, **(stft or {}))),
             ("mel", "spectral.mel", dict({"n_mels": 80, "db": True, "top_db": 80.0}, **(mel or {})))]
    specs += [(t.split(".")[-1], t, p) for t, p in (x if isinstance(x, tuple) else (x, {}) for x in tail)]
    specs.append(("out", "io.audio_out", {}))
    prev = None
    for nid, type_id, params in specs:
        g.nodes[nid] = new_node_spec(type_id, nid, params=params)
        if type_id == "vocoder.gan":
            g.nodes[nid].resources = {"model": {"path": str(model)}}
        if prev is not None:
            g.edges.append(Edge(prev, "out", nid, "in"))
        prev = nid
    return g


class TestStreaming:
    @pytest.mark.parametrize("block_size", [64, 256, 1000])
    def test_block_by_block_output_equals_whole_signal_inference_after_the_latency(self, tmp_path, block_size):
        path, gen, config = random_model(tmp_path)
        mel = noise_mel(config)
        with torch.no_grad():
            expected = gen(mel[None])[0].numpy()
        node = GanVocoder()
        node.set_resource("model", path)
        node.set_param("chunk", 512)
        frames = np.ascontiguousarray(mel.T.numpy()[:, None, :])
        out = run_node(node, {"in": FramesIn(frames, HOP)}, SR, block_size, n_samples=len(expected) + 8192)["out"][0]
        # frame j of the input covers samples [j * hop, (j + 1) * hop) of the lane; the
        # buffering is the part of the latency that is not the model's own delay
        start = node.latency_samples - int(config["delay"])
        got = out[start:start + len(expected)]
        assert np.std(expected) > 1e-3          # not a comparison of silences
        assert np.max(np.abs(got - expected)) <= 1e-5 * np.max(np.abs(expected))
        assert np.all(out[:start] == 0.0)

    @pytest.mark.parametrize("frames_per_call", [1, 3, 7])
    def test_the_matrix_product_stream_equals_the_torch_module_on_the_whole_signal(self, tmp_path, frames_per_call):
        _, gen, config = random_model(tmp_path)
        mel = noise_mel(config, seconds=0.5)
        with torch.no_grad():
            expected = gen(mel[None])[0]
            stream = StreamingGenerator(gen)
            got = torch.cat([stream(mel[:, i:i + frames_per_call]) for i in range(0, mel.shape[1], frames_per_call)])
            stream.reset()
            again = stream(mel)
        assert float((got - expected).abs().max()) <= 1e-5 * float(expected.abs().max())
        assert float((again - expected).abs().max()) <= 1e-5 * float(expected.abs().max())   # reset: from silence

    def test_clicks_through_stft_mel_and_vocoder_land_at_the_reported_latency(self):
        n, clicks = SR, [6000 + k * 4837 for k in range(8)]      # at eight phases of the hop
        x = np.zeros((1, n), np.float32)
        for c in clicks:
            x[0, c:c + 16] = 0.8
        y, sched = render(mel_chain(), x, compensate_latency=False)
        latency = sched.node_latency["gan"]
        assert latency == (1024 - HOP) + sched.nodes["gan"].latency_samples
        # where each click's output energy is centred (the vocoder keeps no phase, so the
        # waveform does not reproduce the click): within the mel's time resolution, one hop
        energy = np.convolve(y[0] ** 2, np.hanning(257), mode="same")
        offsets = []
        for c in clicks:
            at = c + 8 + latency
            seg, t = energy[at - 2000:at + 2000], np.arange(-2000, 2000)
            offsets.append(float((seg * t).sum() / seg.sum()))
        assert abs(np.median(offsets)) <= HOP, offsets


class TestMelSettings:
    @pytest.mark.parametrize("stft,mel,named", [
        ({"output": "magnitude"}, {}, "output: the model expects 'power', the input has 'magnitude'"),
        ({"n_fft": 2048}, {}, "n_fft: the model expects 1024, the input has 2048"),
        ({}, {"n_mels": 64}, "n_mels: the model expects 80, the input has 64"),
        ({}, {"fmax": 8000.0}, "fmax: the model expects 24000.0, the input has 8000.0"),
        ({}, {"db": False}, "db: the model expects True, the input has False"),
        ({"hop": 512}, {}, "hop: the model expects 256, the input has 512"),
    ])
    def test_a_mel_made_with_other_settings_is_refused_naming_both_values(self, stft, mel, named):
        sched = compile_graph(mel_chain(stft=stft, mel=mel))
        assert named in sched.errors["gan"]

    def test_a_patch_at_another_sample_rate_is_refused_naming_both_rates(self):
        sched = compile_graph(mel_chain(sr=44100))
        assert "48000 Hz" in sched.errors["gan"] and "44100 Hz" in sched.errors["gan"]

    def test_the_vocoders_own_settings_compile_without_errors(self):
        sched = compile_graph(mel_chain())
        assert sched.errors == {}


class TestModelFile:
    def test_a_saved_model_loads_back_with_the_same_tensors_and_config(self, tmp_path):
        path, gen, config = random_model(tmp_path)
        model = load_model(path)
        assert model.config["mel"] == config["mel"]
        assert json.loads(path.with_suffix(".json").read_text())["format"] == "neuropatch.vocoder"
        for k, v in gen.state_dict().items():
            np.testing.assert_array_equal(model.tensors[k], v.numpy())

    def test_a_missing_file_is_a_resource_error(self, tmp_path):
        with pytest.raises(ResourceError, match="not found"):
            load_model(tmp_path / "nope.safetensors")

    def test_garbage_is_a_model_format_error(self, tmp_path):
        path = tmp_path / "bad.safetensors"
        path.write_bytes(b"\x00garbage" * 10)
        with pytest.raises(ModelFormatError, match="bad.safetensors"):
            load_model(path)

    def test_a_config_without_its_mel_settings_is_refused_naming_the_key(self, tmp_path):
        path, gen, config = random_model(tmp_path)
        del config["mel"]["n_fft"]
        save_model(path, VocoderModel(config, state_tensors(gen)))
        with pytest.raises(ModelFormatError, match="config.mel.n_fft missing"):
            load_model(path)

    def test_a_tensor_of_the_wrong_shape_is_refused_naming_it(self, tmp_path):
        path, gen, config = random_model(tmp_path)
        tensors = state_tensors(gen)
        tensors["conv_pre.conv.weight"] = tensors["conv_pre.conv.weight"][:, :40]
        from neuropatch.nodes.dsp.model_file import write_model_file
        write_model_file(path, tensors, config)
        with pytest.raises(ModelFormatError, match="conv_pre.conv.weight"):
            load_model(path)


def test_train_vocoder_checkpoints_resumes_and_reports_held_out_numbers(tmp_path, cli):
    rng = np.random.default_rng(0)
    t = np.arange(int(34 * SR)) / SR      # 8 blocks of 4 s and a bit: one held-out block
    f0 = 220.0 * 2 ** (np.floor(t * 2) % 12 / 12)     # a new semitone every half second
    audio = 0.2 * np.sin(2 * np.pi * np.cumsum(f0) / SR) + 0.01 * rng.standard_normal(len(t))
    (tmp_path / "data").mkdir()
    sf.write(tmp_path / "data" / "tones.wav", audio.astype(np.float32), SR)
    out = tmp_path / "v.safetensors"
    args = ["train-vocoder", tmp_path / "data", "-o", out, "--batch", "1", "--segment-frames", "8",
            "--channels", "16", "--checkpoint-every", "1", "--threads", "1"]
    first = cli(*args, "--steps", "2", "--warmup-steps", "1")
    assert first.returncode == 0, first.stderr
    assert json.loads((tmp_path / "v.ckpt" / "generator" / "progress.json").read_text())["step"] == 2
    second = cli(*args, "--steps", "4", "--warmup-steps", "1")
    assert second.returncode == 0, second.stderr
    assert "2/4" in second.stderr and "0/4" not in second.stderr      # resumed, not restarted
    assert "d=" in second.stderr                                      # the discriminators trained
    assert "held-out (1 blocks of 4 s): multi-scale spectral loss" in second.stdout
    model = load_model(out)
    assert model.config["training"]["steps"] == 4 and model.config["channels"] == 16
    assert model.config["training"]["quality"]["spectral_loss"] > 0
    tuned = cli("train-vocoder", tmp_path / "data", "-o", tmp_path / "tuned.safetensors", "--init", out, "--steps", "1",
                "--warmup-steps", "1", "--batch", "1", "--segment-frames", "8", "--threads", "1", "-q",
                "--spectral-weight", "1.5", "--oversample", "tones.wav=2")
    assert tuned.returncode == 0, tuned.stderr
    tuned_model = load_model(tmp_path / "tuned.safetensors")
    assert tuned_model.config["channels"] == 16 and tuned_model.config["training"]["init"] == "v.safetensors"
    assert tuned_model.config["training"]["init_training"]["steps"] == 4
    assert tuned_model.config["training"]["spectral_weight"] == 1.5
    assert tuned_model.config["training"]["oversample"] == {"tones.wav": 2}
    for bad, named in (("speech.wav=2", "speech.wav"), ("tones.wav=x", "tones.wav=x")):
        res = cli("train-vocoder", tmp_path / "data", "-o", tmp_path / "bad.safetensors", "--steps", "1",
                  "--warmup-steps", "1", "--oversample", bad, "-q")
        assert res.returncode != 0 and "Traceback" not in res.stderr and named in res.stderr, res.stderr


def test_train_vocoder_refuses_a_missing_folder_without_a_traceback(tmp_path, cli):
    res = cli("train-vocoder", tmp_path / "nothing", "-o", tmp_path / "v.safetensors")
    assert res.returncode != 0 and "Traceback" not in res.stderr and "nothing" in res.stderr


# ---- the shipped model against Griffin-Lim -------------------------------------------------


def log_spectral_distance(pred, target, n_fft=1024, hop=256):
    """RMS over frames and bins of the difference of power spectra in dB (floor -100 dB)."""
    def db(x):
        spec = torch.stft(torch.from_numpy(x), n_fft, hop, window=torch.hann_window(n_fft), return_complex=True)
        return 10 * np.log10(np.maximum(spec.abs().numpy() ** 2, 1e-10))
    return float(np.sqrt(np.mean((db(pred) - db(target)) ** 2)))


def shipped_against_griffin_lim():
    """{clip: (vocoder loss, Griffin-Lim loss, vocoder LSD, Griffin-Lim LSD)} on held-out clips."""
    results = {}
    gl_tail = (("spectral.mel_inverse", {"n_fft": 1024, "power": 2.0, "db": True, "iterations": 10}),
               ("spectral.griffin_lim", {"iterations": 32}))
    for clip in HELD_OUT:
        x, sr = sf.read(clip, dtype="float32")
        x = x[None] if x.ndim == 1 else x.T[:1]
        y_voc, _ = render(mel_chain(), x)
        y_gl, _ = render(mel_chain(tail=gl_tail), x)
        skip = SR // 10      # the first 0.1 s: history the streams start without
        target = x[0, skip:]
        voc, gl = y_voc[0, skip:], y_gl[0, skip:]
        results[clip.name] = (spectral_loss_np(voc, target), spectral_loss_np(gl, target),
                              log_spectral_distance(voc, target), log_spectral_distance(gl, target))
    return results


@pytest.fixture(scope="module")
def against_griffin_lim():
    return shipped_against_griffin_lim()


def report(results, clip):
    voc, gl, voc_lsd, gl_lsd = results[clip]
    print(f"{clip}: spectral loss vocoder {voc:.3f}, Griffin-Lim (32 it.) {gl:.3f} (ratio {voc / gl:.2f}); "
          f"LSD {voc_lsd:.2f} / {gl_lsd:.2f} dB")
    return voc, gl


@pytest.mark.slow
@pytest.mark.parametrize("clip", ["flute_phrase.flac", "guitar_di_demo.flac", "speech_heldout.flac"])
def test_shipped_vocoder_reaches_0_6x_griffin_lims_loss_on_held_out_audio(against_griffin_lim, clip):
    """Multi-scale spectral loss at most 0.6x Griffin-Lim's (32 iterations, same mel) on clips
    the model never heard: an instrument phrase, the demo guitar DI, and espeak-ng speech in
    a voice variant and sentences outside its training set. Measured with the shipped model:
    flute 7.93 vs 21.97 (0.36x), guitar 8.82 vs 19.20 (0.46x), speech 8.34 vs 14.57 (0.57x)
    (bench/RESULTS.md, "Vocoder": on the speech's voiced frames alone Griffin-Lim's loss is
    still the lower)."""
    voc, gl = report(against_griffin_lim, clip)
    assert voc <= 0.6 * gl, clip
