"""One contract suite over every registered node type (built from the registry, not a
hand-kept list): silence/noise/impulse at many block sizes, block-size invariance, JSON
state round trip, reset."""
import json

import numpy as np

from neuropatch.engine.events import PITCH_BEND, note_off, note_on
import pytest

from neuropatch.engine import default_registry
from neuropatch.engine.testing import FramesIn, prepare_node, run_node

BLOCK_SIZES = [1, 17, 64, 256, 1024]
NODE_TYPES = default_registry().types()
SR = 48000


def make_node(type_id, tmp_path):
    cls = default_registry().resolve(type_id)
    setup = cls.contract_setup(tmp_path) or {}
    node = cls()
    node.id = type_id.replace(".", "_")
    for k, v in (setup.get("params") or {}).items():
        node.set_param(k, v)
    for k, v in (setup.get("resources") or {}).items():
        node.set_resource(k, v)
    return node, setup


def make_inputs(node, setup, signal, n_samples, audio_channels=1):
    rng = np.random.default_rng(1234)
    inputs = {}
    shapes = setup.get("inputs") or {}
    for port in node.input_ports():
        shape = shapes.get(port.name, {})
        if port.kind in ("audio", "any"):
            ch = shape.get("channels", port.channels or audio_channels)
            x = np.zeros((ch, n_samples), np.float32)
            if signal == "noise":
                x[:] = rng.uniform(-0.5, 0.5, x.shape)
            elif signal == "impulse":
                x[:, n_samples // 3] = 1.0
            inputs[port.name] = x
        elif port.kind in ("frames", "latent"):
            hop = shape.get("hop", 256)
            n_frames = n_samples // hop
            if port.kind == "frames":
                data = np.zeros((n_frames, shape.get("channels", 1), shape.get("bins", 513)), np.float32)
            else:
                data = np.zeros((n_frames, shape.get("bins", 16)), np.float32)
            if signal == "noise":
                data[:] = np.abs(rng.standard_normal(data.shape)) * (0.1 if port.kind == "frames" else 1.0)
            elif signal == "impulse" and n_frames:
                data[n_frames // 3] = 1.0
            inputs[port.name] = FramesIn(data, hop)
        elif port.kind == "control":
            inputs[port.name] = shape.get("value", port.default)
        elif port.kind == "events":
            inputs[port.name] = [] if signal == "silence" else [
                note_on(100, 60, 100), note_on(101, 64, 90), (n_samples // 3, PITCH_BEND, 0, 0, 0, 0.5),
                note_off(n_samples // 2, 60), note_off(n_samples // 2, 64), note_on(n_samples // 2 + 7, 67, 127)]
    return inputs


def comparable(outputs):
    """Outputs whose shape does not depend on the block size (control is one value per block)."""
    return {k: v for k, v in outputs.items() if isinstance(v, np.ndarray) and v.ndim >= 2}


def assert_same(a, b, what):
    assert a.keys() == b.keys()
    for k in a:
        x, y = a[k], b[k]
        assert x.shape == y.shape, f"{what}: output {k!r} shape {x.shape} vs {y.shape}"
        tol = 1e-5 * max(1.0, float(np.max(np.abs(x))) if x.size else 1.0)
        if x.size:
            err = float(np.max(np.abs(x.astype(np.float64) - y)))
            assert err <= tol, f"{what}: output {k!r} differs by {err:.3g} (tolerance {tol:.3g})"


@pytest.mark.parametrize("type_id", NODE_TYPES)
@pytest.mark.parametrize("signal", ["silence", "noise", "impulse"])
def test_node_is_finite_and_block_size_invariant(type_id, signal, tmp_path):
    reference = None
    for bs in BLOCK_SIZES[::-1]:
        node, setup = make_node(type_id, tmp_path)
        n = node.contract_samples
        out = run_node(node, make_inputs(node, setup, signal, n), SR, bs, n_samples=n)
        for k, v in out.items():
            if isinstance(v, np.ndarray):
                assert np.all(np.isfinite(v)), f"{type_id} output {k!r} has NaN/Inf at block {bs} ({signal})"
        if reference is None:
            reference = comparable(out)
        else:
            assert_same(reference, comparable(out), f"{type_id} block {bs} vs 1024 ({signal})")


@pytest.mark.parametrize("type_id", NODE_TYPES)
def test_node_state_round_trips_through_json(type_id, tmp_path):
    node, setup = make_node(type_id, tmp_path)
    state = json.loads(json.dumps(node.get_state()))
    clone, _ = make_node(type_id, tmp_path)
    clone.set_state(state, from_version=node.version)
    assert clone.get_state() == node.get_state()
    n = node.contract_samples
    a = run_node(node, make_inputs(node, setup, "noise", n), SR, 256, n_samples=n)
    b = run_node(clone, make_inputs(clone, setup, "noise", n), SR, 256, n_samples=n)
    assert_same(comparable(a), comparable(b), f"{type_id} restored from JSON")


@pytest.mark.parametrize("type_id", NODE_TYPES)
def test_node_reset_returns_to_initial_output(type_id, tmp_path):
    from neuropatch.engine.testing import prepare_node

    node, setup = make_node(type_id, tmp_path)
    n = node.contract_samples
    inputs = make_inputs(node, setup, "noise", n)
    ctx = prepare_node(node, inputs, SR, 256)
    first = run_node(node, inputs, SR, 256, n_samples=n, prepare=False, ctx=ctx)
    node.reset()
    second = run_node(node, inputs, SR, 256, n_samples=n, prepare=False, ctx=ctx)
    assert_same(comparable(first), comparable(second), f"{type_id} after reset()")


def test_registry_lists_every_builtin_family():
    families = {t.split(".")[0] for t in NODE_TYPES}
    assert {"io", "gen", "util"} <= families


def test_every_node_declares_documented_ports_and_params():
    for cls in default_registry().classes():
        assert cls.doc, f"{cls.type_id} has no doc"
        names = [p.name for p in cls.params]
        assert len(names) == len(set(names)), f"{cls.type_id} repeats a param name"
        for p in cls.params:
            p.validate(p.default)  # defaults are inside their own ranges


@pytest.mark.parametrize("type_id", NODE_TYPES)
@pytest.mark.parametrize("channels", [1, 2])
def test_node_process_allocates_no_block_sized_memory(type_id, channels, tmp_path):
    """Steady-state process() at block 1024 (mono and stereo audio inputs, params gliding)
    must not allocate arrays (a 1024-sample float32 temporary alone would be 4 KB); small
    Python objects (views, floats) are tolerated."""
    from neuropatch.engine.testing import steady_state_allocation

    node, setup = make_node(type_id, tmp_path)
    if node.uses_lane and any(p.name == "worker" for p in node.params):
        node.set_param("worker", "process")   # a thread worker's model allocations would be traced too
    inputs = make_inputs(node, setup, "noise", 8192, audio_channels=channels)
    peak = steady_state_allocation(node, inputs, SR, 1024, glide=True)
    assert peak < 2048, f"{type_id}.process() allocated {peak} bytes at steady state ({channels} ch)"


def _other_value(p):
    """A valid value of param `p` other than its default (None when there is none)."""
    if p.choices:
        return next((c for c in p.choices if c != p.default), None)
    if p.type is bool:
        return not p.default
    if p.type is str:
        return None     # free text (file paths): nothing to compare in the audio
    lo, hi = float(p.min), float(p.max)
    value = p.default + (hi - p.default) * 0.37 if hi > p.default else p.default - (p.default - lo) * 0.37
    return int(round(value)) if p.type is int and int(round(value)) != p.default else (
        None if p.type is int else value)


def _undeclared_param_cases():
    for type_id in NODE_TYPES:
        cls = default_registry().resolve(type_id)
        if cls.uses_lane:
            continue   # every lane node param that shapes the model is structural by design
        for p in cls.params:
            if not p.structural and _other_value(p) is not None:
                yield pytest.param(type_id, p.name, id=f"{type_id}.{p.name}")


@pytest.mark.parametrize("type_id,name", list(_undeclared_param_cases()))
def test_a_param_not_declared_structural_takes_effect_without_prepare(type_id, name, tmp_path):
    """Changing it on a prepared node (then reset) sounds exactly like preparing with it: if
    not, prepare depends on it and it must be declared ``structural``."""
    node, setup = make_node(type_id, tmp_path)
    value = _other_value(node.param_spec(name))
    n = min(node.contract_samples, 4096)
    inputs = make_inputs(node, setup, "noise", n)
    fresh, _ = make_node(type_id, tmp_path)
    fresh.set_param(name, value)
    expected = comparable(run_node(fresh, inputs, SR, 256, n_samples=n))
    ctx = prepare_node(node, inputs, SR, 256)        # prepared with the old value
    run_node(node, inputs, SR, 256, n_samples=n, prepare=False, ctx=ctx)
    node.set_param(name, value)
    node.reset()
    got = comparable(run_node(node, inputs, SR, 256, n_samples=n, prepare=False, ctx=ctx))
    assert_same(got, expected, f"{type_id}.{name} changed after prepare")
