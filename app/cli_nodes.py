"""`neuropatch nodes`: every node type with its ports and params (text, JSON or Markdown)."""
from __future__ import annotations

import json

MARKDOWN_COMMAND = "neuropatch nodes --markdown > docs/nodes.md"


def cmd_nodes(args) -> int:
    from neuropatch.engine import default_registry

    reg = default_registry()
    if args.markdown:
        print(nodes_markdown(reg), end="")
        return 0
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


# ---- Markdown reference ---------------------------------------------------------------------


def _cell(text) -> str:
    """`text` fit for one Markdown table cell (one line, pipes escaped)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _anchor(type_id: str) -> str:
    return type_id.replace(".", "").lower()


def _ports_table(title: str, ports) -> list[str]:
    if not ports:
        return []
    lines = [f"| {title} | kind | channels | description |", "|---|---|---|---|"]
    for p in ports:
        channels = "from input" if p.channels is None else str(p.channels)
        lines.append(f"| `{p.name}` | {p.kind} | {channels} | {_cell(p.doc)} |")
    return lines + [""]


def _params_table(params) -> list[str]:
    if not params:
        return []
    lines = ["| param | default | range / choices | unit | description |", "|---|---|---|---|---|"]
    for p in params:
        d = p.spec_dict()
        if "choices" in d:
            rng = ", ".join(f"`{c}`" for c in d["choices"])
        elif "min" in d:
            rng = f"{d['min']!r} .. {d['max']!r}" + (" (log)" if d.get("log") else "")
        else:
            rng = ""
        notes = [d.get("doc", "")]
        if d.get("structural"):
            notes.append("(changing it re-prepares the node)")
        if d.get("primary"):
            notes.append("(on the node's face)")
        lines.append(f"| `{p.name}` | `{json.dumps(d['default'])}` | {_cell(rng)} | {_cell(d.get('unit', ''))} "
                     f"| {_cell(' '.join(n for n in notes if n))} |")
    return lines + [""]


def node_markdown(cls) -> list[str]:
    """The reference section of one node type."""
    node = cls()
    desc = cls.describe()
    lines = [f"### {_cell(desc['title'])} — `{cls.type_id}`", ""]
    facts = [f"version {cls.version}", f"category {desc['category'] or '-'}"]
    if cls.legacy_ids:
        facts.append("also loads " + ", ".join(f"`{i}`" for i in cls.legacy_ids))
    if not cls.__module__.startswith("neuropatch."):
        facts.append(f"from `{cls.__module__}`")
    lines += [" · ".join(facts), ""]
    if cls.doc:
        lines += [" ".join(cls.doc.split()), ""]
    lines += _ports_table("input", node.input_ports())
    lines += _ports_table("output", node.output_ports())
    lines += _params_table(cls.params)
    for r in cls.resources:
        exts = ", ".join(f"`{e}`" for e in r.extensions) or "any file"
        need = "required" if r.required else "optional"
        lines.append(f"- resource `{r.name}` ({need}; {exts}){': ' + _cell(r.doc) if r.doc else ''}")
    caps = desc["capabilities"]
    if caps.get("bypass_routes"):
        routes = ", ".join(f"`{a}` → `{b}`" for a, b in caps["bypass_routes"])
        lines.append(f"- when bypassed: {routes}")
    for name, text in (("host_input", "reads the host's audio input"),
                       ("host_output", "writes to the host's audio output"),
                       ("breaks_feedback", "may close a feedback loop (one-block delay)"),
                       ("prepare_does_io", "reads files when prepared")):
        if caps.get(name):
            lines.append(f"- {text}")
    if caps.get("lane"):
        lines.append(f"- {caps['lane']}")
    if caps.get("display"):
        lines.append(f"- a display: the editor draws its input as a {caps['display'].replace('_', ' ')} "
                     f"(read through a tap; nothing runs per block)")
    if lines[-1] != "":
        lines.append("")
    return lines


def nodes_markdown(reg) -> str:
    """The node reference (docs/nodes.md) for every type in `reg`, grouped by category."""
    classes = reg.classes()
    by_cat: dict[str, list] = {}
    for cls in classes:
        by_cat.setdefault(cls.category or "other", []).append(cls)
    lines = [
        "# Node reference",
        "",
        f"Generated from the node registry by `{MARKDOWN_COMMAND}`; edit the nodes' declarations",
        "(`title`, `doc`, ports, params, resources), not this file.",
        "",
        f"{len(classes)} node types. Port kinds: `audio` (float32 [channels, block]), `frames`",
        "(float32 [n_frames, channels, bins]), `control` (one float per block), `latent`",
        "([n_frames, dims]) and `events`. Param and port names are what patch files store.",
        "",
    ]
    for cat in sorted(by_cat):
        links = ", ".join(f"[`{c.type_id}`](#{_anchor(c.type_id)})" for c in by_cat[cat])
        lines.append(f"- **{cat}**: {links}")
    lines.append("")
    for cat in sorted(by_cat):
        lines += [f"## {cat}", ""]
        for cls in by_cat[cat]:
            lines += [f'<a id="{_anchor(cls.type_id)}"></a>', ""] + node_markdown(cls)
    return "\n".join(lines).rstrip("\n") + "\n"


def add_parser(sub) -> None:
    n = sub.add_parser("nodes", help="list node types")
    fmt = n.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="describe every node type as JSON")
    fmt.add_argument("--markdown", action="store_true",
                     help=f"write the node reference as Markdown ({MARKDOWN_COMMAND})")
    n.set_defaults(func=cmd_nodes)
