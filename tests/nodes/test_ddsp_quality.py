"""The shipped DDSP instruments against FluidR3 renders of notes they never trained on.

For each instrument a held-out phrase (a chorale not in its training set plus a swelled
note, rendered by fluidsynth like the training audio) goes through the product's own
path: feature.pitch + feature.loudness with the model's settings, then ddsp.synth. The
multi-scale spectral loss of the output against the phrase (aligned by the chain's
reported latency) is compared with two references driven by the same f0 and loudness:
a band-limited sawtooth (ddsp.harmonic with a 1/k distribution, its gain fitted at
training time) and a per-frame MLP decoder (the earlier decoder design, trained on the
same audio: tests/data/ddsp/<name>_mlp.safetensors).
"""
import json
from pathlib import Path

import numpy as np
import pytest

from neuropatch.assets import path as shipped_path
from neuropatch.engine.testing import FramesIn, run_node
from neuropatch.nodes.ddsp.model import load_model
from neuropatch.nodes.ddsp.node import DDSPHarmonic, DDSPSynth

SR = 48000
INSTRUMENTS = ("violin", "flute", "trumpet")
MLP_DIR = Path(__file__).parents[1] / "data" / "ddsp"
RESULTS = {}


def synth_out(model_path, f0, db, hop):
    node = DDSPSynth()
    node.set_resource("model", model_path)
    ins = {"f0": FramesIn(f0.reshape(-1, 1, 1).astype(np.float32), hop),
           "loudness": FramesIn(db.reshape(-1, 1, 1).astype(np.float32), hop)}
    return run_node(node, ins, SR, 256, n_samples=len(f0) * hop)["out"][0]


def sawtooth_out(f0, db, hop, k, gain):
    dist = (1.0 / np.arange(1, k + 1)) / np.sum(1.0 / np.arange(1, k + 1))
    ins = {"f0": FramesIn(f0.reshape(-1, 1, 1).astype(np.float32), hop),
           "amplitude": FramesIn((gain * 10.0 ** (db / 20.0)).reshape(-1, 1, 1).astype(np.float32), hop),
           "harmonics": FramesIn(np.tile(dist, (len(f0), 1)).reshape(-1, 1, k).astype(np.float32), hop)}
    return run_node(DDSPHarmonic(), ins, SR, 256, n_samples=len(f0) * hop)["out"][0]


@pytest.mark.parametrize("name", INSTRUMENTS)
def test_instrument_beats_a_sawtooth_by_half_and_the_mlp_decoder_on_held_out_notes(name):
    pytest.importorskip("torch")
    from neuropatch.assets.make_ddsp_assets import heldout_clip
    from neuropatch.nodes.ddsp.torch_model import spectral_loss_np
    from neuropatch.nodes.ddsp.train import compute_features, hold_voiced

    model_path = shipped_path("ddsp", f"{name}.safetensors")
    model = load_model(model_path)
    feats = model.config["features"]
    hop, n_fft = int(feats["hop"]), int(feats["n_fft"])
    x = heldout_clip(name, seconds=16.0)
    f0, db = compute_features(x, SR, feats)
    f0 = hold_voiced(f0)
    delay = hop + n_fft // 2          # the chain's latency: synth hop + features' window centre
    target = x[: len(f0) * hop - delay]

    def loss(y):
        return spectral_loss_np(y[delay:delay + len(target)], target)

    ours = loss(synth_out(model_path, f0, db, hop))
    gain = model.config["training"]["quality"]["sawtooth_gain"]
    saw = loss(sawtooth_out(f0, db, hop, model.n_harmonics, gain))
    mlp = loss(synth_out(MLP_DIR / f"{name}_mlp.safetensors", f0, db, hop))
    RESULTS[name] = {"model": ours, "sawtooth": saw, "mlp": mlp}
    print(json.dumps({name: RESULTS[name]}))
    assert ours <= 0.5 * saw, RESULTS[name]
    assert ours < mlp, RESULTS[name]


def timbre_z(model_path, audio):
    """Mean z of ddsp.timbre over the frames where ``audio`` is sounding."""
    from neuropatch.nodes.ddsp.node import DDSPTimbre
    from neuropatch.nodes.ddsp.train import compute_features

    node = DDSPTimbre()
    node.set_resource("model", model_path)
    node.set_param("smoothing_s", 0.0)
    z = run_node(node, {"in": audio[None, :]}, SR, 256)["z"]
    _, db = compute_features(audio, SR, load_model(model_path).config["features"])
    n = min(len(z), len(db))
    sounding = db[:n] > np.percentile(db[:n], 99) - 30.0
    return z[:n][sounding].mean(axis=0)


def spectral_centroid(y):
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    return float(np.sum(freqs * spec) / np.sum(spec))


def test_interpolating_z_between_two_instruments_moves_the_spectral_centroid_monotonically():
    from neuropatch.assets.make_ddsp_assets import heldout_clip

    model_path = shipped_path("ddsp", "timbre.safetensors")
    model = load_model(model_path)
    hop = int(model.config["hop"])
    za, zb = timbre_z(model_path, heldout_clip("violin")), timbre_z(model_path, heldout_clip("flute"))
    n = 200
    loud = model.config["features"]["loudness_voiced_db"][1]
    centroids = []
    for alpha in np.linspace(0.0, 1.0, 6):
        z = np.tile(za + alpha * (zb - za), (n, 1)).astype(np.float32)
        node = DDSPSynth()
        node.set_resource("model", model_path)
        node.set_param("reverb_db", -60.0)
        ins = {"f0": FramesIn(np.full((n, 1, 1), 523.25, np.float32), hop),
               "loudness": FramesIn(np.full((n, 1, 1), loud, np.float32), hop), "z": FramesIn(z, hop)}
        y = run_node(node, ins, SR, 256, n_samples=n * hop)["out"][0].astype(np.float64)
        centroids.append(spectral_centroid(y[n * hop // 4:]))
    steps = np.diff(centroids)
    print("centroids", [round(c) for c in centroids])
    assert np.all(steps > 0) or np.all(steps < 0), centroids
    assert abs(centroids[-1] - centroids[0]) > 100.0, centroids
