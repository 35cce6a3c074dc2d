"""Spectral and feature nodes: real-time factor on one thread, 60 s of 48 kHz audio.

- streaming spectral.stft -> spectral.mel (n_fft 2048, hop 512, 128 mels, power, block 256),
  nodes called block by block exactly as the engine calls them, vs
  librosa.feature.melspectrogram on the whole file (same n_fft/hop/mels);
- streaming feature.pitch (frame 2048, hop 512, fmin 50, fmax 2000, block 256) vs
  librosa.yin and librosa.pyin on the whole file with the same frame, hop and range;
- streaming fx.ir (a 2048-tap IR, block 256, zero latency) vs scipy.signal.oaconvolve of
  the whole file with the same IR;
- the two zero-latency convolvers fx.ir chooses between (nodes/dsp/convolver.py), direct
  form and partitioned FFT, at 256 to 2048 taps (the partitioned one also at 4096), block
  256: where direct form stops paying (``--only ir`` runs just these).

RTF = compute seconds / audio seconds, best of N (pyin: best of PYIN_REPEATS, it is slow).
Run with one thread and OpenBLAS at its own defaults:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 \
        python bench/spectral.py
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from neuropatch.engine.streams import allocate_buffer
from neuropatch.engine.testing import FramesIn, output_specs, prepare_node
from neuropatch.nodes.effects import ImpulseResponse
from neuropatch.nodes.spectral.mel import Mel
from neuropatch.nodes.spectral.pitch import Pitch
from neuropatch.nodes.spectral.stft import STFT

SR = 48000
BLOCK = 256


def test_audio(seconds: float) -> np.ndarray:
    """float32 [1, samples]: a gliding harmonic tone plus noise."""
    rng = np.random.default_rng(0)
    t = np.arange(int(SR * seconds)) / SR
    f = 220.0 * 2 ** (np.sin(2 * np.pi * 0.1 * t))
    phase = 2 * np.pi * np.cumsum(f) / SR
    x = 0.3 * np.sin(phase) + 0.1 * np.sin(2 * phase) + 0.02 * rng.standard_normal(t.size)
    return x.astype(np.float32)[None]


def best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def streaming_mel(x: np.ndarray):
    """Prepare STFT and Mel once; return a callable streaming the whole signal through them."""
    stft = STFT()
    stft.set_param("output", "power")
    ctx = prepare_node(stft, {"in": x}, SR, BLOCK)
    frames = allocate_buffer(ctx.out_specs["out"], BLOCK)
    mel = Mel()
    mctx = prepare_node(mel, {"in": FramesIn(np.zeros((1,) + frames.data.shape[1:], np.float32), 512)}, SR, BLOCK)
    mels = allocate_buffer(mctx.out_specs["out"], BLOCK)
    blocks = [x[:, i:i + BLOCK] for i in range(0, x.shape[1] - BLOCK + 1, BLOCK)]
    s_ins, s_outs, m_ins, m_outs = {"in": None}, {"out": frames}, {"in": frames}, {"out": mels}

    def run():
        stft.reset()
        mel.reset()
        for blk in blocks:
            s_ins["in"] = blk
            stft.process(s_ins, s_outs, BLOCK)
            mel.process(m_ins, m_outs, BLOCK)
    return run


def block_runner(node, x: np.ndarray):
    """Prepare an audio-in node; return a callable that resets it and streams x through it."""
    ctx = prepare_node(node, {"in": x}, SR, BLOCK)
    outs = {k: allocate_buffer(spec, BLOCK) for k, spec in output_specs(node, ctx).items()}
    blocks = [x[:, i:i + BLOCK] for i in range(0, x.shape[1] - BLOCK + 1, BLOCK)]
    ins = {"in": None}

    def run():
        node.reset()
        for blk in blocks:
            ins["in"] = blk
            node.process(ins, outs, BLOCK)
    return run


def streaming_pitch(x: np.ndarray):
    node = Pitch()
    node.set_param("hop", 512)
    return block_runner(node, x)


def cabinet_ir(taps: int = 2048) -> np.ndarray:
    """float32 [taps]: decaying noise, a stand-in for a cabinet impulse response."""
    rng = np.random.default_rng(7)
    return (rng.standard_normal(taps) * np.exp(-np.arange(taps) / (taps / 6))).astype(np.float32)


def streaming_ir(x: np.ndarray, ir_path: Path):
    node = ImpulseResponse()
    node.set_resource("ir", ir_path)
    node.set_param("normalize", "off")
    return block_runner(node, x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pyin-repeats", type=int, default=1)
    ap.add_argument("--only", choices=("ir",), help="only the convolver comparison")
    args = ap.parse_args()
    if args.only == "ir":
        convolver_table(test_audio(args.seconds), args.seconds, args.repeats)
        return
    import librosa

    x = test_audio(args.seconds)
    y = x[0]
    secs = args.seconds

    run_mel = streaming_mel(x)
    run_mel()  # compile / warm
    ours_mel = best_of(run_mel, args.repeats)
    librosa.feature.melspectrogram(y=y[:SR], sr=SR, n_fft=2048, hop_length=512, n_mels=128)
    lib_mel = best_of(lambda: librosa.feature.melspectrogram(y=y, sr=SR, n_fft=2048, hop_length=512,
                                                             n_mels=128), args.repeats)
    run_pitch = streaming_pitch(x)
    run_pitch()
    ours_pitch = best_of(run_pitch, args.repeats)
    lib_yin = best_of(lambda: librosa.yin(y, fmin=50, fmax=2000, sr=SR, frame_length=2048, hop_length=512),
                      args.repeats)
    lib_pyin = best_of(lambda: librosa.pyin(y, fmin=50, fmax=2000, sr=SR, frame_length=2048, hop_length=512),
                       args.pyin_repeats)

    import soundfile as sf
    from scipy.signal import oaconvolve

    ir = cabinet_ir()
    with tempfile.TemporaryDirectory() as tmp:
        ir_path = Path(tmp) / "cab.wav"
        sf.write(str(ir_path), ir, SR, subtype="FLOAT")
        run_ir = streaming_ir(x, ir_path)
    run_ir()
    ours_ir = best_of(run_ir, args.repeats)
    lib_ir = best_of(lambda: oaconvolve(y, ir), args.repeats)

    rows = [
        ("streaming stft+mel (block 256)", ours_mel),
        ("librosa melspectrogram (whole file)", lib_mel),
        ("streaming feature.pitch YIN (block 256)", ours_pitch),
        ("librosa.yin (whole file)", lib_yin),
        ("librosa.pyin (whole file)", lib_pyin),
        ("streaming fx.ir 2048 taps (block 256)", ours_ir),
        ("scipy oaconvolve 2048 taps (whole file)", lib_ir),
    ]
    print(f"{secs:.0f} s of {SR} Hz mono audio, one thread, best of {args.repeats} "
          f"(pyin best of {args.pyin_repeats})")
    print(f"| {'what':42s} | seconds | RTF |")
    print(f"|{'-' * 44}|---------|-----|")
    for name, t in rows:
        print(f"| {name:42s} | {t:7.3f} | {t / secs:.5f} |")
    print(f"streaming mel / librosa mel: {ours_mel / lib_mel:.2f}x (target <= 1.5x)")
    print(f"librosa.pyin / our pitch: {lib_pyin / ours_pitch:.0f}x faster (target >= 10x); "
          f"librosa.yin / our pitch: {lib_yin / ours_pitch:.1f}x")
    print(f"streaming fx.ir / scipy oaconvolve: {ours_ir / lib_ir:.2f}x")
    convolver_table(x, secs, args.repeats)


def convolver_table(x: np.ndarray, secs: float, repeats: int) -> None:
    """RTF of direct form and partitioned FFT convolution per IR length (best of `repeats`
    each, the two kernels one after the other at each length)."""
    from neuropatch.nodes.dsp.convolver import Convolver
    from neuropatch.nodes.dsp.fir import DIRECT_MAX_TAPS, DirectConvolver

    def runner(conv):
        y = np.zeros_like(x)

        def run():
            conv.reset()
            for start in range(0, x.shape[1], 256):
                conv.process(x[:, start:start + 256], y[:, start:start + 256])
        run()   # compile / warm
        return run

    print(f"convolvers, block 256, best of {repeats} (RTF)")
    print("| taps | direct form | partitioned FFT | direct / partitioned |")
    print("|---|---|---|---|")
    for taps in (256, 512, 1024, 1536, DIRECT_MAX_TAPS, 4096):
        ir = cabinet_ir(taps)
        part = best_of(runner(Convolver(ir, 1, 256)), repeats) / secs
        if taps <= DIRECT_MAX_TAPS:
            direct = best_of(runner(DirectConvolver(ir, 1)), repeats) / secs
            print(f"| {taps} | {direct:.5f} | {part:.5f} | {direct / part:.2f}x |")
        else:
            print(f"| {taps} | (FFT only) | {part:.5f} | |")


if __name__ == "__main__":
    main()
