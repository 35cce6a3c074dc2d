"""`neuropatch batch`: one patch over many files, locally or on a Ray cluster."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from neuropatch.app.cli import add_trust_argument, fail, trust_files


def cmd_batch(args) -> int:
    from neuropatch.engine import NeuropatchError
    from neuropatch.engine.batch_run import Batch, BatchOptions

    err = trust_files(args)
    if err:
        return fail(err)
    opts = BatchOptions(patch=args.patch, inputs=args.inputs, out_dir=Path(args.out), workers=args.workers,
                        backend=args.backend, ray_address=args.ray_address, sets=tuple(args.set or ()),
                        overwrite=args.overwrite)
    try:
        batch = Batch(opts)
    except NeuropatchError as exc:
        return fail(str(exc))
    total, todo = len(batch.items), len(batch.todo)
    done_before = sum(e["status"] == "ok" for e in batch.report.entries.values())
    skipped = sum(e["status"] == "skipped" for e in batch.report.entries.values())
    if not args.quiet:
        print(f"batch: {total} item(s); {todo} to render on {args.backend} ({args.workers} worker(s))"
              + (f", {done_before} already done" if done_before else "")
              + (f", {skipped} skipped (output exists; --overwrite replaces)" if skipped else ""),
              file=sys.stderr)
    bar = None
    t0 = time.perf_counter()
    audio = [0.0]
    if not args.quiet and todo:
        from tqdm import tqdm

        bar = tqdm(total=todo, unit="file", file=sys.stderr, desc="batch", smoothing=0.1)

    def on_item(entry):
        audio[0] += entry["audio_seconds"] or 0.0
        if entry["status"] == "failed" and not args.quiet:
            msg = entry["error"]
            (bar.write if bar is not None else print)(f"error: {msg}", file=sys.stderr)
        if bar is not None:
            wall = time.perf_counter() - t0
            bar.set_postfix_str(f"{audio[0] / max(wall, 1e-9):.1f}x real time", refresh=False)
            bar.update(1)

    try:
        report = batch.run(on_item)
    except NeuropatchError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        print(f"interrupted: {Path(args.out) / 'batch_report.json'} records what finished; rerun the "
              "same command to render the rest", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    s = report.summary()
    wall = time.perf_counter() - t0
    print(f"batch: {s['ok']} ok, {s['failed']} failed, {s['skipped']} skipped; {audio[0]:.1f} s of audio "
          f"in {wall:.1f} s -> {Path(args.out) / 'batch_report.json'}", file=sys.stderr)
    return 1 if s["failed"] else 0


def add_parser(sub) -> None:
    b = sub.add_parser("batch", help="render many files through a patch (local processes or Ray)",
                       description="Render every input through PATCH (a patch or a bundle). Outputs keep "
                                   "the input folder structure under --out; batch_report.json records each "
                                   "file; rerunning resumes (finished files are skipped, failed ones retried).")
    b.add_argument("patch", help="patch (.json) or bundle (.npbundle)")
    b.add_argument("--inputs", nargs="+", required=True, metavar="DIR_GLOB_OR_LIST",
                   help="folders (searched recursively), glob patterns ('takes/**/*.wav') or text "
                        "files listing one path per line")
    b.add_argument("--out", required=True, help="output folder")
    b.add_argument("--workers", type=int, default=1, help="worker processes or Ray actors (default 1)")
    b.add_argument("--backend", choices=("local", "ray"), default="local")
    b.add_argument("--ray-address", help="address of a running Ray cluster (default: start Ray locally)")
    b.add_argument("--set", action="append", metavar="NODE.PARAM=V1,V2",
                   help="sweep a param or a model file; several --set render every combination")
    b.add_argument("--overwrite", action="store_true",
                   help="replace existing outputs and start the batch over")
    b.add_argument("-q", "--quiet", action="store_true")
    add_trust_argument(b)
    b.set_defaults(func=cmd_batch)
