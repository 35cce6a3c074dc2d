"""The WaveNet's numpy path (what amp.nam plays while its kernel compiles): the same output
as the reference core and the kernel, on the kernel's own state so the two can take turns
block by block, no block-sized allocation, and the live engine playing an added WaveNet at
once, then switching to the compiled kernel."""
import threading

import numpy as np
import pytest

from neuropatch.engine import AddNode, Batch, Connect, Edge, Graph, new_node_spec
from neuropatch.engine.live import EngineClient
from neuropatch.nodes.amp.activations import apply_activation
from neuropatch.nodes.amp.nam_format import ACTIVATIONS, load_model, parse_model_dict
from neuropatch.nodes.amp.wavenet_interim import activate
from neuropatch.nodes.amp.wavenet_kernels import WaveNetProgram

from ..conftest import REPO

DATA = REPO / "tests" / "nodes" / "data" / "amp"
WAVENETS = ["wavenet_07.nam", "wavenet_gated_05.nam", "wavenet_gated_07.nam", "wavenet_head1x1_07.nam",
            "wavenet_legacy_05.nam"]

ALL_ACTIVATIONS = ["Tanh", "Hardtanh", "Fasttanh", "ReLU", {"type": "LeakyReLU", "negative_slope": 0.1},
                   "Sigmoid", "SiLU", "Hardswish",
                   {"type": "LeakyHardtanh", "min_val": -0.5, "max_val": 0.7, "min_slope": 0.1, "max_slope": 0.3},
                   "Softsign"]


def every_feature_model(seed=0) -> dict:
    """A .nam (0.7 layout) with every activation, plain, gated and blended layers, layer and
    head 1x1s, a kernel-2 head, two layer arrays and a two-stage post head; random weights."""
    n = len(ALL_ACTIVATIONS)
    gating = ["none", "gated", "blended"] * 4
    a1 = {"input_size": 1, "condition_size": 1, "channels": 4, "bottleneck": 3, "kernel_size": 3,
          "dilations": [1, 2, 4, 8, 1, 2, 4, 8, 1, 3], "activation": ALL_ACTIVATIONS,
          "gating_mode": gating[:n], "secondary_activation": ["Sigmoid", "Softsign", "Tanh"] * 3 + ["Hardtanh"],
          "layer1x1": {"active": True, "groups": 1}, "head1x1": {"active": True, "out_channels": 2, "groups": 1},
          "head": {"out_channels": 2, "kernel_size": 2, "bias": True}}
    a2 = {"input_size": 4, "condition_size": 1, "channels": 2, "bottleneck": 2, "kernel_size": 2,
          "dilations": [1, 5], "activation": "Tanh", "layer1x1": {"active": True, "groups": 1},
          "head": {"out_channels": 1, "kernel_size": 1, "bias": False}}

    def count() -> int:
        total = 0
        for a, zcs in ((a1, [2 * 3 if g != "none" else 3 for g in gating[:n]]), (a2, [2, 2])):
            c, b, k = a["channels"], a["bottleneck"], a["kernel_size"]
            total += c * a["input_size"]
            for zc in zcs:
                total += zc * c * k + zc + zc + (c * b + c)
                if a.get("head1x1", {}).get("active"):
                    h = a["head1x1"]["out_channels"]
                    total += h * b + h
            head_in = a["head1x1"]["out_channels"] if a.get("head1x1", {}).get("active") else b
            hd = a["head"]
            total += hd["out_channels"] * head_in * hd["kernel_size"] + (hd["out_channels"] if hd["bias"] else 0)
        total += 3 * 1 * 3 + 3 + 1 * 3 * 1 + 1     # post head: 1 -> 3 (k 3) -> 1 (k 1)
        return total + 1                           # head_scale

    rng = np.random.default_rng(seed)
    return {"version": "0.7.0", "architecture": "WaveNet", "sample_rate": 48000,
            "config": {"layers": [a1, a2], "head": {"channels": 3, "out_channels": 1, "kernel_sizes": [3, 1],
                                                    "activation": "Softsign"}, "head_scale": 0.8},
            "weights": [float(v) for v in 0.4 * rng.standard_normal(count())]}


def stream(program, x, mode, fast=False, seed=0):
    """Run x through `program` in random blocks: 'kernel', 'numpy', or 'turns' (alternating)."""
    rng = np.random.default_rng(seed)
    y = np.zeros_like(x)
    i = k = 0
    while i < x.size:
        n = min(int(rng.integers(1, program.max_block + 1)), x.size - i)
        program.interim = mode == "numpy" or (mode == "turns" and k % 2 == 0)
        program.process(x[i:i + n], y[i:i + n], fast)
        i += n
        k += 1
    program.interim = False
    return y


@pytest.mark.parametrize("name", WAVENETS)
def test_numpy_path_matches_the_reference_core_alone_and_taking_turns_with_the_kernel(name):
    model = load_model(DATA / name)
    x = np.load(DATA / "input.npy").astype(np.float32)
    ref = np.load(DATA / name.replace(".nam", ".ref.npy")).astype(np.float32).ravel()[:x.size]
    for mode in ("numpy", "turns"):
        y = stream(WaveNetProgram(model.spec, 256), x, mode)
        np.testing.assert_allclose(y, ref, atol=1e-5, err_msg=f"{name} ({mode})")


@pytest.mark.parametrize("fast", [False, True])
def test_numpy_path_matches_the_kernel_for_every_activation_gating_and_head(fast):
    spec = parse_model_dict(every_feature_model()).spec
    x = (0.5 * np.random.default_rng(3).standard_normal(6000)).astype(np.float32)
    kernel = stream(WaveNetProgram(spec, 128), x, "kernel", fast)
    assert np.std(kernel) > 1e-3           # the model does something
    for mode in ("numpy", "turns"):
        y = stream(WaveNetProgram(spec, 128), x, mode, fast)
        np.testing.assert_allclose(y, kernel, atol=2e-5, rtol=1e-5, err_msg=mode)


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_each_numpy_activation_matches_the_kernels(name, fast):
    doc = {"type": name, "negative_slope": 0.2, "min_val": -0.4, "max_val": 0.6, "min_slope": 0.05,
           "max_slope": 0.2} if name in ("LeakyReLU", "LeakyHardtanh", "LeakyHardTanh") else name
    from neuropatch.nodes.amp.nam_format import _activation, _Ctx
    act = _activation(_Ctx("test"), doc, "activation")
    v = np.linspace(-9, 9, 4001, dtype=np.float32).reshape(1, -1)
    expected = v.ravel().copy()
    apply_activation(expected, expected.size, act.code, np.asarray(act.params, np.float32), fast)
    got = v.copy()
    activate(got, act.code, act.params, fast, [np.zeros(v.size, np.float32) for _ in range(4)])
    # the kernel's exact tanh is within 4e-7 of numpy's; SiLU scales that error by |x| (up to 9)
    bound = 4e-7 * np.maximum(1.0, np.abs(v.ravel())) + 2e-6 * np.abs(expected)
    assert np.all(np.abs(got.ravel() - expected) <= bound), np.max(np.abs(got.ravel() - expected) - bound)


def traced_peak(block: int) -> int:
    import tracemalloc

    program = WaveNetProgram(parse_model_dict(every_feature_model()).spec, block)
    program.interim = True
    x = (0.1 * np.random.default_rng(0).standard_normal(block)).astype(np.float32)
    y = np.zeros_like(x)
    program.process(x, y, False)
    program.process(x, y, True)
    tracemalloc.start()
    for i in range(20):
        program.process(x, y, i % 2 == 0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_numpy_path_allocates_no_block_sized_memory():
    """Only numpy views and scalars: the traced peak over 20 blocks stays under the size of
    one 1024-sample float32 array and does not grow from blocks of 256 to 4096."""
    small, large = traced_peak(256), traced_peak(4096)
    assert large < 4096, f"{large} bytes traced over 20 blocks of 4096"
    assert large - small < 512, f"{small} bytes at block 256, {large} at 4096"


def test_an_added_wavenet_plays_at_once_then_switches_to_the_kernel_without_a_seam(monkeypatch):
    """The kernel is compiled in this test process already, so the node is told it is not;
    the rest is the live path: the engine swaps the node in without compiling it, it plays
    through numpy while the compile job is held, then the job runs and the kernel takes
    over. The output is the model's (kernel run offline on the same input) throughout."""
    monkeypatch.setattr(WaveNetProgram, "kernel_loaded", staticmethod(lambda: False))
    go = threading.Event()
    jobs = []
    real_thread = threading.Thread

    class HeldThread(real_thread):
        def __init__(self, *a, target=None, name=None, **kw):
            if name and name.startswith("neuropatch-compile-"):
                job = target

                def target():
                    go.wait(30)
                    job()
                jobs.append(self)
            super().__init__(*a, target=target, name=name, **kw)

    monkeypatch.setattr(threading, "Thread", HeldThread)
    g = Graph()
    g.apply(AddNode(new_node_spec("io.audio_in", "in")))
    g.apply(AddNode(new_node_spec("io.audio_out", "out")))
    x = (0.3 * np.random.default_rng(5).standard_normal((1, 256 * 40))).astype(np.float32)
    with EngineClient(mode="thread", backend="offline", block_size=256, in_channels=1, out_channels=1,
                      limiter=False) as client:
        client.load(g)
        client.sync()
        spec = new_node_spec("amp.nam", "amp")
        spec.resources["model"] = {"path": str(DATA / "wavenet_07.nam")}
        client.apply(Batch([AddNode(spec), Connect(Edge("in", "out", "amp", "in")),
                            Connect(Edge("amp", "out", "out", "in"))]))
        client.sync(timeout=60)
        assert len(jobs) == 1 and jobs[0].is_alive(), "no background compile for the WaveNet"
        interim = client.pump(20, x[:, :256 * 20])          # the compile job is still held
        go.set()
        jobs[0].join(60)
        assert not jobs[0].is_alive()
        compiled = client.pump(20, x[:, 256 * 20:])
    y = np.concatenate([interim, compiled], axis=1)[0]
    expected = stream(WaveNetProgram(load_model(DATA / "wavenet_07.nam").spec, 256), x[0], "kernel")
    settled = 4 * 256                                       # past the 10 ms crossfade of the edit
    assert np.std(y[settled:256 * 20]) > 1e-3, "silent while the kernel compiled"
    np.testing.assert_allclose(y[settled:], expected[settled:], atol=1e-5)
