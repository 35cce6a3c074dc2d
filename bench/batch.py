"""Batch throughput: short files through the amp patch, 1 and 2 local workers and Ray actors.

    python bench/batch.py [--files 200] [--seconds 0.5] [--skip-ray]

Prints, per configuration: throughput (audio seconds per wall second, whole batch including
worker start-up), steady throughput (first finished file to last), scaling against one
worker, and the per-file overhead beyond render time: steady wall per file per worker minus
the render time of one file measured in-process (same patch, schedule reused, no file I/O)
in the same run. Not a test: numbers only.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PATCH = REPO / "patches" / "amp_sim.json"


def make_files(folder: Path, count: int, seconds: float) -> None:
    import soundfile as sf

    rng = np.random.default_rng(0)
    n = int(seconds * 48000)
    for k in range(count):
        x = rng.uniform(-0.5, 0.5, n).astype(np.float32) * np.hanning(n).astype(np.float32)
        sf.write(folder / f"f{k:04d}.wav", x, 48000, subtype="FLOAT")


def pure_render_seconds(folder: Path, repeats: int = 3) -> float:
    """Best-of-N in-process render time of one file (schedule compiled once, no I/O)."""
    from neuropatch.engine.audiofile import read_audio
    from neuropatch.engine.batch_plan import BatchItem, InputFile
    from neuropatch.engine.batch_render import PatchRenderer

    renderer = PatchRenderer(PATCH)
    files = sorted(folder.glob("*.wav"))[:20]
    audio = [read_audio(p) for p in files]
    item = BatchItem(InputFile(files[0], Path(files[0].name)))
    renderer._render(item, *audio[0])  # compile + warm
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for a, sr in audio:
            renderer._render(item, a, sr)
        best = min(best, (time.perf_counter() - t0) / len(audio))
    renderer.close()
    return best


def run_batch(folder: Path, out: Path, workers: int, backend: str) -> dict:
    from neuropatch.engine.batch_run import Batch, BatchOptions

    stamps = []
    t0 = time.perf_counter()
    batch = Batch(BatchOptions(str(PATCH), [str(folder)], out, workers=workers, backend=backend))
    report = batch.run(lambda entry: stamps.append(time.perf_counter()))
    wall = time.perf_counter() - t0
    s = report.summary()
    assert s["ok"] == len(batch.items), s
    steady = (stamps[-1] - stamps[0]) / (len(stamps) - 1)   # wall per file, all workers together
    return {"wall": wall, "audio": s["audio_seconds"], "steady_per_file": steady, "workers": workers}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--skip-ray", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="np-bench-batch-") as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        make_files(tmp / "in", args.files, args.seconds)
        render = pure_render_seconds(tmp / "in")
        print(f"{args.files} files x {args.seconds} s through {PATCH.name}; in-process render "
              f"{1000 * render:.1f} ms per file (RTF {render / args.seconds:.3f})")
        configs = [("local", 1), ("local", 2)] + ([] if args.skip_ray else [("ray", 2)])
        base = None
        print(f"{'backend':<8} {'workers':>7} {'wall s':>7} {'audio s/s':>9} {'steady audio s/s':>16} "
              f"{'scaling':>7} {'overhead/file':>13}")
        for backend, workers in configs:
            r = run_batch(tmp / "in", tmp / f"out_{backend}_{workers}", workers, backend)
            steady_tp = args.seconds / r["steady_per_file"]
            if base is None:
                base = steady_tp
            overhead = r["steady_per_file"] * workers - render
            print(f"{backend:<8} {workers:>7} {r['wall']:>7.2f} {r['audio'] / r['wall']:>9.1f} "
                  f"{steady_tp:>16.1f} {steady_tp / base:>6.2f}x {1000 * overhead:>10.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
