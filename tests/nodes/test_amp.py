"""amp.nam: streaming parity with reference outputs, metadata, resampling, malformed files.

References were frozen by tests/nodes/data/amp/make_fixtures.py (neural-amp-modeler 0.13
torch models, see its docstring for how each one is made)."""
import json
from pathlib import Path

import numpy as np
import pytest

from neuropatch.engine import Edge, Graph, compile_graph, new_node_spec, render
from neuropatch.engine.errors import ModelFormatError
from neuropatch.engine.testing import run_node
from neuropatch.nodes.amp import NamAmp
from neuropatch.nodes.amp.nam_format import load_model

DATA = Path(__file__).parent / "data" / "amp"
NAM_FIXTURES = ["wavenet_07.nam", "wavenet_legacy_05.nam", "wavenet_gated_07.nam", "wavenet_gated_05.nam",
                "wavenet_head1x1_07.nam", "slimmable_container_a2.nam", "lstm_07.nam", "lstm_2layer_05.nam",
                "linear_05.nam"]
BAD = sorted((DATA / "bad").iterdir())


def amp_node(path, **params):
    node = NamAmp()
    node.id = "amp"
    node.set_resource("model", path)
    for k, v in params.items():
        node.set_param(k, v)
    return node


def reference(name):
    return np.load(DATA / (Path(name).stem + ".ref.npy"))


class TestStreamingParity:
    @pytest.mark.parametrize("block", [1, 64, 256])
    @pytest.mark.parametrize("name", NAM_FIXTURES)
    def test_nam_streaming_matches_reference_at_every_block_size(self, name, block):
        x = np.load(DATA / "input.npy")
        node = amp_node(DATA / name)
        y = run_node(node, {"in": x[None, :]}, 48000, block)["out"][0]
        assert node.latency_samples == 0
        err = float(np.max(np.abs(y.astype(np.float64) - reference(name))))
        assert err <= 1e-5, f"{name} at block {block}: max abs error {err:.3g}"

    @pytest.mark.parametrize("block", [1, 64, 256])
    def test_guitarml_json_matches_torch_lstm(self, block):
        x = np.load(DATA / "input.npy")
        node = amp_node(DATA / "guitarml_lstm.json")
        y = run_node(node, {"in": x[None, :]}, 44100, block)["out"][0]
        err = float(np.max(np.abs(y.astype(np.float64) - reference("guitarml_lstm.json"))))
        assert err <= 1e-5

    def test_fast_activation_stays_close_to_exact(self):
        x = np.load(DATA / "input.npy")
        exact = run_node(amp_node(DATA / "wavenet_07.nam"), {"in": x[None, :]}, 48000, 256)["out"][0]
        fast = run_node(amp_node(DATA / "wavenet_07.nam", activation="fast"), {"in": x[None, :]}, 48000, 256)["out"][0]
        diff = float(np.max(np.abs(exact - fast)))
        assert 0.0 < diff < 5e-3

    def test_reset_restarts_from_silent_history(self):
        x = np.load(DATA / "input.npy")
        node = amp_node(DATA / "lstm_07.nam")
        from neuropatch.engine.testing import prepare_node
        ctx = prepare_node(node, {"in": x[None, :]}, 48000, 64)
        first = run_node(node, {"in": x[None, :]}, 48000, 64, prepare=False, ctx=ctx)["out"]
        node.reset()
        second = run_node(node, {"in": x[None, :]}, 48000, 64, prepare=False, ctx=ctx)["out"]
        np.testing.assert_array_equal(first, second)

    def test_gains_scale_input_and_output(self):
        x = np.load(DATA / "input.npy")[None, :] * 0.5
        plain = run_node(amp_node(DATA / "linear_05.nam"), {"in": x}, 48000, 64)["out"][0]
        louder = run_node(amp_node(DATA / "linear_05.nam", output_gain_db=6.0), {"in": x}, 48000, 64)["out"][0]
        # the output gain glides over 20 ms, then is exact
        np.testing.assert_allclose(louder[2000:], plain[2000:] * 10 ** (6 / 20), rtol=1e-5, atol=1e-6)


class TestMetadata:
    def test_metadata_reports_name_gear_loudness_and_rate(self):
        node = amp_node(DATA / "lstm_07.nam")
        run_node(node, {"in": np.zeros((1, 64), np.float32)}, 48000, 64)
        md = node.metadata
        assert md["name"] == "lstm_07.nam" and md["gear_make"] == "Fixture"
        assert md["loudness"] == -15.0 and md["sample_rate"] == 48000 and md["architecture"] == "LSTM"

    def test_container_runs_the_full_size_submodel(self):
        model = load_model(DATA / "slimmable_container_a2.nam")
        assert model.architecture == "SlimmableContainer/WaveNet" and model.submodels == 2
        assert model.spec.arrays[0].channels == 3
        assert model.metadata["name"] == "fixture container"


class TestResampling:
    def make_identity(self, tmp_path, sr):
        path = tmp_path / "identity.nam"
        path.write_text(json.dumps({"version": "0.5.4", "architecture": "Linear",
                                    "config": {"receptive_field": 1, "bias": False},
                                    "weights": [1.0], "sample_rate": sr}))
        return path

    @pytest.mark.parametrize("graph_sr", [44100, 96000])
    def test_model_at_another_rate_runs_resampled_with_reported_latency(self, tmp_path, graph_sr):
        path = self.make_identity(tmp_path, 48000)
        t = np.arange(graph_sr // 4) / graph_sr
        x = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
        outs = []
        for block in (1, 64, 256):
            node = amp_node(path)
            from neuropatch.engine.testing import prepare_node
            ctx = prepare_node(node, {"in": x}, graph_sr, block)
            assert any("resampled" in note for note in ctx.notes)
            outs.append(run_node(node, {"in": x}, graph_sr, block, prepare=False, ctx=ctx)["out"][0])
        lat = node.latency_samples
        assert 0 < lat < 200
        for y in outs[1:]:
            np.testing.assert_allclose(y, outs[0], atol=1e-6)
        # an identity model comes back as the input delayed by the bridge's exact delay,
        # which the reported latency rounds
        delay = node._bridge.delay_samples
        assert abs(delay - lat) <= 0.5
        expected = 0.5 * np.sin(2 * np.pi * 440 * (t - delay / graph_sr))
        err = np.max(np.abs(outs[0][2000:] - expected[2000:]))
        assert err < 1e-3, err


class TestMalformedFiles:
    @pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
    def test_malformed_file_raises_model_format_error_naming_the_fault(self, path):
        expected = {
            "missing_weights.nam": "weights", "wrong_weight_count.nam": "wrong weight count",
            "extra_weights.nam": "wrong weight count", "nan_weights.nam": "NaN",
            "unsupported_architecture.nam": "unsupported architecture 'Transformer'",
            "missing_dilations.nam": "dilations: missing", "unsupported_version.nam": "unsupported file version",
            "not_json.nam": "not valid JSON", "unknown_activation.nam": "unsupported activation 'Mish'",
            "guitarml_missing_tensor.json": "rec.weight_hh_l0", "guitarml_wrong_shape.json": "lin.weight",
        }[path.name]
        with pytest.raises(ModelFormatError) as exc:
            load_model(path)
        assert expected in str(exc.value) and path.name in str(exc.value)

    @pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
    def test_malformed_model_in_a_graph_becomes_a_pass_through(self, path):
        g = Graph(settings={"sample_rate": 48000, "block_size": 64})
        g.nodes["in"] = new_node_spec("io.audio_in", "in")
        g.nodes["amp"] = new_node_spec("amp.nam", "amp")
        g.nodes["amp"].resources["model"] = {"path": str(path)}
        g.nodes["out"] = new_node_spec("io.audio_out", "out")
        g.edges = [Edge("in", "out", "amp", "in"), Edge("amp", "out", "out", "in")]
        schedule = compile_graph(g)
        assert "amp" in schedule.errors and path.name in schedule.errors["amp"]
        x = (0.1 * np.sin(np.arange(512) * 0.05)).astype(np.float32)[None, :]
        y, _ = render(g, x, schedule=schedule)
        np.testing.assert_allclose(y[0], x[0], atol=1e-7)

    def test_missing_model_file_is_a_resource_error_not_a_crash(self, tmp_path):
        from neuropatch.engine.errors import ResourceError
        with pytest.raises(ResourceError):
            load_model(tmp_path / "nope.nam")


@pytest.mark.parametrize("hidden,layers", [(3, 1), (16, 2), (40, 1), (64, 1), (65, 1)])
def test_the_width_specialised_lstm_kernel_equals_the_any_width_kernel_bit_for_bit(hidden, layers):
    """lstm_block_for(H) keeps the gate sums in registers for 4H <= 256 (and is the
    any-width kernel above); both add the same products in the same order."""
    from neuropatch.nodes.amp.lstm_kernels import MAX_REGISTER_GATES, LSTMProgram, lstm_block, lstm_block_for
    from neuropatch.nodes.amp.nam_format import LSTMSpec

    rng = np.random.default_rng(hidden)
    specs = []
    for i in range(layers):
        n_in = 1 if i == 0 else hidden
        specs.append(((0.3 * rng.standard_normal((4 * hidden, n_in + hidden))).astype(np.float32),
                      (0.1 * rng.standard_normal(4 * hidden)).astype(np.float32),
                      np.zeros(hidden, np.float32), np.zeros(hidden, np.float32)))
    spec = LSTMSpec(input_size=1, hidden_size=hidden, layers=specs,
                    head_w=rng.standard_normal((1, hidden)).astype(np.float32),
                    head_b=np.array([0.01], np.float32), skip=False, prewarm_samples=0)
    x = (0.5 * rng.standard_normal(3000)).astype(np.float32)
    outs = []
    for kernel in (lstm_block, lstm_block_for(hidden)):
        program = LSTMProgram(spec)
        program._block = kernel
        program.reset()
        y = np.zeros_like(x)
        for fast in (False, True):
            for i in range(0, x.size, 256):
                program.process(x[i:i + 256], y[i:i + 256], fast)
            outs.append(y.copy())
    assert (lstm_block_for(hidden) is lstm_block) == (4 * hidden > MAX_REGISTER_GATES)
    assert np.std(outs[0]) > 0.01
    np.testing.assert_array_equal(outs[0], outs[2])
    np.testing.assert_array_equal(outs[1], outs[3])
