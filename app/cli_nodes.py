"""`neuropatch nodes`: every node type with its ports and params."""
from __future__ import annotations

import json


def cmd_nodes(args) -> int:
    from neuropatch.engine import default_registry

    reg = default_registry()
    descs = [cls.describe() for cls in reg.classes()]
    if args.json:
        print(json.dumps(descs, indent=2, default=str))
        return 0
    for d in descs:
        ins = ", ".join(f"{p['name']}:{p['kind']}" for p in d["inputs"]) or "-"
        outs = ", ".join(f"{p['name']}:{p['kind']}" for p in d["outputs"]) or "-"
        print(f"{d['type']:<22} in [{ins}]  out [{outs}]")
        for p in d["params"]:
            rng = f" [{p['min']}..{p['max']}]" if "min" in p else ""
            ch = f" {p['choices']}" if "choices" in p else ""
            print(f"    {p['name']} = {p['default']!r}{rng}{ch} {p.get('unit', '')}".rstrip())
    return 0


def add_parser(sub) -> None:
    n = sub.add_parser("nodes", help="list node types")
    n.add_argument("--json", action="store_true")
    n.set_defaults(func=cmd_nodes)
