"""`neuropatch examples`: list the example patches shipped with the package, open one.

The examples are package data (``neuropatch.patches``, with the files they use in
``neuropatch.assets``), so the command works the same from a source checkout and from an
installed wheel. Listing reads each patch's ``meta`` (title, description, tags) as JSON and
imports neither the engine nor Qt; only opening one starts the editor.
"""
from __future__ import annotations

import json
import sys

from neuropatch.app.cli import _one_line, fail


def example_infos() -> list[dict]:
    """One dict per example patch, sorted by name: name, title, description, tags, path."""
    from neuropatch.patches import example_paths

    infos = []
    for path in example_paths():
        try:
            meta = json.loads(path.read_text("utf-8")).get("meta", {})
        except (OSError, ValueError, AttributeError):
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        tags = meta.get("tags", [])
        infos.append({
            "name": path.stem,
            "title": str(meta.get("title", path.stem)),
            "description": str(meta.get("description", "")),
            "tags": [str(t) for t in tags] if isinstance(tags, list) else [],
            "path": str(path),
        })
    return infos


def cmd_examples(args) -> int:
    infos = example_infos()
    if args.demo_input:
        from neuropatch.assets import demo_di

        print(demo_di())
        return 0
    if not args.name:
        if args.json:
            print(json.dumps(infos, indent=2))
            return 0
        if not infos:
            return fail("no example patches are installed (the neuropatch.patches package data is missing)")
        width = max(len(i["name"]) for i in infos)
        title_width = max(len(i["title"]) for i in infos)
        for info in infos:
            tags = ", ".join(info["tags"])
            print(_one_line(f"{info['name']:<{width}}  {info['title']:<{title_width}}  [{tags}]"))
        print("\nopen one with: neuropatch examples NAME   (its file: neuropatch examples NAME --print-path)",
              file=sys.stderr)
        return 0
    by_name = {i["name"]: i for i in infos}
    name = args.name[:-5] if args.name.endswith(".json") else args.name
    info = by_name.get(name)
    if info is None:
        known = ", ".join(by_name) or "none installed"
        return fail(f"unknown example {args.name!r}; known examples: {known}")
    if args.print_path:
        print(info["path"])
        return 0
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    from neuropatch.app.editor_main import main as editor_main  # Qt only here
    return editor_main([info["path"]])


def add_parser(sub) -> None:
    e = sub.add_parser("examples", help="list the example patches; `examples NAME` opens one in the editor",
                       description="List the example patches shipped with neuropatch (name, title, tags), "
                                   "or open one in the editor.")
    e.add_argument("name", nargs="?", help="example to open (as listed)")
    e.add_argument("--print-path", action="store_true",
                   help="print the example's patch file instead of opening the editor")
    e.add_argument("--json", action="store_true",
                   help="print name, title, description, tags and path as JSON")
    e.add_argument("--demo-input", action="store_true",
                   help="print the path of the shipped demo input (6 s of DI guitar, 48 kHz)")
    e.set_defaults(func=cmd_examples)
