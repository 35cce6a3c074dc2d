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
    x = heldout_clip(name)
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
