"""`neuropatch render` / `validate` with bad input: one line `error: ...`, exit 2, no traceback."""
import json

import numpy as np
import pytest
import soundfile as sf

from neuropatch.app.cli import main


def write_patch(path, nodes, edges):
    path.write_text(json.dumps({"format": "neuropatch", "version": 1,
                                "settings": {"sample_rate": 48000, "block_size": 256},
                                "nodes": nodes, "edges": [{"from": a, "to": b} for a, b in edges]}))
    return path


@pytest.fixture
def gain_patch(tmp_path):
    return write_patch(tmp_path / "gain.json",
                       [{"id": "in", "type": "io.audio_in"},
                        {"id": "g", "type": "util.gain", "params": {"gain_db": -6.0}},
                        {"id": "out", "type": "io.audio_out"}],
                       [(["in", "out"], ["g", "in"]), (["g", "out"], ["out", "in"])])


@pytest.fixture
def wav(tmp_path):
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (4800, 2)).astype(np.float32)
    sf.write(tmp_path / "in.wav", x, 48000, subtype="FLOAT")
    return tmp_path / "in.wav"


def run(capsys, *args):
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    return code, err


def assert_one_error_line(code, err, *words):
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], err


class TestRenderArguments:
    @pytest.mark.parametrize("value", ["0", "-5", "1000000000"])
    def test_bad_sample_rate_is_refused_before_any_work(self, capsys, gain_patch, wav, tmp_path, value):
        code, err = run(capsys, "render", gain_patch, "--in", wav, "--out", tmp_path / "o.wav", "--sr", value)
        assert_one_error_line(code, err, "--sr")
        assert "resampled" not in err and not (tmp_path / "o.wav").exists()

    @pytest.mark.parametrize("value", ["0", "-5", "1000000000"])
    def test_bad_block_size_is_refused(self, capsys, gain_patch, wav, tmp_path, value):
        code, err = run(capsys, "render", gain_patch, "--in", wav, "--out", tmp_path / "o.wav", "--block", value)
        assert_one_error_line(code, err, "--block")

    @pytest.mark.parametrize("value", ["-1", "nan", "inf", "0"])
    def test_bad_length_in_seconds_is_refused(self, capsys, gain_patch, tmp_path, value):
        code, err = run(capsys, "render", gain_patch, "--out", tmp_path / "o.wav", "--seconds", value)
        assert_one_error_line(code, err, "--seconds")

    def test_output_in_a_missing_folder_is_refused_before_rendering(self, capsys, gain_patch, wav, tmp_path):
        code, err = run(capsys, "render", gain_patch, "--in", wav, "--out", tmp_path / "nope" / "o.wav")
        assert_one_error_line(code, err, "nope")
        assert "render" not in err.replace("error:", "")  # no progress bar: nothing was rendered

    def test_output_that_is_a_folder_is_refused(self, capsys, gain_patch, wav, tmp_path):
        code, err = run(capsys, "render", gain_patch, "--in", wav, "--out", tmp_path)
        assert_one_error_line(code, err, "folder")

    def test_output_with_an_unknown_extension_is_refused_before_rendering(self, capsys, gain_patch, wav, tmp_path):
        code, err = run(capsys, "render", gain_patch, "--in", wav, "--out", tmp_path / "o.xyz")
        assert_one_error_line(code, err, ".xyz")

    def test_output_file_without_any_audio_out_node_is_refused(self, capsys, tmp_path, wav):
        p = write_patch(tmp_path / "p.json", [{"id": "in", "type": "io.audio_in"}], [])
        code, err = run(capsys, "render", p, "--in", wav, "--out", tmp_path / "o.wav")
        assert_one_error_line(code, err, "io.audio_out")

    def test_a_folder_as_patch_is_refused(self, capsys, tmp_path, wav):
        code, err = run(capsys, "render", tmp_path, "--in", wav, "--out", tmp_path / "o.wav")
        assert_one_error_line(code, err, "directory")


class TestRenderOutputs:
    @pytest.mark.parametrize("ext", [".flac", ".ogg"])
    def test_render_to_compressed_formats_keeps_the_signal(self, capsys, gain_patch, wav, tmp_path, ext):
        code, err = run(capsys, "render", gain_patch, "--in", wav, "--out", tmp_path / f"o{ext}", "-q")
        assert code == 0, err
        y, sr = sf.read(tmp_path / f"o{ext}", dtype="float32")
        x, _ = sf.read(wav, dtype="float32")
        assert sr == 48000 and y.shape == x.shape
        if ext == ".flac":  # 24-bit PCM: exact to the quantisation step
            assert np.max(np.abs(y - x * 10 ** (-6 / 20))) < 2 ** -22
        else:  # Vorbis is lossy: the level survives
            level = np.sqrt(np.mean(y ** 2)) / np.sqrt(np.mean((x * 10 ** (-6 / 20)) ** 2))
            assert 0.8 < level < 1.25

    def test_several_audio_outs_are_summed_and_time_aligned(self, capsys, tmp_path):
        # in -> out1 directly; in -> delay 100 samples (latency-free node) -> out2: both land
        # in the same file, summed; the delay path is real delay, not latency, so no alignment
        x = np.zeros((1, 2000), np.float32)
        x[0, 10] = 1.0
        sf.write(tmp_path / "imp.wav", x.T, 48000, subtype="FLOAT")
        p = write_patch(tmp_path / "two.json",
                        [{"id": "in", "type": "io.audio_in"},
                         {"id": "d", "type": "util.delay", "params": {"delay_ms": 100 / 48}},
                         {"id": "o1", "type": "io.audio_out"},
                         {"id": "o2", "type": "io.audio_out"}],
                        [(["in", "out"], ["o1", "in"]), (["in", "out"], ["d", "in"]), (["d", "out"], ["o2", "in"])])
        code, err = run(capsys, "render", p, "--in", tmp_path / "imp.wav", "--out", tmp_path / "o.wav", "-q")
        assert code == 0, err
        y, _ = sf.read(tmp_path / "o.wav", dtype="float32")
        assert np.flatnonzero(np.abs(y) > 0.5).tolist() == [10, 110]


class TestValidate:
    def test_validate_prints_one_line_with_the_json_path(self, capsys, tmp_path):
        p = tmp_path / "bad.json"
        p.write_text(json.dumps({"format": "neuropatch", "version": 1,
                                 "nodes": [{"id": "g", "type": "util.gain", "params": {"gain_db": 10 ** 400}}]}))
        code, err = run(capsys, "validate", p)
        assert_one_error_line(code, err, "$.nodes[0].params.gain_db")
        assert err.startswith(f"error: {p}: $.nodes[0].params.gain_db: ")

    def test_control_characters_in_messages_are_escaped(self, capsys, tmp_path):
        p = tmp_path / "bad.json"
        p.write_text(json.dumps({"format": "neuropatch", "version": 1,
                                 "nodes": [{"id": "g", "type": "gen.\u001b[2Jx"}],
                                 "edges": [{"from": ["g", "o\u001b[31m"], "to": ["g", "in"]}]}))
        code, err = run(capsys, "validate", p)
        assert code == 2 and "\u001b" not in err


@pytest.mark.parametrize("seconds", [-1.0, float("nan"), float("inf")])
def test_render_refuses_a_length_that_is_not_a_finite_positive_number(seconds):
    from neuropatch.engine import Graph, render

    with pytest.raises(ValueError, match="seconds"):
        render(Graph(), None, seconds=seconds)
