"""DDSP timbre-transfer chain: real-time factor on one thread at 48 kHz, block 256.

Chain: io.audio_in -> feature.pitch + feature.loudness (n_fft 1024, hop 256) ->
ddsp.decoder (RnnFcDecoder: 2 x 96 MLPs, GRU 128) -> ddsp.harmonic (60) + ddsp.noise
(65 bands) -> util.mix -> ddsp.reverb (the model's learned impulse response) -> out, as
a patch rendered by ``engine.render`` (the whole engine, block by block).

Reported per run (best of N, each number from the same run):
- chain RTF: render seconds / audio seconds (long render minus short render, so
  preparation and warm-up are excluded), and the reported graph latency in ms;
- the same for a passthrough patch (in -> out), the engine's own cost;
- the chain's own cost: chain minus passthrough;
- torch per frame: the same decoder as a torch module stepped one frame at a time (GRU
  state carried, one thread), as a plugin calling torch per frame would, for the frames
  of the same audio, plus the cost of the numba decoder alone on those frames.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 \\
        python bench/ddsp.py [--model assets/ddsp/violin.safetensors]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench._render_timing import (BLOCK, PASSTHROUGH, SR, edge, feature_nodes, node,  # noqa: E402
                                  per_render_rtf, render_seconds, test_audio)
from neuropatch.engine.testing import FramesIn, run_node
from neuropatch.nodes.ddsp.model import load_model
from neuropatch.nodes.ddsp.node import SHIPPED_MODEL, DDSPDecoder

def chain_patch(model_path: str, features: dict) -> dict:
    return {"format": "neuropatch", "version": 1, "settings": {"sample_rate": SR, "block_size": BLOCK},
            "nodes": [node("in", "io.audio_in"),
                      *feature_nodes(features),
                      node("dec", "ddsp.decoder", resources={"model": {"path": model_path}}),
                      node("harm", "ddsp.harmonic"), node("noise", "ddsp.noise"), node("mix", "util.mix"),
                      node("rev", "ddsp.reverb", params={"source": "model"}, resources={"model": {"path": model_path}}),
                      node("out", "io.audio_out")],
            "edges": [edge(("in", "out"), ("pitch", "in")), edge(("in", "out"), ("loud", "in")),
                      edge(("pitch", "out"), ("dec", "f0")), edge(("loud", "out"), ("dec", "loudness")),
                      edge(("dec", "f0"), ("harm", "f0")), edge(("dec", "amplitude"), ("harm", "amplitude")),
                      edge(("dec", "harmonics"), ("harm", "harmonics")), edge(("dec", "noise"), ("noise", "magnitudes")),
                      edge(("harm", "out"), ("mix", "in1")), edge(("noise", "out"), ("mix", "in2")),
                      edge(("mix", "out"), ("rev", "in")), edge(("rev", "out"), ("out", "in"))]}


def decoder_costs(model_path: str, features: dict, seconds: float, repeats: int) -> tuple:
    """(numba decoder RTF, torch-per-frame decoder RTF) over the frames of `seconds` of audio."""
    import torch

    from neuropatch.nodes.ddsp.torch_model import build_decoder

    torch.set_num_threads(1)
    n = int(seconds * SR / features["hop"])
    rng = np.random.default_rng(1)
    f0 = rng.uniform(150, 800, n).astype(np.float32)
    db = rng.uniform(-60, -10, n).astype(np.float32)
    ins = {"f0": FramesIn(f0.reshape(n, 1, 1), features["hop"]), "loudness": FramesIn(db.reshape(n, 1, 1), features["hop"])}
    node = DDSPDecoder()
    node.set_resource("model", model_path)
    numba_best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run_node(node, ins, SR, BLOCK, n_samples=n * features["hop"])
        numba_best = min(numba_best, time.perf_counter() - t0)
    model = load_model(model_path)
    decoder = build_decoder(model.config)
    decoder.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.tensors.items() if k != "reverb.ir"})
    f0_t, db_t = torch.from_numpy(f0).view(1, n, 1), torch.from_numpy(db).view(1, n, 1)
    torch_best = float("inf")
    for _ in range(repeats):
        state = None
        t0 = time.perf_counter()
        with torch.no_grad():
            for i in range(n):
                if model.arch == "rnn":
                    # one GRU step per frame, state carried (the streaming form)
                    state = decoder_step(torch, decoder, f0_t[:, i], db_t[:, i], state)
                else:
                    decoder(f0_t[:, i], db_t[:, i])
        torch_best = min(torch_best, time.perf_counter() - t0)
    return numba_best / seconds, torch_best / seconds


def decoder_step(torch, decoder, f0, db, state):
    """One frame through the torch RnnFcDecoder; returns the GRU state."""
    import math

    midi = 69.0 + 12.0 * torch.log2(torch.clamp(f0, min=20.0) / 440.0)
    outs = []
    for layers, x in zip((decoder.f0_mlp, decoder.loudness_mlp), (midi / 127.0, db / 80.0 + 1.0)):
        for layer in layers:
            x = layer(x)
        outs.append(x)
    cat = torch.cat(outs, dim=-1)[:, None, :]
    g, state = decoder.gru(cat, state)
    h = torch.cat([g, cat], dim=-1)
    for layer in decoder.out_mlp:
        h = layer(h)
    o = decoder.out(h)
    _ = 2.0 * torch.sigmoid(o[..., 0]) ** math.log(10.0)
    return state


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(SHIPPED_MODEL))
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    model = load_model(args.model)
    features = model.config.get("features") or {"n_fft": 1024, "hop": 256, "fmin": 95.0}
    long_x, short_x = test_audio(args.seconds, noise=0.01), test_audio(2.0, noise=0.01)
    render_seconds(chain_patch(args.model, features), short_x)   # compile and cache kernels first
    chain, latency = per_render_rtf(chain_patch(args.model, features), long_x, short_x, args.repeats)
    passthrough, _ = per_render_rtf(PASSTHROUGH, long_x, short_x, args.repeats)
    numba_dec, torch_dec = decoder_costs(args.model, features, min(args.seconds, 10.0), args.repeats)
    cfg = model.config
    print(f"model {args.model}: {cfg.get('arch', 'mlp')} decoder, {cfg['n_harmonics']} harmonics, "
          f"{cfg['n_bands']} noise bands, hop {cfg['hop']}, features n_fft {features['n_fft']}")
    print(f"chain RTF {chain:.4f}  (passthrough {passthrough:.4f}, chain's own {chain - passthrough:.4f}); "
          f"reported latency {latency} samples = {1000 * latency / SR:.1f} ms")
    print(f"decoder alone: numba {numba_dec:.4f} RTF, torch per frame {torch_dec:.4f} RTF "
          f"({torch_dec / numba_dec:.1f}x)")


if __name__ == "__main__":
    main()
