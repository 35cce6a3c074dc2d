"""The shipped DDX7 instruments against FluidR3 renders of notes they never trained on.

The held-out phrase of each instrument (the one tests/nodes/test_ddsp_quality.py uses)
goes through the product's path: feature.pitch + feature.loudness with the model's
settings, ddx7.decoder, synth.fm with the model's algorithm and ratios, and the reverb
learned with it (ddsp.reverb). Its multi-scale spectral loss against the phrase (aligned
by the chain's nominal latency) is compared with the same FM patch at static operator
levels (the decoder's mean levels over the sounding frames, silent elsewhere) and with
the shipped DDSP instrument on the same f0 and loudness.
"""
import json

import numpy as np
import pytest

from neuropatch.assets import path as shipped_path
from neuropatch.engine.testing import FramesIn, run_node
from neuropatch.nodes.ddsp.node import DDSPReverb, DDSPSynth
from neuropatch.nodes.ddx7.model import load_model
from neuropatch.nodes.ddx7.node import DDX7Decoder
from neuropatch.nodes.fm.node import FMSynth

SR = 48000


def frames_in(values, hop):
    v = np.asarray(values, np.float32)
    return FramesIn(v.reshape(len(v), 1, -1), hop)


def fm_out(config, f0, levels, hop):
    synth = FMSynth()
    synth.set_param("gain_db", 0.0)     # the decoder's levels are the trained amplitudes
    synth.set_param("algorithm", int(config["algorithm"]))
    for k, r in enumerate(config["ratios"], 1):
        synth.set_param(f"ratio_{k}", r)
    ins = {"f0": frames_in(f0, hop), "levels": frames_in(levels, hop)}
    return run_node(synth, ins, SR, 256, n_samples=len(f0) * hop)["out"]


def with_reverb(model_path, y):
    if load_model(model_path).reverb_ir is None:
        return y[0]
    node = DDSPReverb()
    node.set_resource("model", model_path)
    node.set_param("source", "model")
    node.set_param("wet_db", 0.0)
    return run_node(node, {"in": y}, SR, 256)["out"][0]


@pytest.mark.parametrize("name", ["violin", "flute", "trumpet"])
def test_ddx7_beats_static_fm_levels_and_comes_within_1_5x_of_ddsp_on_held_out_notes(name):
    pytest.importorskip("torch")
    from neuropatch.assets.make_ddsp_assets import heldout_clip
    from neuropatch.nodes.ddsp.torch_model import spectral_loss_np
    from neuropatch.nodes.ddsp.train import compute_features, hold_voiced

    model_path = shipped_path("ddx7", f"{name}.safetensors")
    config = load_model(model_path).config
    feats = config["features"]
    hop, n_fft = int(feats["hop"]), int(feats["n_fft"])
    x = heldout_clip(name, seconds=16.0)
    f0, db = compute_features(x, SR, feats)
    f0 = hold_voiced(f0)
    delay = hop + n_fft // 2
    target = x[: len(f0) * hop - delay]

    def loss(y):
        return spectral_loss_np(y[delay:delay + len(target)], target)

    decoder = DDX7Decoder()
    decoder.set_resource("model", model_path)
    dec = run_node(decoder, {"f0": frames_in(f0, hop), "loudness": frames_in(db, hop)}, SR, 256,
                   n_samples=len(f0) * hop)
    levels = dec["levels"][:, 0, :]
    ours = loss(with_reverb(model_path, fm_out(config, dec["f0"][:, 0, 0], levels, hop)))

    sounding = db > np.percentile(db, 99) - 40.0
    static = np.where(sounding[:, None], levels[sounding].mean(axis=0), 0.0)
    fixed = loss(with_reverb(model_path, fm_out(config, dec["f0"][:, 0, 0], static, hop)))

    node = DDSPSynth()
    node.set_resource("model", shipped_path("ddsp", f"{name}.safetensors"))
    ddsp = loss(run_node(node, {"f0": frames_in(f0, hop), "loudness": frames_in(db, hop)}, SR, 256,
                         n_samples=len(f0) * hop)["out"][0])
    result = {"ddx7": ours, "static_fm": fixed, "ddsp": ddsp}
    print(json.dumps({name: result}))
    assert ours < fixed, result
    assert ours <= 1.5 * ddsp, result
