"""synth.fm and the DDX7 chain: real-time factors on one thread at 48 kHz, block 256.

Reported, each number from the same run (best of N):
- synth.fm with 16 voices sounding (algorithm 5, feedback on), events driven, through
  ``run_node`` (RTF = seconds of compute / seconds of audio);
- the DDX7 chain as a patch rendered by ``engine.render`` (io.audio_in -> feature.pitch +
  feature.loudness -> ddx7.decoder -> synth.fm [-> ddsp.reverb, the model's learned one] -> out), long render minus short render
  so that preparation and warm-up are excluded, minus a passthrough patch;
- the decoder alone: the numba TCN over the frames of the same duration, and the torch
  model stepped one frame at a time with cached convolution inputs (one thread).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 \\
        python bench/fm.py [--model assets/ddx7/violin.safetensors]
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
from neuropatch.engine.events import note_on
from neuropatch.engine.testing import FramesIn, run_node
from neuropatch.nodes.ddx7.model import load_model
from neuropatch.nodes.ddx7.node import SHIPPED_MODEL, DDX7Decoder
from neuropatch.nodes.fm.node import FMSynth

def synth_rtf(seconds: float, voices: int, repeats: int) -> float:
    node = FMSynth()
    for k, v in dict(voices=voices, algorithm=5, level_2=1.5, level_3=0.5, level_4=2.0, level_5=0.5, level_6=1.0,
                     feedback=0.7, sustain=1.0, release_ms=50.0).items():
        node.set_param(k, v)
    events = [note_on(k, 48 + k, 100) for k in range(voices)]
    run_node(node, {"events": events}, SR, BLOCK, n_samples=SR // 10)     # compile
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run_node(node, {"events": events}, SR, BLOCK, n_samples=int(seconds * SR))
        best = min(best, time.perf_counter() - t0)
    return best / seconds


def chain_patch(model_path: str, config: dict, reverb: bool = False) -> dict:
    """features -> ddx7.decoder -> synth.fm [-> ddsp.reverb playing the model's learned reverb] -> out."""
    features = config.get("features") or {"n_fft": 1024, "hop": 256, "fmin": 95.0}
    fm = {"algorithm": config["algorithm"], **{f"ratio_{k}": r for k, r in enumerate(config["ratios"], 1)}}
    nodes = [node("in", "io.audio_in"), *feature_nodes(features),
             node("dec", "ddx7.decoder", resources={"model": {"path": model_path}}),
             node("fm", "synth.fm", params=fm), node("out", "io.audio_out")]
    edges = [edge(("in", "out"), ("pitch", "in")), edge(("in", "out"), ("loud", "in")),
             edge(("pitch", "out"), ("dec", "f0")), edge(("loud", "out"), ("dec", "loudness")),
             edge(("dec", "f0"), ("fm", "f0")), edge(("dec", "levels"), ("fm", "levels"))]
    if reverb:
        nodes.append(node("rev", "ddsp.reverb", params={"source": "model", "wet_db": 0.0},
                          resources={"model": {"path": model_path}}))
        edges += [edge(("fm", "out"), ("rev", "in")), edge(("rev", "out"), ("out", "in"))]
    else:
        edges.append(edge(("fm", "out"), ("out", "in")))
    return {"format": "neuropatch", "version": 1, "settings": {"sample_rate": SR, "block_size": BLOCK},
            "nodes": nodes, "edges": edges}


def decoder_costs(model_path: str, seconds: float, repeats: int) -> tuple:
    """(numba decoder RTF, torch-per-frame decoder RTF) over the frames of `seconds` of audio."""
    import torch

    from neuropatch.nodes.ddx7.torch_model import StreamingDecoder, build_decoder

    torch.set_num_threads(1)
    model = load_model(model_path)
    hop = int(model.config["hop"])
    n = int(seconds * SR / hop)
    rng = np.random.default_rng(1)
    f0 = rng.uniform(150, 800, n).astype(np.float32)
    db = rng.uniform(-60, -10, n).astype(np.float32)
    ins = {"f0": FramesIn(f0.reshape(n, 1, 1), hop), "loudness": FramesIn(db.reshape(n, 1, 1), hop)}
    node = DDX7Decoder()
    node.set_resource("model", model_path)
    numba_best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run_node(node, ins, SR, BLOCK, n_samples=n * hop)
        numba_best = min(numba_best, time.perf_counter() - t0)
    decoder = build_decoder(model.config)
    decoder.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.tensors.items() if k != "reverb.ir"})
    torch_best = float("inf")
    with torch.inference_mode():
        for _ in range(repeats):
            stream = StreamingDecoder(decoder, model.config)
            t0 = time.perf_counter()
            for i in range(n):
                stream.step(float(f0[i]), float(db[i]))
            torch_best = min(torch_best, time.perf_counter() - t0)
    return numba_best / seconds, torch_best / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(SHIPPED_MODEL))
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--voices", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    model = load_model(args.model)
    synth = synth_rtf(min(args.seconds, 10.0), args.voices, args.repeats)
    long_x, short_x = test_audio(args.seconds), test_audio(2.0)
    patch = chain_patch(args.model, model.config, reverb=model.reverb_ir is not None)
    render_seconds(patch, short_x)   # compile and cache kernels first
    chain, latency = per_render_rtf(patch, long_x, short_x, args.repeats)
    passthrough, _ = per_render_rtf(PASSTHROUGH, long_x, short_x, args.repeats)
    numba_dec, torch_dec = decoder_costs(args.model, min(args.seconds, 10.0), args.repeats)
    cfg = model.config
    print(f"synth.fm, {args.voices} voices sounding: RTF {synth:.4f}")
    print(f"model {args.model}: TCN {cfg['blocks']} x {cfg['channels']} ({model.parameters} parameters), "
          f"algorithm {cfg['algorithm']}, hop {cfg['hop']}")
    print(f"DDX7 chain RTF {chain:.4f}  (passthrough {passthrough:.4f}, chain's own {chain - passthrough:.4f}); "
          f"reported latency {latency} samples = {1000 * latency / SR:.1f} ms")
    print(f"decoder alone: numba {numba_dec:.4f} RTF, torch per frame {torch_dec:.4f} RTF "
          f"({torch_dec / numba_dec:.1f}x)")


if __name__ == "__main__":
    main()
