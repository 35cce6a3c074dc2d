"""vocoder.gan: streaming real-time factor next to torch whole-file inference of the same
model, one thread, 48 kHz, block 256, in the same run (best of N each).

Reported:
- streaming, the node alone: ``run_node`` over dB mel frames (the inference lane with its
  thread worker on chunks of ``--chunk`` samples, the audio side waiting for every chunk
  as an offline render does);
- streaming, the patch: io.audio_in -> spectral.stft -> spectral.mel -> vocoder.gan -> out
  rendered by ``engine.render`` (long render minus short render, so preparation and
  warm-up are excluded), minus a passthrough patch;
- torch whole-file: the generator called once on all frames of the same audio.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 \\
        python bench/resynthesis.py [--model assets/vocoder/fluid.safetensors] [--chunk 1024]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench._render_timing import BLOCK, PASSTHROUGH, SR, edge, node, per_render_rtf, render_seconds, test_audio  # noqa: E402
from neuropatch.engine.testing import FramesIn, run_node  # noqa: E402
from neuropatch.nodes.vocoder.model import load_model  # noqa: E402
from neuropatch.nodes.vocoder.node import SHIPPED_MODEL, GanVocoder  # noqa: E402


def chain_patch(model_path: str, mel: dict, chunk: int) -> dict:
    return {"format": "neuropatch", "version": 1, "settings": {"sample_rate": SR, "block_size": BLOCK},
            "nodes": [node("in", "io.audio_in"),
                      node("stft", "spectral.stft", params={"n_fft": mel["n_fft"], "hop": mel["hop"],
                                                            "output": "power"}),
                      node("mel", "spectral.mel", params={"n_mels": mel["n_mels"], "fmin": mel["fmin"],
                                                          "fmax": mel["fmax"], "db": True, "top_db": mel["top_db"]}),
                      node("voc", "vocoder.gan", params={"chunk": chunk}, resources={"model": {"path": model_path}}),
                      node("out", "io.audio_out")],
            "edges": [edge(("in", "out"), ("stft", "in")), edge(("stft", "out"), ("mel", "in")),
                      edge(("mel", "out"), ("voc", "in")), edge(("voc", "out"), ("out", "in"))]}


def main() -> None:
    import torch

    from neuropatch.nodes.vocoder.torch_model import MelFrontEnd, build_generator, load_tensors

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(SHIPPED_MODEL))
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--chunk", type=int, default=1024, help="the node's chunk (samples per model call)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load_model(args.model)
    mel_cfg = model.config["mel"]
    x = test_audio(args.seconds, noise=0.01)
    with torch.no_grad():
        mel = MelFrontEnd(mel_cfg)(torch.from_numpy(x))          # [1, n_mels, F]
    frames = np.ascontiguousarray(mel[0].T.numpy()[:, None, :])

    generator = build_generator(model.config)
    load_tensors(generator, model.tensors)
    generator.eval()
    whole = float("inf")
    with torch.inference_mode():
        generator(mel[:, :, :200])
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            generator(mel)
            whole = min(whole, time.perf_counter() - t0)
    whole /= args.seconds

    voc = GanVocoder()
    voc.set_resource("model", args.model)
    voc.set_param("chunk", args.chunk)
    n = frames.shape[0] * int(mel_cfg["hop"])
    run_node(voc, {"in": FramesIn(frames[:100], int(mel_cfg["hop"]))}, SR, BLOCK, n_samples=100 * int(mel_cfg["hop"]))
    streaming = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        run_node(voc, {"in": FramesIn(frames, int(mel_cfg["hop"]))}, SR, BLOCK, n_samples=n)
        streaming = min(streaming, time.perf_counter() - t0)
    # run_node prepares (starts the worker, loads and warms the model) on every call: time that
    # alone and take it off
    setup = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        run_node(voc, {"in": FramesIn(frames[:4], int(mel_cfg["hop"]))}, SR, BLOCK, n_samples=4 * int(mel_cfg["hop"]))
        setup = min(setup, time.perf_counter() - t0)
    streaming = (streaming - setup) / args.seconds

    short_x = test_audio(2.0, noise=0.01)
    patch = chain_patch(args.model, mel_cfg, args.chunk)
    render_seconds(patch, short_x)   # compile and cache kernels first
    chain, latency = per_render_rtf(patch, x, short_x, args.repeats)
    passthrough, _ = per_render_rtf(PASSTHROUGH, x, short_x, args.repeats)

    cfg = model.config
    print(f"model {args.model}: {model.parameters} parameters, {cfg['channels']} channels, upsampling "
          f"{'x'.join(str(r) for r in cfg['upsample_rates'])}, {mel_cfg['sample_rate']} Hz, hop {mel_cfg['hop']}, "
          f"{mel_cfg['n_mels']} mels; node chunk {args.chunk}")
    print(f"torch whole-file inference RTF {whole:.4f}")
    print(f"vocoder.gan streaming (node, block {BLOCK}) RTF {streaming:.4f}  ({streaming / whole:.2f}x whole-file)")
    print(f"patch stft -> mel -> vocoder.gan RTF {chain:.4f}  (passthrough {passthrough:.4f}, chain's own "
          f"{chain - passthrough:.4f}); reported latency {latency} samples = {1000 * latency / SR:.1f} ms")


if __name__ == "__main__":
    main()
