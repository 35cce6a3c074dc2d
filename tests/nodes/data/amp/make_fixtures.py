"""Write the amp fixtures: small .nam / GuitarML .json models and their reference outputs.

Run with an interpreter that has the `neural-amp-modeler` package (0.13) and torch, kept
out of the project environment::

    python3 -m venv /tmp/namvenv && /tmp/namvenv/bin/pip install torch==2.13.0 \
        && /tmp/namvenv/bin/pip install neural-amp-modeler
    /tmp/namvenv/bin/python tests/nodes/data/amp/make_fixtures.py

How each reference is made (seeded, so reruns give identical files):

- WaveNet (0.7 layout, gated, head1x1/bottleneck/blended, A2-style head conv): the
  ``.nam`` dicts are written in the 0.7 layout the trainer exports, with seeded random
  weights whose count comes from the package's model for that config; the package's own
  torch model (``nam.models._from_nam.init_from_nam``) built from the file is the reference. Reference = the torch model with
  ``pad_start=True`` (a receptive field of silence before the input), which is the core's
  silent-history start.
- WaveNet legacy 0.5 layout: the same weights written with the legacy keys (``head_size``,
  ``head_bias``, ``gated``, ``kernel_size``); same reference.
- SlimmableContainer: two WaveNet submodels wrapped the way the 0.13 trainer does (the
  package has no loader for the container); the reference is the torch model of the last
  (full-size) submodel, which the core runs by default.
- LSTM: package model with seeded weights; the core starts from the file's initial state
  and prewarms half a second of silence, so the reference runs the torch LSTM on
  ``concat(zeros(sr/2), x)`` and drops the prewarm part.
- Linear: the core applies ``weights[0]`` to the newest sample (NAM/linear.cpp), the
  reverse of the package's torch Conv1d, so its reference is numpy ``np.convolve`` with
  the core's convention.
- GuitarML json: torch.nn.LSTM + nn.Linear with seeded weights, zero initial state,
  ``skip`` adds the input.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import torch
from nam.models._from_nam import init_from_nam

HERE = Path(__file__).resolve().parent
SR = 48000
N = 3000


def test_input() -> np.ndarray:
    rng = np.random.default_rng(7)
    t = np.arange(N) / SR
    x = 0.4 * np.sin(2 * np.pi * (80 + 2000 * t) * t) + 0.15 * rng.standard_normal(N)
    x[N // 2:N // 2 + 200] = 0.0
    x[2000] = 0.9
    return x.astype(np.float32)


def weight_count(nam: dict) -> int:
    from nam.models._from_nam import _init_linear, _init_lstm, _init_wavenet
    init = {"WaveNet": _init_wavenet, "LSTM": _init_lstm, "Linear": _init_linear}[nam["architecture"]]
    model = init(config=copy.deepcopy(nam["config"]), sample_rate=nam.get("sample_rate"))
    return int(model._export_weights().size)


def random_weights(n: int, seed: int, scale: float) -> list:
    rng = np.random.default_rng(seed)
    return [float(v) for v in (scale * rng.standard_normal(n)).astype(np.float32)]


def torch_model(nam: dict):
    model = init_from_nam(copy.deepcopy(nam))
    model.eval()
    return model


def wavenet_reference(nam: dict, x: np.ndarray) -> np.ndarray:
    model = torch_model(nam)
    with torch.no_grad():
        y = model(torch.from_numpy(x.astype(np.float32)), pad_start=True)
    return y.numpy().astype(np.float32).ravel()


def lstm_reference(nam: dict, x: np.ndarray) -> np.ndarray:
    model = torch_model(nam)
    prewarm = int(0.5 * nam["sample_rate"])
    xp = np.concatenate([np.zeros(prewarm, np.float32), x])
    with torch.no_grad():
        y = model(torch.from_numpy(xp), pad_start=False)
    return y.numpy().astype(np.float32).ravel()[prewarm:]


def save(name: str, nam: dict, y: np.ndarray) -> None:
    (HERE / name).write_text(json.dumps(nam))
    np.save(HERE / (Path(name).stem + ".ref.npy"), y.astype(np.float32))
    print(f"{name}: {len(nam.get('weights', []))} weights, ref rms {np.sqrt(np.mean(y ** 2)):.4f}")


def layer_array_07(**kw) -> dict:
    n = len(kw["dilations"])
    base = {
        "input_size": 1, "condition_size": 1, "channels": 4, "bottleneck": 4,
        "head": {"out_channels": 1, "kernel_size": 1, "bias": True},
        "kernel_sizes": [3] * n, "dilations": kw["dilations"],
        "activation": [{"type": "Tanh"}] * n,
        "gating_mode": ["none"] * n, "secondary_activation": [None] * n,
        "head1x1": {"active": False, "out_channels": 4, "groups": 1},
        "layer1x1": {"active": True, "groups": 1},
    }
    base.update({k: v for k, v in kw.items() if k != "dilations"})
    return base


def wavenet_nam(layers: list, head_scale: float, seed: int, scale: float = 0.3, version="0.7.0") -> dict:
    nam = {"version": version, "architecture": "WaveNet",
           "config": {"layers": layers, "head": None, "head_scale": head_scale},
           "sample_rate": SR, "metadata": {"name": f"fixture {seed}", "gear_type": "amp", "loudness": -18.0}}
    n = weight_count(nam)
    nam["weights"] = random_weights(n - 1, seed, scale) + [head_scale]
    return nam


def main() -> None:
    x = test_input()
    np.save(HERE / "input.npy", x)

    # -- WaveNet, 0.7 layout: two arrays like A1 (smaller), plain tanh
    la1 = layer_array_07(dilations=[1, 2, 4, 8], channels=6, bottleneck=6,
                         head={"out_channels": 4, "kernel_size": 1, "bias": False})
    la2 = layer_array_07(input_size=6, dilations=[1, 2, 4, 8], channels=4, bottleneck=4,
                         head={"out_channels": 1, "kernel_size": 1, "bias": True})
    wn = wavenet_nam([la1, la2], 0.5, seed=1)
    save("wavenet_07.nam", wn, wavenet_reference(wn, x))

    # -- the same weights in the legacy 0.5 layout
    legacy = copy.deepcopy(wn)
    legacy["version"] = "0.5.4"
    new_layers = []
    for lc in legacy["config"]["layers"]:
        new_layers.append({"input_size": lc["input_size"], "condition_size": 1,
                           "head_size": lc["head"]["out_channels"], "channels": lc["channels"],
                           "kernel_size": 3, "dilations": lc["dilations"], "activation": "Tanh",
                           "gated": False, "head_bias": lc["head"]["bias"]})
    legacy["config"]["layers"] = new_layers
    save("wavenet_legacy_05.nam", legacy, wavenet_reference(wn, x))

    # -- gated WaveNet (sigmoid gate), legacy keys
    g1 = layer_array_07(dilations=[1, 3, 9], channels=4, bottleneck=4, gating_mode=["gated"] * 3,
                        secondary_activation=[{"type": "Sigmoid"}] * 3,
                        head={"out_channels": 1, "kernel_size": 1, "bias": True})
    gated = wavenet_nam([g1], 0.7, seed=2)
    save("wavenet_gated_07.nam", gated, wavenet_reference(gated, x))
    gated05 = copy.deepcopy(gated)
    gated05["version"] = "0.5.2"
    gated05["config"]["layers"] = [{"input_size": 1, "condition_size": 1, "head_size": 1, "channels": 4,
                                    "kernel_size": 3, "dilations": [1, 3, 9], "activation": "Tanh",
                                    "gated": True, "head_bias": True}]
    save("wavenet_gated_05.nam", gated05, wavenet_reference(gated, x))

    # -- 0.7 features: bottleneck != channels, head1x1, per-layer kernel sizes and
    #    activations, blended gating, a head conv with kernel 4
    h1 = layer_array_07(dilations=[1, 2, 5, 1], channels=5, bottleneck=3, kernel_sizes=[3, 2, 4, 3],
                        activation=[{"type": "Tanh"}, {"type": "Tanh"}, {"type": "SiLU"},
                                    {"type": "LeakyReLU", "negative_slope": 0.05}],
                        gating_mode=["none", "blended", "gated", "none"],
                        secondary_activation=[None, {"type": "Sigmoid"}, {"type": "Sigmoid"}, None],
                        head1x1={"active": True, "out_channels": 2, "groups": 1},
                        head={"out_channels": 1, "kernel_size": 4, "bias": True})
    h1nam = wavenet_nam([h1], 0.3, seed=3)
    save("wavenet_head1x1_07.nam", h1nam, wavenet_reference(h1nam, x))

    # -- SlimmableContainer of A2-style WaveNets (layer1x1, bottleneck, LeakyReLU, head kernel 16)
    def a2(channels: int, seed: int) -> dict:
        dil = [1, 3, 7, 17, 41, 1, 13, 1, 3]
        la = layer_array_07(dilations=dil, channels=channels, bottleneck=channels,
                            kernel_sizes=[6, 6, 6, 6, 6, 15, 15, 6, 6],
                            activation=[{"type": "LeakyReLU", "negative_slope": 0.01}] * len(dil),
                            head={"out_channels": 1, "kernel_size": 16, "bias": True})
        return wavenet_nam([la], 0.01, seed=seed, scale=0.25)
    small, full = a2(2, 4), a2(3, 5)
    container = {"version": "0.7.0", "architecture": "SlimmableContainer",
                 "config": {"submodels": [{"max_value": 0.5, "model": small}, {"max_value": 1.0, "model": full}]},
                 "sample_rate": SR, "metadata": {"name": "fixture container", "loudness": -20.0}}
    save("slimmable_container_a2.nam", container, wavenet_reference(full, x))

    # -- LSTM: 0.7 file from the package, then a legacy 0.5 copy, and a two-layer model
    for name, hidden, layers, version, seed in (("lstm_07.nam", 8, 1, "0.7.0", 6),
                                                ("lstm_2layer_05.nam", 5, 2, "0.5.4", 7)):
        nam = {"version": version, "architecture": "LSTM",
               "config": {"input_size": 1, "hidden_size": hidden, "num_layers": layers},
               "sample_rate": SR, "metadata": {"name": name, "gear_make": "Fixture", "loudness": -15.0}}
        nam["weights"] = random_weights(weight_count(nam), seed, 0.4)
        save(name, nam, lstm_reference(nam, x))

    # -- Linear (core convention: weights[0] is the newest sample)
    taps = np.asarray(random_weights(32, 8, 0.2), np.float32)
    lin = {"version": "0.5.4", "architecture": "Linear", "config": {"receptive_field": 32, "bias": True},
           "weights": [float(v) for v in taps] + [0.05], "sample_rate": SR}
    y = (np.convolve(x.astype(np.float64), taps.astype(np.float64))[:N] + 0.05).astype(np.float32)
    save("linear_05.nam", lin, y)

    # -- GuitarML / Proteus json (44.1 kHz, skip connection)
    torch.manual_seed(9)
    hidden = 6
    rec = torch.nn.LSTM(1, hidden, batch_first=True)
    lin_head = torch.nn.Linear(hidden, 1)
    sd = {f"rec.{k}": v.detach().numpy().tolist() for k, v in rec.state_dict().items()}
    sd.update({f"lin.{k}": v.detach().numpy().tolist() for k, v in lin_head.state_dict().items()})
    gml = {"model_data": {"model": "SimpleRNN", "input_size": 1, "skip": 1, "output_size": 1,
                          "unit_type": "LSTM", "num_layers": 1, "hidden_size": hidden, "bias_fl": True,
                          "sample_rate": 44100},
           "state_dict": sd}
    with torch.no_grad():
        h, _ = rec(torch.from_numpy(x).view(1, -1, 1))
        y = (lin_head(h) + torch.from_numpy(x).view(1, -1, 1)).numpy().ravel()
    (HERE / "guitarml_lstm.json").write_text(json.dumps(gml))
    np.save(HERE / "guitarml_lstm.ref.npy", y.astype(np.float32))
    print("guitarml_lstm.json written")


if __name__ == "__main__":
    main()
