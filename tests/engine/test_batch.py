"""`neuropatch batch`: one patch over many files, each output equal to a single render of
that file; bad inputs reported and skipped; an interrupted batch resumes."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from neuropatch.app import cli as cli_module
from neuropatch.engine import NeuropatchError
from neuropatch.engine.batch_run import Batch, BatchOptions

REPO = Path(__file__).resolve().parents[2]
AMP_SIM = REPO / "patches" / "amp_sim.json"


def make_inputs(folder: Path, count: int, seconds: float = 0.25, seed: int = 0) -> list[Path]:
    """`count` noise-burst files in two sub-folders; one stereo, one at 44.1 kHz."""
    rng = np.random.default_rng(seed)
    paths = []
    for k in range(count):
        sr = 44100 if k == 3 else 48000
        channels = 2 if k == 5 else 1
        x = (rng.uniform(-0.6, 0.6, (int(seconds * sr), channels)) * np.hanning(int(seconds * sr))[:, None])
        p = folder / ("a" if k % 2 else "b") / f"take{k:02d}.wav"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, x.astype(np.float32), sr, subtype="FLOAT")
        paths.append(p)
    return paths


def single_render(patch, wav, out):
    """The oracle: a plain `neuropatch render` of one file (in-process)."""
    assert cli_module.main(["render", str(patch), "--in", str(wav), "--out", str(out), "-q"]) == 0
    return sf.read(out, dtype="float32")[0]


def gain_patch(folder: Path, extra_nodes=(), extra_edges=()) -> Path:
    p = folder / "gain.json"
    p.write_text(json.dumps({
        "format": "neuropatch", "version": 1, "settings": {"sample_rate": 48000, "block_size": 256},
        "nodes": [{"id": "in", "type": "io.audio_in"},
                  {"id": "g", "type": "util.gain", "params": {"gain_db": -6.0}},
                  {"id": "out", "type": "io.audio_out"}, *extra_nodes],
        "edges": [{"from": ["in", "out"], "to": ["g", "in"]}, {"from": ["g", "out"], "to": ["out", "in"]},
                  *extra_edges]}))
    return p


@pytest.fixture(scope="module")
def twenty(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    return folder, make_inputs(folder, 20)


@pytest.fixture(scope="module")
def oracle(twenty, tmp_path_factory):
    folder, paths = twenty
    out = tmp_path_factory.mktemp("single")
    return {p.relative_to(folder): single_render(AMP_SIM, p, out / f"{k}.wav") for k, p in enumerate(paths)}


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_batch_outputs_are_bit_identical_to_single_renders(backend, twenty, oracle, tmp_path):
    folder, paths = twenty
    if backend == "ray":
        pytest.importorskip("ray")
    report = Batch(BatchOptions(str(AMP_SIM), [str(folder)], tmp_path / "out", workers=2, backend=backend)).run()
    assert report.summary()["ok"] == 20
    for rel, expected in oracle.items():
        got, sr = sf.read(tmp_path / "out" / rel.with_suffix(".wav"), dtype="float32")
        assert sr == 48000 and np.abs(expected).max() > 0.01
        assert np.array_equal(got, expected), rel
    doc = json.loads((tmp_path / "out" / "batch_report.json").read_text())
    take03 = next(e for e in doc["items"] if e["key"] == "a/take03.wav")
    assert take03["notes"] == ["resampled from 44100 Hz to 48000 Hz"]
    assert take03["peak"] == pytest.approx(float(np.abs(oracle[Path("a/take03.wav")]).max()))
    assert take03["audio_seconds"] == pytest.approx(0.25, abs=1e-3)


def test_a_corrupt_and_a_missing_input_fail_with_their_errors_and_the_rest_succeed(tmp_path):
    paths = make_inputs(tmp_path / "in", 4)
    (tmp_path / "in" / "b" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    listing = tmp_path / "inputs.txt"
    listing.write_text("\n".join([*(str(p) for p in paths), str(tmp_path / "in" / "b" / "broken.wav"),
                                  str(tmp_path / "in" / "gone.wav")]))
    code = cli_module.main(["batch", str(gain_patch(tmp_path)), "--inputs", str(listing),
                            "--out", str(tmp_path / "out"), "-q"])
    assert code == 1  # some failed: scripts can tell
    doc = json.loads((tmp_path / "out" / "batch_report.json").read_text())
    status = {e["key"]: (e["status"], e["error"]) for e in doc["items"]}
    assert status["b/broken.wav"][0] == "failed" and "cannot read audio" in status["b/broken.wav"][1]
    assert status["gone.wav"][0] == "failed" and "no such audio file" in status["gone.wav"][1]
    assert sorted(k for k, (s, _) in status.items() if s == "ok") == \
        sorted(p.relative_to(tmp_path / "in").as_posix() for p in paths)
    assert doc["summary"]["ok"] == 4 and doc["summary"]["failed"] == 2


def test_a_sweep_renders_every_combination_into_named_folders(tmp_path):
    (path,) = make_inputs(tmp_path / "in", 1)
    x, _ = sf.read(path, dtype="float32")
    patch = gain_patch(tmp_path)
    report = Batch(BatchOptions(str(patch), [str(tmp_path / "in")], tmp_path / "out",
                                sets=("g.gain_db=-6,0,6",))).run()
    assert report.summary()["ok"] == 3
    for db in (-6, 0, 6):
        y, _ = sf.read(tmp_path / "out" / f"g.gain_db={float(db)}" / "b" / "take00.wav", dtype="float32")
        np.testing.assert_allclose(y, x * 10 ** (db / 20), rtol=1e-6, atol=1e-7)
    keys = sorted(e["settings"]["g.gain_db"] for e in report.entries.values())
    assert keys == [-6.0, 0.0, 6.0]


def test_a_sweep_over_model_files_swaps_the_model(tmp_path):
    make_inputs(tmp_path / "in", 1)
    shipped = REPO / "assets" / "amp" / "fluid_crunch.nam"
    darker = json.loads(shipped.read_text())
    darker["weights"] = [w * 0.9 for w in darker["weights"]]  # another model of the same kind
    (tmp_path / "darker.nam").write_text(json.dumps(darker))
    models = [shipped, tmp_path / "darker.nam"]
    report = Batch(BatchOptions(str(AMP_SIM), [str(tmp_path / "in")], tmp_path / "out",
                                sets=(f"amp.model={models[0]},{models[1]}",))).run()
    assert report.summary()["ok"] == 2
    a, b = (sf.read(next((tmp_path / "out").glob(f"amp.model={m.stem}/b/take00.wav")), dtype="float32")[0]
            for m in models)
    assert not np.allclose(a, b)


@pytest.mark.parametrize("bad, words", [
    ("nope.gain_db=1", "no node 'nope'"),
    ("g.volume=1", "has no param or resource 'volume'"),
    ("g.gain_db=500", "outside"),
    ("g.gain_db", "expected NODE.PARAM=V1,V2"),
])
def test_bad_sweeps_are_refused_before_anything_renders(tmp_path, bad, words):
    make_inputs(tmp_path / "in", 1)
    with pytest.raises(NeuropatchError, match=words):
        Batch(BatchOptions(str(gain_patch(tmp_path)), [str(tmp_path / "in")], tmp_path / "out", sets=(bad,)))
    assert not (tmp_path / "out").exists()


def test_existing_outputs_are_kept_unless_overwrite(tmp_path):
    make_inputs(tmp_path / "in", 2)
    target = tmp_path / "out" / "b" / "take00.wav"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"someone else's file")
    report = Batch(BatchOptions(str(gain_patch(tmp_path)), [str(tmp_path / "in")], tmp_path / "out")).run()
    assert target.read_bytes() == b"someone else's file"
    assert report.entries["b/take00.wav"]["status"] == "skipped"
    assert report.entries["a/take01.wav"]["status"] == "ok"
    Batch(BatchOptions(str(gain_patch(tmp_path)), [str(tmp_path / "in")], tmp_path / "out", overwrite=True)).run()
    assert sf.read(target, dtype="float32")[0].shape == (12000,)


def test_stream_captures_are_stored_per_input_as_npy(tmp_path):
    (path,) = make_inputs(tmp_path / "in", 1)
    x, _ = sf.read(path, dtype="float32")
    patch = gain_patch(tmp_path, [{"id": "raw", "type": "io.npy_out", "params": {"path": "never.npy"}}],
                       [{"from": ["in", "out"], "to": ["raw", "in"]}])
    Batch(BatchOptions(str(patch), [str(tmp_path / "in")], tmp_path / "out")).run()
    raw = np.load(tmp_path / "out" / "b" / "take00.raw.npy", allow_pickle=False)
    np.testing.assert_array_equal(raw[0], x)
    assert not (tmp_path / "never.npy").exists() and not Path("never.npy").exists()


def test_a_bundle_batches_like_its_patch(tmp_path):
    from neuropatch.engine.bundle import write_bundle

    make_inputs(tmp_path / "in", 2)
    write_bundle(AMP_SIM, tmp_path / "amp.npbundle")
    Batch(BatchOptions(str(tmp_path / "amp.npbundle"), [str(tmp_path / "in")], tmp_path / "b")).run()
    Batch(BatchOptions(str(AMP_SIM), [str(tmp_path / "in")], tmp_path / "p")).run()
    for rel in ("a/take01.wav", "b/take00.wav"):
        assert np.array_equal(sf.read(tmp_path / "b" / rel)[0], sf.read(tmp_path / "p" / rel)[0])


# ---- interruption ---------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_a_killed_batch_resumes_with_only_the_rest(sig, tmp_path):
    paths = make_inputs(tmp_path / "in", 16, seconds=1.0)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "neuropatch.app.cli", "batch", str(AMP_SIM), "--inputs",
           str(tmp_path / "in"), "--out", str(out), "--workers", "2", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    journal = out / "batch_report.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if journal.is_file() and len(journal.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"no progress: {proc.communicate()[1]}")
    workers = _children(proc.pid)
    assert workers
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 5
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers), "worker processes outlived the driver"

    finished = {p: p.stat().st_mtime_ns for p in out.rglob("take*.wav")}
    assert 0 < len(finished) < 16
    for p in finished:  # every output present is whole
        assert sf.read(p, dtype="float32")[0].shape == (48000,)
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "batch_report.json").read_text())
    assert doc["summary"]["ok"] == 16 and doc["summary"]["pending"] == 0
    assert all(e["attempts"] == 1 for e in doc["items"])  # nothing rendered twice
    for p, stamp in finished.items():
        assert p.stat().st_mtime_ns == stamp
    assert sorted(p.relative_to(out).with_suffix("") for p in out.rglob("take*.wav")) == \
        sorted(p.relative_to(tmp_path / "in").with_suffix("") for p in paths)
    assert not [p for p in out.rglob("*") if p.name.endswith(".partial")]
    assert not journal.exists()


def test_a_report_of_another_patch_is_not_resumed(tmp_path):
    make_inputs(tmp_path / "in", 1)
    Batch(BatchOptions(str(gain_patch(tmp_path)), [str(tmp_path / "in")], tmp_path / "out")).run()
    with pytest.raises(NeuropatchError, match="another patch"):
        Batch(BatchOptions(str(AMP_SIM), [str(tmp_path / "in")], tmp_path / "out"))
