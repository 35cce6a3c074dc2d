"""The ``neuropatch`` command. Headless subcommands never import Qt."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def fail(message: str, code: int = 2) -> int:
    """Print one `error:` line (control characters escaped) on stderr; return the exit code."""
    print(f"error: {_one_line(message)}", file=sys.stderr)
    return code


def _one_line(text: str) -> str:
    """`text` with line breaks and other control characters escaped (a patch is untrusted input:
    its strings must not move the cursor or recolour the terminal)."""
    return "".join(c if c.isprintable() or c == " " else ascii(c)[1:-1] for c in str(text))


def _check_render_args(args, graph) -> str | None:
    """Why the render arguments cannot work (before any audio is read or rendered), or None."""
    import math

    from neuropatch.engine.compiler import MAX_BLOCK_SIZE, SAMPLE_RATE_RANGE

    lo, hi = SAMPLE_RATE_RANGE
    if args.sr is not None and not lo <= args.sr <= hi:
        return f"--sr {args.sr}: expected a sample rate in [{lo}, {hi}] Hz"
    if args.block is not None and not 1 <= args.block <= MAX_BLOCK_SIZE:
        return f"--block {args.block}: expected a block size in [1, {MAX_BLOCK_SIZE}] samples"
    if args.seconds is not None and not (math.isfinite(args.seconds) and 0 < args.seconds <= 24 * 3600):
        return f"--seconds {args.seconds}: expected a length in (0, 86400] seconds"
    if args.out:
        import soundfile as sf

        out = Path(args.out)
        if out.is_dir():
            return f"--out {out}: is a folder; name an audio file (.wav, .flac, .ogg)"
        folder = out.parent if str(out.parent) else Path(".")
        if not folder.is_dir():
            return f"--out {out}: folder {folder} does not exist"
        ext = out.suffix.lower().lstrip(".")
        if ext.upper() not in sf.available_formats():
            return f"--out {out}: unknown audio format '.{ext}' (use .wav, .flac or .ogg)"
        import os

        if not os.access(folder, os.W_OK):
            return f"--out {out}: folder {folder} is not writable"
        if not any(spec.type == "io.audio_out" for spec in graph.nodes.values()):
            return (f"{args.patch}: the patch has no io.audio_out node, so --out would be silent "
                    "(add one, or render without --out)")
    return None


def load_patch_arg(arg: str):
    """Load a patch argument, a patch file or a bundle (unpacked in the bundle cache).

    Returns (graph, the folder its resources are relative to, None) or (None, None, error line).
    """
    from neuropatch.engine import NeuropatchError, PatchError, load_patch
    from neuropatch.engine.bundle_cache import is_bundle, patch_file

    try:
        path = patch_file(arg)
        return load_patch(path), path.resolve().parent, None
    except PatchError as exc:
        where = f"{arg} (bundle): {Path(exc.file).name}" if is_bundle(arg) and exc.file else (exc.file or arg)
        return None, None, f"{where}: {exc}"
    except NeuropatchError as exc:
        return None, None, str(exc)


def load_trusted_patch_arg(args):
    """:func:`load_patch_arg` of ``args.patch`` after recording every ``--trust FILE``:
    (graph, base folder, None) or (None, None, error line)."""
    graph, base_dir, err = load_patch_arg(args.patch)
    if err is None:
        err = trust_files(args)
    return (None, None, err) if err else (graph, base_dir, None)


# ---- trust -------------------------------------------------------------------------------


def add_trust_argument(parser) -> None:
    parser.add_argument("--trust", action="append", default=[], metavar="FILE",
                        help="trust this TorchScript model file (code): its sha256 is recorded in "
                             "your trust store, as the editor's dialog does; repeatable")


def trust_files(args) -> str | None:
    """Record every ``--trust FILE`` in the user's trust store; an error line or None."""
    from neuropatch.engine import NeuropatchError
    from neuropatch.engine.trust import trust

    for path in getattr(args, "trust", []) or []:
        try:
            digest = trust(path)
        except NeuropatchError as exc:
            return str(exc)
        print(f"note: trusted {path} (sha256 {digest[:16]}…)", file=sys.stderr)
    return None


# ---- render -------------------------------------------------------------------------------


def cmd_render(args) -> int:
    import numpy as np

    from neuropatch.engine import NeuropatchError, compile_graph
    from neuropatch.engine.audiofile import read_audio, write_audio
    from neuropatch.engine.render import render
    from neuropatch.engine.resample import resample

    graph, base_dir, err = load_trusted_patch_arg(args)
    if err:
        return fail(err)
    err = _check_render_args(args, graph)
    if err:
        return fail(err)
    sr = args.sr if args.sr is not None else graph.settings.get("sample_rate", 48000)
    block = args.block if args.block is not None else graph.settings.get("block_size", 256)
    audio_in = None
    if args.input:
        try:
            audio_in, in_sr = read_audio(args.input)
        except NeuropatchError as exc:
            return fail(str(exc))
        if in_sr != sr:
            print(f"note: {args.input} is {in_sr} Hz; resampled to {sr} Hz", file=sys.stderr)
            audio_in = resample(audio_in, in_sr, sr)
    elif args.seconds is None:
        return fail("render needs --in IN.wav or --seconds S")
    from neuropatch.engine.jit import cache_is_empty

    if not args.quiet and cache_is_empty():
        print("note: compiling kernels for this patch (first run only; cached for the next runs; "
              "`neuropatch warm` does it ahead)", file=sys.stderr)
    try:
        schedule = compile_graph(graph, sample_rate=sr, block_size=block,
                                 in_channels=audio_in.shape[0] if audio_in is not None else 1,
                                 base_dir=base_dir, skip_unused=True)
    except NeuropatchError as exc:
        return fail(f"{args.patch}: {exc}")
    if schedule.skipped and not args.quiet:
        names = ", ".join(f"'{nid}' ({type_id})" for nid, type_id in schedule.skipped)
        print(_one_line(f"note: left out of the render (their outputs reach no output): {names}"), file=sys.stderr)
    for note in schedule.notes:
        print(_one_line(f"note: {note}"), file=sys.stderr)
    for nid, msg in schedule.errors.items():
        print(_one_line(f"warning: node '{nid}' is bypassed: {msg}"), file=sys.stderr)
    if schedule.latency_samples and not args.no_latency_compensation:
        print(f"note: graph latency {schedule.latency_samples} samples, compensated", file=sys.stderr)

    bar = None
    t_prepare = time.perf_counter()
    t_run = [t_prepare]

    def progress(done, total):
        nonlocal bar
        if done == 0:
            t_run[0] = time.perf_counter()
        if args.quiet:
            return
        if bar is None:
            from tqdm import tqdm
            warm = time.perf_counter() - t_prepare
            if warm > 1.0:
                print(f"note: prepared the graph in {warm:.1f} s (compiled kernels are cached for "
                      "the next runs)", file=sys.stderr)
            bar = tqdm(total=total / sr, unit="s", file=sys.stderr, desc="render",
                       bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s audio "
                                  "[{elapsed}<{remaining}]")
        bar.n = done / sr
        if done == total or done % (sr // 4 or 1) < block:
            bar.refresh()

    try:
        out, schedule = render(graph, audio_in, seconds=args.seconds, progress=progress,
                               compensate_latency=not args.no_latency_compensation, schedule=schedule)
    except NeuropatchError as exc:
        return fail(str(exc))
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - t_run[0]
    if args.out:
        try:
            write_audio(args.out, out, sr)
        except NeuropatchError as exc:
            return fail(str(exc))
    if not args.quiet:
        secs = out.shape[1] / sr
        print(f"rendered {secs:.2f} s in {elapsed:.2f} s ({secs / max(elapsed, 1e-9):.3g}x real time)"
              + (f" -> {args.out}" if args.out else ""), file=sys.stderr)
    if not np.all(np.isfinite(out)):
        print("warning: output contained NaN/Inf", file=sys.stderr)
    from neuropatch.engine.events import event_overflows

    for where, count in event_overflows(schedule).items():
        print(f"warning: {where}: {count} event(s) dropped (more events in one block than its buffer holds)",
              file=sys.stderr)
    return 0


# ---- validate ----------------------------------------------------------------------


def cmd_validate(args) -> int:
    from neuropatch.engine import NeuropatchError, compile_graph

    graph, base_dir, err = load_trusted_patch_arg(args)
    if err:
        return fail(err)
    try:
        # check-only: types, shapes and resources, without loading models or opening files
        schedule = compile_graph(graph, base_dir=base_dir, check_only=True)
    except NeuropatchError as exc:
        return fail(f"{args.patch}: $: {exc}")
    for note in schedule.notes:
        print(_one_line(f"note: {args.patch}: {note}"), file=sys.stderr)
    for nid, msg in schedule.errors.items():
        print(_one_line(f"warning: {args.patch}: node '{nid}': {msg}"), file=sys.stderr)
    print(f"{args.patch}: ok ({len(graph.nodes)} nodes, {len(graph.edges)} edges, "
          f"latency {schedule.latency_samples} samples)")
    return 0


# ---- main ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="neuropatch", description="Node-based patching for neural audio.")
    sub = ap.add_subparsers(dest="command")

    r = sub.add_parser("render", help="render a patch offline")
    r.add_argument("patch")
    r.add_argument("--in", dest="input", help="audio file fed to io.audio_in")
    r.add_argument("--out", help="audio file written from io.audio_out (wav: 32-bit float)")
    r.add_argument("--sr", type=int, help="graph sample rate (default: the patch's)")
    r.add_argument("--block", type=int, help="block size (default: the patch's)")
    r.add_argument("--seconds", type=float, help="length to render (default: the input's)")
    r.add_argument("--no-latency-compensation", action="store_true",
                   help="keep the graph latency at the start of the output")
    r.add_argument("-q", "--quiet", action="store_true")
    add_trust_argument(r)
    r.set_defaults(func=cmd_render)

    v = sub.add_parser("validate", help="check a patch; exit 2 with the JSON path of any fault")
    v.add_argument("patch")
    add_trust_argument(v)
    v.set_defaults(func=cmd_validate)

    for extra in _extra_commands():
        extra(sub)
    return ap


def _extra_commands():
    """Subcommands contributed by other modules (each registers its own parser)."""
    import importlib

    found = []
    for mod in ("neuropatch.app.cli_nodes", "neuropatch.app.cli_live", "neuropatch.app.cli_train",
                "neuropatch.app.cli_ddx7", "neuropatch.app.cli_vocoder",
                "neuropatch.app.cli_bundle", "neuropatch.app.cli_batch", "neuropatch.app.cli_examples",
                "neuropatch.app.cli_warm"):
        try:
            found.append(importlib.import_module(mod).add_parser)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
    return found


def main(argv=None) -> int:
    ap = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    commands = next((a.choices for a in ap._actions if isinstance(a, argparse._SubParsersAction)), {})
    if argv and not argv[0].startswith("-") and argv[0] not in commands:
        from neuropatch.app.editor_main import main as editor_main  # `neuropatch patch.json`
        return editor_main(argv)
    args = ap.parse_args(argv)
    if args.command is None:
        from neuropatch.app.editor_main import main as editor_main  # Qt only here
        return editor_main([])
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `neuropatch nodes | head`: the reader left; not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run() -> None:
    """The ``neuropatch`` command: :func:`main`, then a quick exit.

    Once a command has returned, its files are closed and its children gone; what is left is
    the interpreter tearing down every object numba and LLVM made (about 0.3 s, every run).
    So the process ends with ``os._exit`` after the exit handlers have run and the output
    is flushed, unless Qt was loaded (the editor: Qt's objects, its settings among them,
    are torn down in order) or a non-daemon thread still runs (the interpreter would wait
    for it)."""
    code = main()
    code = 0 if code is None else code
    if "PySide6.QtCore" in sys.modules or not isinstance(code, int):
        sys.exit(code)
    exit_now(code)


def exit_now(code: int) -> None:
    """End the process with `code` like ``sys.exit`` does (exit handlers, flushed output)
    but without the interpreter's teardown; a live non-daemon thread gets ``sys.exit``."""
    import atexit
    import os
    import threading

    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a closed pipe or stream: nothing left to deliver
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
