"""Neural amp benchmark: RTF of amp.nam kernels vs torch, and the ratio to a GEMM floor.

Run (one thread, OpenBLAS guards unset for the numpy GEMM reference only here):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python bench/amp.py

RTF = compute seconds per audio second, 10 s at 48 kHz, block 256, best of 5 (numba compile
excluded; first load measured separately). "in render" = the amp node's own cost inside
``engine.render`` (io.audio_in -> amp.nam -> io.audio_out): a 20 s render minus a 2 s render,
minus the same for a passthrough patch, best of 5. floor = MACs/sample * 2 * 48000 / (numpy float32
GEMM FLOP/s at 2048x2048, measured here); "x floor" = RTF / floor. Models: WaveNet "standard"
(A1: 2 arrays x 10 layers, 16/8 channels, kernel 3; 13,321 MAC/sample) and LSTM-40 (one
layer, 6,600 MAC/sample), seeded random weights in the .nam layout.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "neuropatch_numba_bench"))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench._render_timing import PASSTHROUGH, edge, node, per_render_rtf, test_audio  # noqa: E402

SR, SECONDS, BLOCK, REPEATS = 48000, 10.0, 256, 5
MACS = {"wavenet_a1_standard": 13321, "lstm_40": 6600}


def a1_standard() -> dict:
    dil = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    layers = [{"input_size": 1, "condition_size": 1, "head_size": 8, "channels": 16, "kernel_size": 3,
               "dilations": dil, "activation": "Tanh", "gated": False, "head_bias": False},
              {"input_size": 16, "condition_size": 1, "head_size": 1, "channels": 8, "kernel_size": 3,
               "dilations": dil, "activation": "Tanh", "gated": False, "head_bias": True}]
    rng = np.random.default_rng(0)
    return {"version": "0.5.4", "architecture": "WaveNet", "sample_rate": SR,
            "config": {"layers": layers, "head": None, "head_scale": 0.02},
            "weights": [float(v) for v in 0.15 * rng.standard_normal(13802)]}


def lstm40() -> dict:
    h = 40
    n = 4 * h * (1 + h) + 4 * h + 2 * h + h + 1
    rng = np.random.default_rng(1)
    return {"version": "0.5.4", "architecture": "LSTM", "sample_rate": SR,
            "config": {"input_size": 1, "hidden_size": h, "num_layers": 1},
            "weights": [float(v) for v in 0.2 * rng.standard_normal(n)]}


def gemm_flops() -> float:
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    b = a.copy()
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(5))
    return 2 * 2048 ** 3 / best


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def numba_rtf(program, x, fast) -> float:
    y = np.zeros_like(x)

    def run():
        program.reset()
        for i in range(0, x.size, BLOCK):
            program.process(x[i:i + BLOCK], y[i:i + BLOCK], fast)
    run()
    best = float("inf")
    for _ in range(REPEATS):
        program.reset()
        t = time.perf_counter()
        for i in range(0, x.size, BLOCK):
            program.process(x[i:i + BLOCK], y[i:i + BLOCK], fast)
        best = min(best, time.perf_counter() - t)
    return best / SECONDS


def torch_wavenet_rtf(spec, x) -> float:
    """Causal full-sequence torch forward of the same WaveNet (torch's best case: one call
    over the whole 10 s, no streaming overhead)."""
    import torch
    import torch.nn.functional as F

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a))

    arrays = []
    for a in spec.arrays:
        layers = [(t(l.conv_w), t(l.conv_b), l.dilation, l.kernel_size, t(l.mixin_w[:, :, None]),
                   t(l.l1_w[:, :, None]), t(l.l1_b)) for l in a.layers]
        arrays.append((t(a.rechannel_w[:, :, None]), layers, t(a.head_w), t(a.head_b)))
    xt = t(x).view(1, 1, -1)

    def forward():
        with torch.inference_mode():
            inp, head_prev = xt, None
            for rech, layers, hw, hb in arrays:
                z = F.conv1d(inp, rech)
                acc = head_prev
                for cw, cb, d, k, mw, lw, lb in layers:
                    c = F.conv1d(F.pad(z, (d * (k - 1), 0)), cw, cb, dilation=d) + F.conv1d(xt, mw)
                    a_ = torch.tanh(c)
                    acc = a_ if acc is None else acc + a_
                    z = z + F.conv1d(a_, lw, lb)
                head_prev = F.conv1d(acc, hw, hb)
                inp = z
            return head_prev * spec.head_scale

    forward()
    return min(_timed(forward) for _ in range(REPEATS)) / SECONDS


def torch_lstm_rtf(spec, x) -> float:
    """torch.nn.LSTM streamed in blocks of 256 with the state carried over."""
    import torch
    h = spec.hidden_size
    lstm = torch.nn.LSTM(1, h, batch_first=True)
    head = torch.nn.Linear(h, 1)
    w, b, h0, c0 = spec.layers[0]
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(w[:, :1]))
        lstm.weight_hh_l0.copy_(torch.from_numpy(w[:, 1:]))
        lstm.bias_ih_l0.copy_(torch.from_numpy(b))
        lstm.bias_hh_l0.zero_()
    xt = torch.from_numpy(x).view(1, -1, 1)

    def run():
        with torch.inference_mode():
            state = (torch.from_numpy(h0).view(1, 1, -1), torch.from_numpy(c0).view(1, 1, -1))
            for i in range(0, x.size, BLOCK):
                out, state = lstm(xt[:, i:i + BLOCK], state)
                head(out)
    run()
    return min(_timed(run) for _ in range(REPEATS)) / SECONDS


def in_render_rtf(doc: dict, passthrough: float) -> float:
    """The amp node's own RTF inside ``engine.render`` (see the module doc)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.nam"
        path.write_text(json.dumps(doc))
        patch = {"format": "neuropatch", "version": 1, "settings": {"sample_rate": SR, "block_size": BLOCK},
                 "nodes": [node("in", "io.audio_in"), node("amp", "amp.nam", resources={"model": {"path": str(path)}}),
                           node("out", "io.audio_out")],
                 "edges": [edge(("in", "out"), ("amp", "in")), edge(("amp", "out"), ("out", "in"))]}
        rtf, _ = per_render_rtf(patch, test_audio(20.0, 0.05), test_audio(2.0, 0.05), REPEATS)
    return rtf - passthrough


def main() -> int:
    import torch
    torch.set_num_threads(1)
    from neuropatch.nodes.amp.nam_format import parse_model_dict
    from neuropatch.nodes.amp.node import build_program

    flops = gemm_flops()
    print(f"numpy float32 GEMM 2048x2048, one thread: {flops / 1e9:.1f} GFLOP/s")
    x = (0.3 * np.sin(np.arange(int(SR * SECONDS)) * 2 * np.pi * 110 / SR)).astype(np.float32)
    x += 0.05 * np.random.default_rng(2).standard_normal(x.size).astype(np.float32)
    rows = []
    for name, doc in (("wavenet_a1_standard", a1_standard()), ("lstm_40", lstm40())):
        model = parse_model_dict(json.loads(json.dumps(doc)), name)
        t0 = time.perf_counter()
        program = build_program(model.spec, BLOCK)
        program.reset()
        program.process(x[:BLOCK], np.zeros(BLOCK, np.float32), False)
        program.process(x[:BLOCK], np.zeros(BLOCK, np.float32), True)
        first_load = time.perf_counter() - t0
        floor = MACS[name] * 2 * SR / flops
        exact = numba_rtf(program, x, False)
        fast = numba_rtf(program, x, True)
        ref = torch_wavenet_rtf(model.spec, x) if name.startswith("wavenet") else torch_lstm_rtf(model.spec, x)
        rows.append((name, exact, exact / floor, fast, fast / floor, ref, ref / exact, first_load))
        print(f"{name}: floor RTF {floor:.5f}; exact RTF {exact:.5f} ({exact / floor:.1f}x floor); "
              f"fast RTF {fast:.5f} ({fast / floor:.1f}x floor); torch RTF {ref:.5f} "
              f"({ref / exact:.1f}x slower than exact); first load {first_load:.2f} s")
    passthrough, _ = per_render_rtf(PASSTHROUGH, test_audio(20.0, 0.05), test_audio(2.0, 0.05), REPEATS)
    flops = max(flops, gemm_flops())
    print(f"in render (passthrough RTF {passthrough:.5f} subtracted; GEMM {flops / 1e9:.1f} GFLOP/s, best of the two):")
    for name, doc in (("wavenet_a1_standard", a1_standard()), ("lstm_40", lstm40())):
        own = in_render_rtf(doc, passthrough)
        floor = MACS[name] * 2 * SR / flops
        print(f"{name}: own RTF in render {own:.5f} ({own / floor:.2f}x floor)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
