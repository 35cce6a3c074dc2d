"""The nn~ TorchScript fixtures in tests/data/nn_tilde behave like real RAVE / nn~ exports:
they load with torch.jit.load, stream chunk by chunk exactly like one whole call once their
caches are zeroed, ship non-zero caches, and marker_on_load.ts runs code when loaded.
(tests/data/make_nn_tilde_fixtures.py writes them; its docstring lists the 1.5/1.6 facts.)"""
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.:DeprecationWarning")

DATA = Path(__file__).resolve().parent.parent / "data" / "nn_tilde"
EXPORTS = {"nn15_mono.ts": {"sr": 44100, "channels": 1, "latent": 4, "ratio": 64},
           "nn16_stereo.ts": {"sr": 48000, "channels": 2, "latent": 3, "ratio": 32}}


def load(name):
    return torch.jit.load(str(DATA / name))


def cache_buffers(module):
    return {name: buf for name, buf in module.named_buffers() if name.endswith(("pad", "cache"))}


def zero_caches(module):
    with torch.no_grad():
        for buf in cache_buffers(module).values():
            buf.zero_()


def sample_rate(module):
    """What a loader reads: get_sample_rate() (nn-tilde 1.6) or the int attribute sr (1.5)."""
    if hasattr(module, "get_sample_rate"):
        return module.get_sample_rate()
    return module.sr


def run_whole(module, method, x):
    zero_caches(module)
    with torch.inference_mode():
        return getattr(module, method)(x)


def run_chunked(module, method, x, chunk_frames):
    """Call `method` on consecutive chunks of x (chunk sizes in input frames, cycled)."""
    zero_caches(module)
    outs, start, k = [], 0, 0
    with torch.inference_mode():
        while start < x.shape[-1]:
            n = chunk_frames[k % len(chunk_frames)]
            outs.append(getattr(module, method)(x[..., start:start + n]))
            start += n
            k += 1
    return torch.cat(outs, -1)


def method_input(module, method, frames, seed=0):
    in_ch, in_ratio, _, _ = (int(v) for v in getattr(module, f"{method}_params"))
    gen = torch.Generator().manual_seed(seed)
    return 0.5 * torch.randn(2, in_ch, frames // in_ratio, generator=gen)


def assert_close(actual, expected, rtol=1e-5):
    scale = float(expected.abs().max())
    np.testing.assert_allclose(actual.numpy(), expected.numpy(), rtol=0, atol=rtol * max(scale, 1e-12))


@pytest.mark.parametrize("name", sorted(EXPORTS))
class TestExports:
    def test_loads_and_lists_its_methods(self, name):
        module = load(name)
        assert module.get_methods() == ["encode", "decode", "forward"]
        assert sample_rate(module) == EXPORTS[name]["sr"]

    def test_method_params_describe_the_actual_shapes(self, name):
        spec, module = EXPORTS[name], load(name)
        ch, lat, ratio = spec["channels"], spec["latent"], spec["ratio"]
        expected = {"encode": [ch, 1, lat, ratio], "decode": [lat, ratio, ch, 1], "forward": [ch, 1, ch, 1]}
        for method, params in expected.items():
            assert getattr(module, f"{method}_params").tolist() == params
            in_ch, in_ratio, out_ch, out_ratio = params
            y = run_whole(module, method, torch.zeros(3, in_ch, 8 * ratio // in_ratio))
            assert tuple(y.shape) == (3, out_ch, 8 * ratio // out_ratio)
            assert y.dtype == torch.float32
            assert len(getattr(module, f"{method}_input_labels")) == in_ch
            assert len(getattr(module, f"{method}_output_labels")) == out_ch

    @pytest.mark.parametrize("method", ["encode", "decode", "forward"])
    def test_chunked_calls_from_zeroed_caches_equal_one_whole_call(self, name, method):
        module = load(name)
        ratio = EXPORTS[name]["ratio"]
        x = method_input(module, method, 40 * ratio)
        in_ratio = int(getattr(module, f"{method}_params")[1])
        whole = run_whole(module, method, x)
        for chunks in ([ratio], [3 * ratio, ratio, 5 * ratio], [8 * ratio]):
            chunked = run_chunked(module, method, x, [c // in_ratio for c in chunks])
            assert_close(chunked, whole)

    def test_exported_caches_are_not_zero_so_a_loader_must_zero_them(self, name):
        module = load(name)
        caches = cache_buffers(module)
        assert any(buf.numel() == 0 for buf in caches.values())  # zero-sized ones exist, as in cached_conv
        assert all(float(buf.abs().max()) > 0 for buf in caches.values() if buf.numel())
        x = method_input(module, "forward", 4 * EXPORTS[name]["ratio"])
        with torch.inference_mode():
            as_shipped = module(x)
        assert not torch.allclose(as_shipped, run_whole(module, "forward", x), atol=1e-3)

    def test_gain_attribute_scales_the_decoder(self, name):
        module = load(name)
        attributes = [a for a in module.get_attributes() if a != "none"]
        assert attributes == ["gain"]
        z = method_input(module, "decode", 16 * EXPORTS[name]["ratio"])
        plain = run_whole(module, "decode", z)
        module.set_gain(2.5)
        value = module.get_gain()
        assert (value if isinstance(value, float) else value[0]) == 2.5
        assert_close(run_whole(module, "decode", z), 2.5 * plain)


class TestEraDifferences:
    def test_nn15_has_an_int_sr_and_a_none_placeholder_attribute(self):
        module = load("nn15_mono.ts")
        assert not hasattr(module, "get_sample_rate")
        assert module.sr == 44100
        assert module.get_attributes() == ["none", "gain"]
        assert module.get_gain() == 1.0  # scalar getter
        assert module.gain_params.dtype == torch.float32

    def test_nn16_reports_its_rate_by_method_and_uses_tuple_getters(self):
        module = load("nn16_stereo.ts")
        assert module.get_sample_rate() == 48000
        assert module.get_attributes() == ["gain"]
        assert module.get_gain() == (1.0,)
        assert module.gain_params.dtype == torch.int64
        assert module.get_buffer_attributes() == []
        module.set_sample_rate(44100)  # what the nn~ 1.6 host does with its own rate
        assert module.get_sample_rate() == 44100


class TestMarkerOnLoad:
    def test_loading_alone_creates_the_marker_file(self, tmp_path):
        assert not (tmp_path / "np_marker_loaded").exists()
        torch.jit.load(str(DATA / "marker_on_load.ts"))
        assert (tmp_path / "np_marker_loaded").is_file()

    def test_it_is_otherwise_a_valid_mono_nn_module(self):
        module = load("marker_on_load.ts")
        assert module.get_methods() == ["forward"]
        assert module.forward_params.tolist() == [1, 1, 1, 1]
        assert module.sr == 48000
        x = torch.linspace(-1, 1, 256).reshape(1, 1, 256)
        assert torch.equal(module(x), 0.5 * x)


def test_fixtures_stay_small():
    for path in DATA.glob("*.ts"):
        assert path.stat().st_size < 200_000, path.name
