"""The `neuropatch` command, run as a user would (a subprocess)."""
import json

import numpy as np
import pytest
import soundfile as sf


def write_patch(path, nodes, edges, settings=None):
    path.write_text(json.dumps({"format": "neuropatch", "version": 1,
                                "settings": settings or {"sample_rate": 48000, "block_size": 256},
                                "nodes": nodes, "edges": [{"from": a, "to": b} for a, b in edges]}))
    return path


def gain_patch(tmp_path, db=-6.0):
    return write_patch(tmp_path / "gain.json",
                       [{"id": "in", "type": "io.audio_in"},
                        {"id": "g", "type": "util.gain", "params": {"gain_db": db}},
                        {"id": "out", "type": "io.audio_out"}],
                       [(["in", "out"], ["g", "in"]), (["g", "out"], ["out", "in"])])


@pytest.fixture
def stereo_wav(tmp_path):
    x = np.random.default_rng(3).uniform(-0.9, 0.9, (48000, 2)).astype(np.float32)
    sf.write(tmp_path / "in.wav", x, 48000, subtype="FLOAT")
    return tmp_path / "in.wav", x


def test_render_gain_patch_scales_input_by_minus_6_db(cli, tmp_path, stereo_wav):
    wav, x = stereo_wav
    r = cli("render", gain_patch(tmp_path), "--in", wav, "--out", tmp_path / "out.wav")
    assert r.returncode == 0, r.stderr
    y, sr = sf.read(tmp_path / "out.wav", dtype="float32")
    assert sr == 48000 and y.shape == x.shape
    np.testing.assert_allclose(y, x * 10 ** (-6 / 20), atol=1e-7)
    assert np.allclose(y[x != 0] / x[x != 0], 0.5012, atol=5e-5)
    assert "render" in r.stderr and "100%" in r.stderr  # progress bar on stderr


def test_render_names_the_nodes_it_leaves_out_and_renders_the_same(cli, tmp_path, stereo_wav):
    wav, x = stereo_wav
    patch = write_patch(tmp_path / "tuner.json",
                        [{"id": "in", "type": "io.audio_in"},
                         {"id": "g", "type": "util.gain", "params": {"gain_db": -6.0}},
                         {"id": "out", "type": "io.audio_out"}, {"id": "tuner", "type": "feature.pitch"}],
                        [(["in", "out"], ["g", "in"]), (["g", "out"], ["out", "in"]), (["in", "out"], ["tuner", "in"])])
    r = cli("render", patch, "--in", wav, "--out", tmp_path / "out.wav")
    assert r.returncode == 0, r.stderr
    assert "left out of the render" in r.stderr and "'tuner' (feature.pitch)" in r.stderr
    y, _ = sf.read(tmp_path / "out.wav", dtype="float32")
    np.testing.assert_allclose(y, x * 10 ** (-6 / 20), atol=1e-7)


def test_render_resamples_input_at_another_rate(cli, tmp_path):
    t = np.arange(44100) / 44100
    sf.write(tmp_path / "in44.wav", (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 44100, subtype="FLOAT")
    r = cli("render", gain_patch(tmp_path, 0.0), "--in", tmp_path / "in44.wav", "--out", tmp_path / "o.wav", "--sr", "48000")
    assert r.returncode == 0, r.stderr
    assert "resampled to 48000 Hz" in r.stderr
    y, sr = sf.read(tmp_path / "o.wav")
    assert sr == 48000 and len(y) == 48000
    spectrum = np.abs(np.fft.rfft(y[4800:-4800] * np.hanning(len(y) - 9600)))
    peak_hz = np.argmax(spectrum) * 48000 / (len(y) - 9600)
    assert abs(peak_hz - 440) < 2  # played at the right pitch


def test_render_generator_patch_for_given_seconds(cli, tmp_path):
    p = write_patch(tmp_path / "osc.json",
                    [{"id": "osc", "type": "gen.oscillator", "params": {"freq_hz": 1000.0, "level_db": -6.0}},
                     {"id": "out", "type": "io.audio_out"}], [(["osc", "out"], ["out", "in"])])
    r = cli("render", p, "--seconds", "0.5", "--out", tmp_path / "o.wav", "--block", "64")
    assert r.returncode == 0, r.stderr
    y, _ = sf.read(tmp_path / "o.wav")
    assert len(y) == 24000 and abs(np.max(np.abs(y)) - 10 ** (-6 / 20)) < 1e-3


def test_render_writes_npy_of_frames_and_audio(cli, tmp_path, stereo_wav):
    wav, x = stereo_wav
    p = write_patch(tmp_path / "npy.json",
                    [{"id": "in", "type": "io.audio_in"},
                     {"id": "cap", "type": "io.npy_out", "params": {"path": str(tmp_path / "cap.npy")}}],
                    [(["in", "out"], ["cap", "in"])])
    r = cli("render", p, "--in", wav)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "cap.npy"), x.T)


@pytest.mark.parametrize("content, where", [
    ('{"format": "neuropatch", "version": 1, "nodes": [{"id": "g", "type": "util.gain", "params": {"gain_db": "loud"}}]}',
     "$.nodes[0].params.gain_db"),
    ("{ not json", "$: invalid JSON"),
    ('{"format": "neuropatch", "version": 9}', "$.version"),
])
def test_validate_reports_one_line_and_exit_2(cli, tmp_path, content, where):
    p = tmp_path / "bad.json"
    p.write_text(content)
    r = cli("validate", p)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {p}: ") and where in lines[0]
    assert "Traceback" not in r.stderr


def test_validate_reports_non_utf8_and_cycles_cleanly(cli, tmp_path):
    p = tmp_path / "bin.json"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    r = cli("validate", p)
    assert r.returncode == 2 and "not UTF-8" in r.stderr and "Traceback" not in r.stderr
    loop = write_patch(tmp_path / "loop.json", [{"id": "a", "type": "util.gain"}, {"id": "b", "type": "util.gain"}],
                       [(["a", "out"], ["b", "in"]), (["b", "out"], ["a", "in"])])
    r = cli("validate", loop)
    assert r.returncode == 2 and "a -> b -> a" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_validate_accepts_a_good_patch(cli, tmp_path):
    r = cli("validate", gain_patch(tmp_path))
    assert r.returncode == 0 and "ok" in r.stdout


def test_render_reports_missing_input_file_without_traceback(cli, tmp_path):
    r = cli("render", gain_patch(tmp_path), "--in", tmp_path / "nope.wav", "--out", tmp_path / "o.wav")
    assert r.returncode == 2 and "no such audio file" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    r = cli("render", gain_patch(tmp_path), "--in", tmp_path / "corrupt.wav", "--out", tmp_path / "o.wav")
    assert r.returncode == 2 and "cannot read audio" in r.stderr and "Traceback" not in r.stderr


def test_nodes_json_lists_every_registered_type_with_ports_and_params(cli, registry):
    r = cli("nodes", "--json")
    assert r.returncode == 0, r.stderr
    listed = {d["type"]: d for d in json.loads(r.stdout)}
    assert set(listed) == set(registry.types())
    gain = listed["util.gain"]
    assert gain["inputs"] == [{"name": "in", "kind": "audio", "channels": None}]
    assert gain["params"][0]["name"] == "gain_db" and gain["params"][0]["unit"] == "dB"


def test_render_aligns_parallel_paths_of_different_latency(cli, tmp_path, stereo_wav):
    """dry path + STFT->ISTFT path (n_fft samples of latency) summed: aligned, the sum is 2x."""
    wav, x = stereo_wav
    p = write_patch(tmp_path / "par.json",
                    [{"id": "in", "type": "io.audio_in"},
                     {"id": "stft", "type": "spectral.stft", "params": {"n_fft": 1024, "hop": 256, "output": "complex"}},
                     {"id": "istft", "type": "spectral.istft"},
                     {"id": "mix", "type": "util.mix"},
                     {"id": "out", "type": "io.audio_out"}],
                    [(["in", "out"], ["stft", "in"]), (["stft", "out"], ["istft", "in"]),
                     (["istft", "out"], ["mix", "in1"]), (["in", "out"], ["mix", "in2"]),
                     (["mix", "out"], ["out", "in"])])
    r = cli("render", p, "--in", wav, "--out", tmp_path / "o.wav", "--block", "100")
    assert r.returncode == 0, r.stderr
    assert "graph latency 1024 samples" in r.stderr
    y, _ = sf.read(tmp_path / "o.wav", dtype="float32")
    np.testing.assert_allclose(y, 2 * x, atol=1e-4)
