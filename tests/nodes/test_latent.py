"""Latent-stream nodes: offset/scale, noise, mix and XY, against numpy oracles at several
block sizes."""
import json

import numpy as np
import pytest

from neuropatch.engine.errors import NodeConfigError
from neuropatch.engine.streams import FrameBuffer, StreamSpec
from neuropatch.engine.testing import FramesIn, prepare_node, run_node
from neuropatch.nodes.latent import XY, Mix, Noise, OffsetScale

SR = 48000
HOP = 256
BLOCK_SIZES = [1, 17, 256, 1024]


def latent(frames: int, dims: int, seed: int = 0) -> np.ndarray:
    """float32 [frames, dims] of unit Gaussian latent vectors."""
    return np.random.default_rng(seed).standard_normal((frames, dims)).astype(np.float32)


def run(node, block_size: int = 256, hop: int = HOP, **inputs) -> np.ndarray:
    """Feed whole latent streams (float32 [F, dims] arrays) and return the whole output."""
    frames = max(v.shape[0] for v in inputs.values() if isinstance(v, np.ndarray))
    feed = {k: FramesIn(v, hop) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}
    return run_node(node, feed, SR, block_size, n_samples=frames * hop)["out"]


class TestOffsetScale:
    @pytest.mark.parametrize("block_size", BLOCK_SIZES)
    def test_offset_scale_matches_numpy_per_dimension(self, block_size):
        z = latent(40, 20)
        rng = np.random.default_rng(7)
        scale = rng.uniform(-3, 3, 16).round(3)
        offset = rng.uniform(-2, 2, 16).round(3)
        node = OffsetScale()
        for d in range(16):
            node.set_param(f"scale_{d}", float(scale[d]))
            node.set_param(f"offset_{d}", float(offset[d]))
        out = run(node, block_size, **{"in": z})
        expected = z.copy()
        expected[:, :16] = z[:, :16] * scale.astype(np.float32) + offset.astype(np.float32)
        assert out.shape == (40, 20)
        np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)

    def test_dimensions_beyond_sixteen_pass_through_unchanged(self):
        z = latent(10, 24)
        node = OffsetScale()
        node.set_param("scale_15", 0.0)
        out = run(node, **{"in": z})
        assert np.array_equal(out[:, 16:], z[:, 16:])
        assert np.all(out[:, 15] == 0.0)

    def test_defaults_are_the_identity(self):
        z = latent(10, 8)
        assert np.array_equal(run(OffsetScale(), **{"in": z}), z)

    def test_per_dimension_values_survive_a_json_round_trip(self):
        node = OffsetScale()
        node.set_param("scale_3", -1.5)
        node.set_param("offset_3", 0.75)
        clone = OffsetScale()
        clone.set_state(json.loads(json.dumps(node.get_state())), from_version=OffsetScale.version)
        assert clone.param_values["scale_3"] == -1.5 and clone.param_values["offset_3"] == 0.75
        z = latent(12, 8)
        out = run(clone, **{"in": z})
        np.testing.assert_allclose(out[:, 3], z[:, 3] * -1.5 + 0.75, rtol=1e-6)

    def test_output_has_the_input_dims_and_hop(self):
        ctx = prepare_node(OffsetScale(), {"in": FramesIn(latent(4, 12), 2048)}, SR, 256)
        assert ctx.out_specs["out"] == StreamSpec("latent", channels=1, bins=12, hop=2048)


class TestNoise:
    def test_noise_is_block_size_invariant(self):
        z = latent(300, 8)
        outs = []
        for bs in BLOCK_SIZES:
            node = Noise()
            node.set_param("amount", 0.8)
            node.set_param("seed", 42)
            outs.append(run(node, bs, **{"in": z}))
        for out in outs[1:]:
            assert np.array_equal(out, outs[0])

    def test_noise_has_the_requested_std_and_zero_mean(self):
        z = latent(4000, 8, seed=3)
        node = Noise()
        node.set_param("amount", 0.7)
        noise = (run(node, 1024, **{"in": z}).astype(np.float64) - z).ravel()
        n = noise.size
        assert abs(noise.mean()) < 4 * 0.7 / np.sqrt(n)
        assert noise.std() == pytest.approx(0.7, rel=0.03)
        # Gaussian, not merely the right variance: 68.3 % within one std, 95.4 % within two
        assert np.mean(np.abs(noise) < 0.7) == pytest.approx(0.6827, abs=0.015)
        assert np.mean(np.abs(noise) < 1.4) == pytest.approx(0.9545, abs=0.01)

    def test_noise_is_uncorrelated_across_dimensions_and_frames(self):
        z = np.zeros((4000, 8), np.float32)
        node = Noise()
        node.set_param("amount", 1.0)
        noise = run(node, 256, **{"in": z}).astype(np.float64)
        corr = np.corrcoef(noise.T)
        assert np.max(np.abs(corr - np.eye(8))) < 0.06
        lag1 = np.corrcoef(noise[:-1].ravel(), noise[1:].ravel())[0, 1]
        assert abs(lag1) < 0.03

    def test_different_seeds_give_different_noise_and_equal_seeds_the_same(self):
        z = latent(50, 8)

        def noisy(seed):
            node = Noise()
            node.set_param("seed", seed)
            return run(node, **{"in": z})

        a, b, again = noisy(1), noisy(2), noisy(1)
        assert np.array_equal(a, again)
        assert np.mean(a == b) < 0.01

    def test_zero_amount_passes_the_input_through(self):
        z = latent(20, 8)
        node = Noise()
        node.set_param("amount", 0.0)
        assert np.array_equal(run(node, **{"in": z}), z)

    def test_reset_restarts_the_noise(self):
        z = latent(30, 8)
        node = Noise()
        feed = {"in": FramesIn(z, HOP)}
        ctx = prepare_node(node, feed, SR, 256)
        first = run_node(node, feed, SR, 256, n_samples=30 * HOP, prepare=False, ctx=ctx)["out"]
        continued = run_node(node, feed, SR, 256, n_samples=30 * HOP, prepare=False, ctx=ctx)["out"]
        node.reset()
        restarted = run_node(node, feed, SR, 256, n_samples=30 * HOP, prepare=False, ctx=ctx)["out"]
        assert np.array_equal(first, restarted)
        assert not np.array_equal(first, continued)


class TestMix:
    @pytest.mark.parametrize("block_size", BLOCK_SIZES)
    @pytest.mark.parametrize("mix", [0.0, 0.5, 1.0])
    def test_mix_gives_a_b_or_their_weighted_sum(self, block_size, mix):
        a, b = latent(40, 8, seed=1), latent(40, 8, seed=2)
        node = Mix()
        node.set_param("mix", mix)
        out = run(node, block_size, a=a, b=b)
        expected = {0.0: a, 1.0: b, 0.5: (a.astype(np.float64) + b) / 2}[mix]
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)

    def test_mix_cv_adds_to_the_knob_and_the_sum_is_clamped(self):
        a, b = latent(20, 8, seed=1), latent(20, 8, seed=2)
        node = Mix()
        node.set_param("mix", 0.25)
        out = run(node, a=a, b=b, mix_cv=0.5)
        np.testing.assert_allclose(out, 0.25 * a + 0.75 * b, atol=1e-6)
        node = Mix()
        node.set_param("mix", 0.25)
        assert np.allclose(run(node, a=a, b=b, mix_cv=2.0), b, atol=1e-6)
        assert np.allclose(run(node, a=a, b=b, mix_cv=-2.0), a, atol=1e-6)

    def test_an_unconnected_input_reads_as_zero(self):
        a = latent(20, 8)
        node = Mix()
        node.set_param("mix", 0.25)
        np.testing.assert_allclose(run(node, a=a), 0.75 * a, atol=1e-6)

    def test_a_mix_change_glides_over_50_ms_of_frames(self):
        ones, zeros = np.ones((30, 4), np.float32), np.zeros((30, 4), np.float32)
        node = Mix()
        node.set_param("mix", 0.0)
        feed = {"a": FramesIn(zeros, HOP), "b": FramesIn(ones, HOP)}
        ctx = prepare_node(node, feed, SR, 256)
        before = run_node(node, feed, SR, 256, n_samples=30 * HOP, prepare=False, ctx=ctx)["out"]
        assert np.all(before == 0.0)
        node.set_param("mix", 1.0)
        after = run_node(node, feed, SR, 256, n_samples=30 * HOP, prepare=False, ctx=ctx)["out"]
        steps = round(0.050 * SR / HOP)            # 50 ms at 187.5 frames/s
        ramp = np.minimum(np.arange(1, 31) / steps, 1.0)
        np.testing.assert_allclose(after[:, 0], ramp, atol=1e-6)

    @pytest.mark.parametrize("other", [(16, HOP), (8, 512)])
    def test_mismatched_inputs_raise_naming_both(self, other):
        dims, hop = other
        node = Mix()
        with pytest.raises(NodeConfigError) as err:
            prepare_node(node, {"a": FramesIn(latent(4, 8), HOP), "b": FramesIn(latent(4, dims), hop)}, SR, 256)
        message = str(err.value)
        assert f"a (latent, 8 dims, hop {HOP} samples)" in message
        assert f"b (latent, {dims} dims, hop {hop} samples)" in message

    def test_frames_arriving_apart_are_paired_in_order(self):
        """b's frames arrive one block after a's: each output still pairs a[k] with b[k]."""
        a, b = latent(20, 4, seed=1), latent(20, 4, seed=2)
        node = Mix()
        node.set_param("mix", 0.5)
        prepare_node(node, {"a": FramesIn(a, HOP), "b": FramesIn(b, HOP)}, SR, HOP)
        buf_a, buf_b = FrameBuffer(np.zeros((4, 4), np.float32)), FrameBuffer(np.zeros((4, 4), np.float32))
        out = FrameBuffer(np.zeros((4, 4), np.float32))
        got = []
        for k in range(21):
            buf_a.count = buf_b.count = 0
            if k < 20:
                buf_a.data[0], buf_a.count = a[k], 1
            if k >= 1:
                buf_b.data[0], buf_b.count = b[k - 1], 1
            node.process({"a": buf_a, "b": buf_b, "mix_cv": np.zeros(1, np.float32)}, {"out": out}, HOP)
            got.extend(out.data[: out.count].copy())
        np.testing.assert_allclose(np.array(got), (a.astype(np.float64) + b) / 2, atol=1e-6)


class TestXY:
    @pytest.mark.parametrize("block_size", BLOCK_SIZES)
    def test_offset_mode_adds_x_and_y_to_the_chosen_dims_only(self, block_size):
        z = latent(30, 8)
        node = XY()
        for k, v in {"x": 1.25, "y": -2.5, "dim_x": 3, "dim_y": 6}.items():
            node.set_param(k, v)
        out = run(node, block_size, **{"in": z})
        expected = z.copy()
        expected[:, 3] += np.float32(1.25)
        expected[:, 6] += np.float32(-2.5)
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)
        untouched = [d for d in range(8) if d not in (3, 6)]
        assert np.array_equal(out[:, untouched], z[:, untouched])

    @pytest.mark.parametrize("block_size", BLOCK_SIZES)
    def test_set_mode_replaces_the_chosen_dims(self, block_size):
        z = latent(30, 8)
        node = XY()
        for k, v in {"x": 0.5, "y": 3.0, "mode": "set"}.items():
            node.set_param(k, v)
        out = run(node, block_size, **{"in": z})
        assert np.all(out[:, 0] == 0.5) and np.all(out[:, 1] == 3.0)
        assert np.array_equal(out[:, 2:], z[:, 2:])

    def test_a_dim_beyond_the_stream_is_ignored_and_noted(self):
        z = latent(10, 4)
        node = XY()
        node.set_param("dim_y", 9)
        node.set_param("y", 1.0)
        node.set_param("x", 2.0)
        ctx = prepare_node(node, {"in": FramesIn(z, HOP)}, SR, 256)
        assert any("dim_y" in note and "4 dims" in note for note in ctx.notes)
        out = run(node, **{"in": z})
        expected = z.copy()
        expected[:, 0] += 2.0
        np.testing.assert_allclose(out, expected, atol=1e-6)

    def test_xy_declares_its_pad_params(self):
        assert XY.xy_pad == ("x", "y")
        assert all(XY.param_spec(name).min == -4.0 and XY.param_spec(name).max == 4.0 for name in XY.xy_pad)
