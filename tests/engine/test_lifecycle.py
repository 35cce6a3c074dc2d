"""Declared node lifecycle: structural params, capabilities instead of type ids, check-only
compiles without side effects, failed nodes never called again."""
import re
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from neuropatch.engine import (AddNode, Connect, Edge, Graph, SetParam, compile_graph, load_patch,
                               new_node_spec, render)
from neuropatch.engine.live import EngineClient
from neuropatch.engine.live.server import compile_live
from neuropatch.engine.runtime import Runtime
from neuropatch.nodes import all_node_classes

REPO = Path(__file__).resolve().parents[2]
SR, BS = 48000, 256


def chain(*specs, edges=None) -> Graph:
    g = Graph(settings={"sample_rate": SR, "block_size": BS})
    for type_id, nid, params in specs:
        g.apply(AddNode(new_node_spec(type_id, nid, params=params)))
    ids = [nid for _, nid, _ in specs]
    for a, b in edges if edges is not None else zip(ids, ids[1:]):
        g.apply(Connect(Edge(a, "out", b, "in")))
    return g


def test_no_engine_module_names_a_builtin_node_type():
    type_ids = {cls.type_id for cls in all_node_classes()}
    offenders = []
    for path in sorted((REPO / "engine").rglob("*.py")):
        text = path.read_text("utf-8")
        for tid in type_ids:
            if re.search(r"(?<![\w.])" + re.escape(tid) + r"(?![\w])", text):
                offenders.append(f"{path.relative_to(REPO)}: {tid}")
    assert offenders == []


def spectral_patch(n_fft: int) -> Graph:
    g = chain(("gen.oscillator", "osc", {"freq_hz": 441.0}), ("io.audio_out", "out", {}))
    g.apply(AddNode(new_node_spec("spectral.stft", "stft", params={"n_fft": n_fft, "hop": 256})))
    g.apply(AddNode(new_node_spec("spectral.mel", "mel", params={"n_mels": 16})))
    g.apply(Connect(Edge("osc", "out", "stft", "in")))
    g.apply(Connect(Edge("stft", "out", "mel", "in")))
    return g


def test_structural_param_change_reprepares_exactly_the_nodes_it_reshapes():
    g = spectral_patch(512)
    s1 = compile_live(g, None, SR, BS, 1, None)
    rt = Runtime(s1)
    for _ in range(5):
        rt.process(None)
    old_stft, phase = s1.nodes["stft"], s1.nodes["osc"].phase
    g2 = g.copy()
    g2.apply(SetParam("stft", "n_fft", 2048))
    s2 = compile_live(g2, s1, SR, BS, 1, None)
    # the stft (its param) and the mel (its input shape) are prepared; of the rest only the
    # host output, which binds each schedule's host buffers and holds no state
    assert {n for n in s2.prepared if not s2.nodes[n].binds_host} == {"stft", "mel"}
    assert s2.nodes["osc"] is s1.nodes["osc"] and s2.nodes["osc"].phase == phase
    # the running instance was not touched: a fresh one took the new structure
    assert s2.nodes["stft"] is not old_stft and old_stft.param_values["n_fft"] == 512
    assert s1.out_specs["stft"]["out"].bins == 257 and s2.out_specs["stft"]["out"].bins == 1025


def test_live_engine_reprepares_a_running_stft_when_n_fft_changes():
    g = spectral_patch(512)
    g.apply(AddNode(new_node_spec("io.npy_out", "npy", params={"path": "frames.npy"})))
    g.apply(Connect(Edge("stft", "out", "npy", "in")))
    with EngineClient(mode="thread", backend="offline", block_size=BS, in_channels=1, out_channels=1) as live, \
            EngineClient(mode="thread", backend="offline", block_size=BS, in_channels=1,
                         out_channels=1) as reference:
        live.load(g)
        reference.load(g)
        before = live.pump(20)
        live.apply(SetParam("stft", "n_fft", 2048))
        live.sync()
        after = live.pump(20)
        live.stop()
        clean = reference.pump(40)
        frames = np.load("frames.npy")
    assert frames.shape[1:] == (1, 1025)          # the recompiled stft's frames reach npy_out
    # the oscillator kept its phase through the swap: the audio path is sample-identical
    assert np.max(np.abs(np.concatenate([before, after], axis=1) - clean)) < 1e-6


def test_check_only_compile_loads_no_model_and_leaves_a_recording_target_intact(tmp_path):
    target = tmp_path / "take.wav"
    sf.write(target, np.full(4800, 0.5, np.float32), SR)
    original = target.read_bytes()
    g = load_patch(REPO / "patches" / "amp_sim.json")
    g.apply(AddNode(new_node_spec("io.recorder", "rec", params={"path": str(target)})))
    g.apply(Connect(Edge("amp", "out", "rec", "in")))
    sched = compile_graph(g, base_dir=REPO / "patches", check_only=True)
    io_nodes = {nid for nid, n in sched.nodes.items() if n.prepare_does_io}
    assert io_nodes and not io_nodes & sched.prepared
    assert sched.errors == {}
    assert target.read_bytes() == original


def test_check_only_compile_reports_a_missing_model_by_name(tmp_path):
    doc = json.loads((REPO / "patches" / "amp_sim.json").read_text())
    amp = next(n for n in doc["nodes"] if n["id"] == "amp")
    amp["resources"]["model"] = {"path": "../models/my_amp.nam", "sha256": "0" * 64}
    (tmp_path / "amp_sim.json").write_text(json.dumps(doc))
    sched = compile_graph(load_patch(tmp_path / "amp_sim.json"), base_dir=tmp_path, check_only=True)
    assert "not found" in sched.errors["amp"] and "my_amp.nam" in sched.errors["amp"]


def test_an_example_patch_copied_to_another_folder_finds_its_shipped_models(tmp_path):
    shutil.copy(REPO / "patches" / "amp_sim.json", tmp_path / "amp_sim.json")
    sched = compile_graph(load_patch(tmp_path / "amp_sim.json"), base_dir=tmp_path)
    assert sched.errors == {}
    assert any("fluid_crunch.nam" in note and "not found next to the patch" in note for note in sched.notes)


def test_live_engine_writes_the_recording_when_it_stops(tmp_path):
    g = chain(("gen.oscillator", "osc", {"freq_hz": 441.0}), ("io.recorder", "rec", {"path": "take.wav"}))
    with EngineClient(mode="thread", backend="offline", block_size=BS, in_channels=1, out_channels=1) as live:
        live.load(g)
        live.pump(40)
        assert not Path("take.wav").exists()
        live.stop()
        y, sr = sf.read("take.wav", dtype="float32")
    assert sr == SR and len(y) == 40 * BS and np.max(np.abs(y)) > 0.1


def test_a_copied_amp_sim_patch_renders_with_the_missing_ir_bypassed(tmp_path, cli):
    doc = json.loads((REPO / "patches" / "amp_sim.json").read_text())
    for node in doc["nodes"]:
        if node["type"] == "fx.ir":   # an IR of the user's, not shipped: missing here
            node["resources"]["ir"] = {"path": "../irs/my_cab.wav", "sha256": "0" * 64}
    (tmp_path / "amp_sim.json").write_text(json.dumps(doc))
    res = cli("render", tmp_path / "amp_sim.json", "--in", REPO / "assets" / "guitar_di_demo.flac",
              "--out", tmp_path / "o.wav", "--seconds", "0.5")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and "bypassed" in res.stderr
    y, _ = sf.read(tmp_path / "o.wav")
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) > 0


def _resource_cases():
    for cls in all_node_classes():
        for res in cls.resources:
            for how in ("missing", "unreadable"):
                yield pytest.param(cls, res.name, how, id=f"{cls.type_id}-{res.name}-{how}")


@pytest.mark.parametrize("cls,resource,how", list(_resource_cases()))
def test_node_with_a_missing_or_unreadable_resource_is_bypassed_and_the_patch_renders(cls, resource, how, tmp_path):
    """Every node type whose file is gone or garbage: the patch still renders, that node is
    bypassed (never reset, processed or finished after its prepare failed)."""
    setup = cls.contract_setup(tmp_path)
    ext = next((r.extensions[0] for r in cls.resources if r.name == resource), ".bin")
    path = tmp_path / f"broken{ext}"
    if how == "unreadable":
        path.write_bytes(b"\x00garbage, not a model\xff" * 8)
        if ext == ".safetensors":
            path.with_suffix(".json").write_text("{not json")
    g = Graph(settings={"sample_rate": SR, "block_size": BS})
    spec = new_node_spec(cls.type_id, "n", params=setup.get("params", {}))
    spec.resources = {k: {"path": v} for k, v in setup.get("resources", {}).items()}
    spec.resources[resource] = {"path": str(path)}
    g.apply(AddNode(spec))
    g.apply(AddNode(new_node_spec("gen.noise", "src")))
    g.apply(AddNode(new_node_spec("io.audio_out", "out")))
    node = cls()
    audio_in = next((p.name for p in node.input_ports() if p.kind == "audio"), None)
    audio_out = next((p.name for p in node.output_ports() if p.kind == "audio"), None)
    if audio_in:
        g.apply(Connect(Edge("src", "out", "n", audio_in)))
    if audio_out:
        g.apply(Connect(Edge("n", audio_out, "out", "in")))
    if how == "unreadable" and ext == ".ts":
        from neuropatch.engine.trust import trust
        trust(path)   # trusted but garbage: the load itself must fail cleanly
    # compiled whole: a render left to itself would leave out a node whose outputs reach no
    # output (the nodes here without an audio output), and never load its file
    sched = compile_graph(g, sample_rate=SR, block_size=BS, base_dir=tmp_path)
    y, sched = render(g, None, seconds=0.1, schedule=sched)
    assert "n" in sched.errors and sched.node_steps[[s.node_id for s in sched.node_steps].index("n")].bypassed
    assert np.all(np.isfinite(y))


def test_contract_harness_hands_unconnected_inputs_read_only_as_the_compiler_does():
    from neuropatch.engine import Node, Port
    from neuropatch.engine.testing import run_node

    class WritesItsInput(Node):
        type_id = "test.writes_input"
        inputs = [Port("in", "audio")]
        outputs = [Port("out", "audio")]

        def process(self, ins, outs, n):
            ins["in"][:] = 1.0          # a bug the engine would hit with a read-only buffer

    with pytest.raises(ValueError, match="read-only"):
        run_node(WritesItsInput(), {}, n_samples=256)
