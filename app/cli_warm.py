"""`neuropatch warm [PATCH]`: compile kernels ahead of the first render or live run."""
from __future__ import annotations

import sys
import time

from neuropatch.app.cli import add_trust_argument, fail, load_trusted_patch_arg


def cmd_warm(args) -> int:
    from tqdm import tqdm

    from neuropatch.engine import NeuropatchError
    from neuropatch.engine.jit import cache_folder, cache_is_empty
    from neuropatch.engine.warm import builtin_warmers, patch_warmers, watch_compiles

    if args.patch:
        graph, base_dir, err = load_trusted_patch_arg(args)
        if err:
            return fail(err)
        warmers = patch_warmers(graph, base_dir=base_dir)
        what = f"the kernels {args.patch} uses"
    else:
        warmers = builtin_warmers()
        what = f"the kernels of the built-in node types ({len(warmers)} steps)"
    if cache_is_empty():
        print(f"compiling {what} into {cache_folder('neuropatch')} (first run only; later runs load "
              "them)", file=sys.stderr)
    else:
        print(f"loading {what} from {cache_folder('neuropatch')}, compiling those not cached yet",
              file=sys.stderr)
    compiled, failed = [], []
    t0 = time.perf_counter()
    with tqdm(total=len(warmers), unit="step", file=sys.stderr, disable=args.quiet or args.progress_lines,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {n}/{total} [{elapsed}<{remaining}] {postfix}") as bar:
        def on_compile(kernel: str) -> None:
            compiled.append(kernel)
            bar.set_postfix_str(f"compiling {kernel.rsplit('.', 1)[-1]}", refresh=True)

        with watch_compiles(on_compile):
            for i, (label, run) in enumerate(warmers):
                bar.set_description_str(label)
                if args.progress_lines:
                    print(f"step {i} {len(warmers)} {label}", flush=True)
                try:
                    run()
                except NeuropatchError as exc:
                    if args.patch:
                        return fail(f"{args.patch}: {exc}")
                    failed.append(f"{label}: {exc}")
                except Exception as exc:  # a built-in that cannot run alone: warm the others
                    if args.patch:
                        raise
                    failed.append(f"{label}: {exc!r}")
                bar.update(1)
            if args.progress_lines:
                print(f"step {len(warmers)} {len(warmers)} done", flush=True)
        bar.set_description_str("done")
        bar.set_postfix_str("")
    for line in failed:
        print(f"warning: not warmed: {line}", file=sys.stderr)
    print(f"{len(compiled)} kernel{'s' if len(compiled) != 1 else ''} compiled, the rest loaded from the "
          f"cache, in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


def add_parser(sub) -> None:
    w = sub.add_parser("warm", help="compile kernels ahead of time (all built-ins, or what PATCH uses)")
    w.add_argument("patch", nargs="?", help="a patch: compile only what it uses (default: every built-in kernel)")
    w.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    w.add_argument("--progress-lines", action="store_true",
                   help="instead of the bar, one line per step on stdout: 'step DONE TOTAL LABEL'")
    add_trust_argument(w)
    w.set_defaults(func=cmd_warm)
