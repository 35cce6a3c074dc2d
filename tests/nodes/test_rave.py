"""vae.rave on nn~-convention TorchScript fixtures (tests/data/make_nn_tilde_fixtures.py):
whole-signal module calls are the oracle; trust gates every entry point."""
from pathlib import Path

import numpy as np
import pytest
import torch

from neuropatch.engine import AddNode, Connect, Edge, Graph, compile_graph, new_node_spec, render
from neuropatch.engine.trust import UntrustedModelError, trust

DATA = Path(__file__).resolve().parents[1] / "data" / "nn_tilde"
MONO, STEREO, MARKER = DATA / "nn15_mono.ts", DATA / "nn16_stereo.ts", DATA / "marker_on_load.ts"


def oracle(path: Path, method: str, x: np.ndarray, attributes=None) -> np.ndarray:
    """The module itself on the whole signal, from zeroed caches. x: [channels, T]."""
    m = torch.jit.load(str(path))
    for name, b in m.named_buffers():
        if name.rsplit(".", 1)[-1].endswith(("cache", "pad")):
            b.zero_()
    for k, v in (attributes or {}).items():
        getattr(m, f"set_{k}")(v)
    with torch.inference_mode():
        return getattr(m, method)(torch.from_numpy(x)[None])[0].numpy()


def patch(path: Path, mode: str, sr: int, worker: str = "thread", chunk: int = 256, attributes=None,
          encoder=None) -> Graph:
    g = Graph(settings={"sample_rate": sr, "block_size": 256})
    g.apply(AddNode(new_node_spec("io.audio_in", "in")))
    g.apply(AddNode(new_node_spec("io.audio_out", "out")))
    spec = new_node_spec("vae.rave", "r", params={"mode": mode, "worker": worker, "chunk": chunk})
    spec.resources = {"model": {"path": str(path)}}
    for name, value in (attributes or {}).items():
        spec.params[f"attr_{name}"] = value
    g.apply(AddNode(spec))
    if mode == "decode":
        enc = new_node_spec("vae.rave", "enc", params={"mode": "encode", "worker": worker, "chunk": chunk})
        enc.resources = {"model": {"path": str(encoder or path)}}
        g.apply(AddNode(enc))
        g.apply(Connect(Edge("in", "out", "enc", "in")))
        g.apply(Connect(Edge("enc", "out", "r", "in")))
    else:
        g.apply(Connect(Edge("in", "out", "r", "in")))
    if mode != "encode":
        g.apply(Connect(Edge("r", "out", "out", "in")))
    return g


@pytest.fixture(scope="module", autouse=True)
def trusted_fixtures():
    trust(MONO)
    trust(STEREO)


def signal(channels: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    return (0.3 * rng.standard_normal((channels, n))).astype(np.float32)


def rel_err(a, b) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-9))


@pytest.mark.parametrize("block", [64, 256, 1000])
def test_forward_through_the_node_equals_the_whole_signal_call_after_the_reported_latency(block):
    x = signal(1, 44100)
    y, sched = render(patch(MONO, "forward", 44100), x, sample_rate=44100, block_size=block,
                      compensate_latency=False)
    lat = sched.latency_samples
    assert lat == sched.nodes["r"].lane_info["buffer_latency"] > 0
    ref = oracle(MONO, "forward", x[:, : (x.shape[1] // 64) * 64])
    assert rel_err(y[:, lat:lat + ref.shape[1] - lat], ref[:, : ref.shape[1] - lat]) <= 1e-5


@pytest.mark.parametrize("block", [64, 1000])
def test_stereo_1_6_export_streams_both_channels_in_a_process_worker(block):
    x = signal(2, 24000)
    y, sched = render(patch(STEREO, "forward", 48000, worker="process", chunk=512), x, sample_rate=48000,
                      block_size=block)
    ref = oracle(STEREO, "forward", x)
    assert y.shape[0] == 2
    assert rel_err(y[:, : 24000 - 2048], ref[:, : 24000 - 2048]) <= 1e-5


def test_encode_gives_the_modules_latent_frames_and_decode_its_audio():
    x = signal(1, 44100 // 64 * 64)
    g = patch(MONO, "decode", 44100)
    g.apply(AddNode(new_node_spec("io.npy_out", "z", params={"path": "z.npy"})))
    g.apply(Connect(Edge("enc", "out", "z", "in")))
    y, sched = render(g, x, sample_rate=44100, block_size=256, compensate_latency=False)
    z = np.load("z.npy")                                        # [frames, dims]
    z_ref = oracle(MONO, "encode", x)                           # [dims, frames]
    # frame j leaves the node `latency` samples after its last input sample: a delay in time,
    # not extra frames
    assert sched.out_specs["enc"]["out"].bins == 4 and sched.out_specs["enc"]["out"].hop == 64
    assert rel_err(z[:200], z_ref.T[:200]) <= 1e-5
    lat = sched.latency_samples
    y_ref = oracle(MONO, "decode", z_ref)
    assert rel_err(y[:, lat:lat + 8000], y_ref[:, :8000]) <= 1e-5


def test_model_attributes_are_params_named_attr():
    x = signal(1, 8192)
    y, sched = render(patch(MONO, "forward", 44100, attributes={"gain": 0.25}), x, sample_rate=44100,
                      compensate_latency=True)
    ref = oracle(MONO, "forward", x, {"gain": 0.25})
    assert sched.nodes["r"].lane_info["attributes"]["gain"] == pytest.approx(0.25)  # as the model reports it
    assert rel_err(y[:, :6000], ref[:, :6000]) <= 1e-5
    sched = compile_graph(patch(MONO, "forward", 44100, attributes={"colour": 1.0}))
    assert "no attribute 'colour'" in sched.errors["r"] and "gain" in sched.errors["r"]


def test_model_at_another_rate_is_resampled_in_forward_and_refused_for_latents():
    x = np.sin(2 * np.pi * 440 * np.arange(48000) / 48000)[None].astype(np.float32) * 0.5
    y, sched = render(patch(MONO, "forward", 48000), x, sample_rate=48000)
    assert any("44100 Hz" in n and "resampled" in n for n in sched.notes)
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) > 0
    sched = compile_graph(patch(MONO, "encode", 48000))
    assert "44100 Hz" in sched.errors["r"] and "encode" in sched.errors["r"]


def test_untrusted_torchscript_never_loads_in_render_validate_or_run(cli, tmp_path, monkeypatch):
    """Loading marker_on_load.ts writes ./np_marker_loaded: no entry point may get there
    before the file is trusted; once trusted, the marker proves the file really loads."""
    from neuropatch.engine.patch import save_patch

    monkeypatch.setenv("NEUROPATCH_TRUST_FILE", str(tmp_path / "own_trust.json"))  # nothing trusted yet

    model = tmp_path / "m.ts"
    model.write_bytes(MARKER.read_bytes())
    save_patch(patch(model, "forward", 48000, worker="process"), tmp_path / "p.json")
    marker = tmp_path / "np_marker_loaded"
    for args in (("render", "p.json", "--seconds", "0.1", "--out", "o.wav"), ("validate", "p.json"),
                 ("run", "p.json", "--seconds", "0.5")):
        res = cli(*args)
        assert res.returncode == 2, res.stderr
        line = res.stderr.strip().splitlines()[-1]
        assert "not trusted" in line and "--trust" in line and "Traceback" not in res.stderr
        assert not marker.exists()
    with pytest.raises(UntrustedModelError):
        compile_graph(patch(model, "forward", 48000), base_dir=tmp_path)
    assert not marker.exists()
    res = cli("render", "p.json", "--seconds", "0.1", "--out", "o.wav", "--trust", "m.ts")
    assert res.returncode == 0, res.stderr
    assert marker.exists()


def test_a_changed_torchscript_file_is_untrusted_again(tmp_path):
    model = tmp_path / "m.ts"
    model.write_bytes(MONO.read_bytes())
    trust(model)
    compile_graph(patch(model, "forward", 44100), check_only=True)
    model.write_bytes(MONO.read_bytes() + b"\0")
    with pytest.raises(UntrustedModelError, match="not trusted"):
        compile_graph(patch(model, "forward", 44100), check_only=True)
