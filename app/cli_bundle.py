"""`neuropatch bundle` and `neuropatch open`: share a patch with its resources."""
from __future__ import annotations

from pathlib import Path

from neuropatch.app.cli import fail


def cmd_bundle(args) -> int:
    from neuropatch.engine import NeuropatchError
    from neuropatch.engine.bundle import write_bundle

    out = args.output or str(Path(args.patch).with_suffix(".npbundle"))
    try:
        manifest = write_bundle(args.patch, out)
    except NeuropatchError as exc:
        return fail(f"{args.patch}: {exc}")
    print(f"{out}: patch + {len(manifest['files'])} resource file(s)")
    return 0


def cmd_open(args) -> int:
    from neuropatch.engine import NeuropatchError, load_patch
    from neuropatch.engine.bundle import open_bundle

    path = Path(args.bundle)
    dest = Path(args.to) if args.to else path.with_suffix("")
    try:
        patch = open_bundle(path, dest)
        load_patch(patch)
    except NeuropatchError as exc:
        return fail(f"{path}: {exc}")
    print(patch)
    if args.no_editor:
        return 0
    from neuropatch.app.editor_main import main as editor_main
    return editor_main([str(patch)])


def add_parser(sub) -> None:
    b = sub.add_parser("bundle", help="zip a patch with every resource it uses")
    b.add_argument("patch")
    b.add_argument("-o", "--output", help="bundle file (default: PATCH.npbundle)")
    b.set_defaults(func=cmd_bundle)
    o = sub.add_parser("open", help="verify and extract a bundle, then open it in the editor")
    o.add_argument("bundle")
    o.add_argument("--to", help="folder to extract into (default: next to the bundle)")
    o.add_argument("--no-editor", action="store_true", help="only verify and extract")
    o.set_defaults(func=cmd_open)
