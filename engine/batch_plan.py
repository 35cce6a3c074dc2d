"""What a batch renders: the input files, the parameter combinations and each output's name.

A batch item is one input file under one parameter combination. Inputs are given as folders
(searched recursively for audio files), glob patterns, or text files listing one path per
line; each keeps its path relative to where it was found, so the input folder structure is
rebuilt under the output folder. ``--set NODE.NAME=V1,V2`` sweeps a param or a resource (a
model file) of one node; several ``--set`` give the cartesian product, and each combination
gets its own sub-folder named after its values.
"""
from __future__ import annotations

import glob
import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import NeuropatchError
from .graph import Graph

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".aif", ".aiff", ".mp3", ".w64", ".caf")
LIST_EXTENSIONS = (".txt", ".list", ".lst")


class BatchPlanError(NeuropatchError):
    """The batch cannot start: a bad --inputs, --set or --out (names the argument)."""


@dataclass(frozen=True)
class InputFile:
    path: Path        # as given (may not exist: such an input is reported failed)
    relative: Path    # where its outputs go under the output folder (suffix kept)


@dataclass(frozen=True)
class Setting:
    """One swept value: ``node.name = value``; ``resource`` when it names a file slot."""
    node: str
    name: str
    value: object
    resource: bool = False

    @property
    def label(self) -> str:
        shown = Path(str(self.value)).stem if self.resource else self.value
        return f"{self.node}.{self.name}={shown}"


@dataclass(frozen=True)
class Combo:
    settings: tuple = ()

    @property
    def name(self) -> str:
        """Folder name of this combination ('' when nothing is swept)."""
        return _safe("__".join(s.label for s in self.settings))


@dataclass(frozen=True)
class BatchItem:
    input: InputFile
    combo: Combo = field(default_factory=Combo)

    @property
    def key(self) -> str:
        """Identity in the report: the input's relative path under its combination."""
        return (Path(self.combo.name) / self.input.relative).as_posix() if self.combo.name \
            else self.input.relative.as_posix()

    def output_name(self, suffix: str) -> str:
        """Where an output goes, relative to the output folder: the input's relative path
        (under its combination's folder) with `suffix` (``.wav``, ``.NODE.npy``) as extension."""
        rel = self.input.relative
        return (Path(self.combo.name) / rel.parent / f"{rel.stem}{suffix}").as_posix()


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=+,-]+", "_", text)[:200]


# ---- inputs --------------------------------------------------------------------------------

def expand_inputs(specs: list[str]) -> list[InputFile]:
    """Every input file named by `specs` (folders, globs, list files, single files), sorted,
    each with the relative path its outputs keep. Raises BatchPlanError when nothing matches."""
    found: dict[Path, InputFile] = {}
    for spec in specs:
        for item in _expand_one(spec):
            found.setdefault(item.path, item)
    if not found:
        raise BatchPlanError(f"--inputs {' '.join(specs)}: no audio files found "
                             f"(looked for {', '.join(AUDIO_EXTENSIONS)})")
    rels = {}
    for item in found.values():
        if item.relative in rels:
            raise BatchPlanError(f"--inputs: {rels[item.relative]} and {item.path} would write the same "
                                 f"outputs ({item.relative}); give them separate --inputs folders")
        rels[item.relative] = item.path
    return sorted(found.values(), key=lambda i: i.relative.as_posix())


def _expand_one(spec: str) -> list[InputFile]:
    path = Path(spec).expanduser()
    if path.is_dir():
        files = [p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS]
        return [InputFile(p, p.relative_to(path)) for p in files]
    if glob.has_magic(spec):
        root = _glob_root(spec)
        files = [Path(p) for p in sorted(glob.glob(os.path.expanduser(spec), recursive=True))]
        return [InputFile(p, _relative(p, root)) for p in files if p.is_file()]
    if path.suffix.lower() in LIST_EXTENSIONS and path.is_file():
        return _read_list(path)
    return [InputFile(path, Path(path.name))]  # a single file; reported if missing or unreadable


def _read_list(list_file: Path) -> list[InputFile]:
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchPlanError(f"--inputs {list_file}: cannot read the list ({exc})") from None
    paths = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            p = Path(line).expanduser()
            paths.append(p if p.is_absolute() else list_file.parent / p)
    if not paths:
        return []
    root = Path(os.path.commonpath([str(p.parent.resolve()) for p in paths]))
    return [InputFile(p, _relative(p, root)) for p in paths]


def _glob_root(pattern: str) -> Path:
    parts = []
    for part in Path(os.path.expanduser(pattern)).parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def _relative(path: Path, root: Path) -> Path:
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return Path(path.name)


# ---- sweeps --------------------------------------------------------------------------------

def parse_sets(specs: list[str], graph: Graph, registry) -> list[list[Setting]]:
    """``NODE.NAME=V1,V2`` strings -> one list of Settings per swept name, values validated
    against the node's param spec (or kept as file paths for a resource)."""
    axes = []
    for spec in specs:
        target, sep, values = spec.partition("=")
        node_id, dot, name = target.rpartition(".")
        if not sep or not dot or not node_id or not name or not values:
            raise BatchPlanError(f"--set {spec}: expected NODE.PARAM=V1,V2,...")
        node = graph.nodes.get(node_id)
        if node is None:
            raise BatchPlanError(f"--set {spec}: no node '{node_id}' in the patch "
                                 f"(nodes: {', '.join(sorted(graph.nodes))})")
        cls = registry.resolve(node.type)
        if cls is None:
            raise BatchPlanError(f"--set {spec}: node '{node_id}' is of unknown type {node.type!r}")
        params = {p.name: p for p in cls.params}
        resources = {r.name for r in cls.resources}
        settings = []
        for raw in values.split(","):
            if name in resources:
                p = Path(raw).expanduser()
                if not p.is_file():
                    raise BatchPlanError(f"--set {spec}: {raw}: no such file for {node_id}'s {name}")
                settings.append(Setting(node_id, name, str(p.resolve()), resource=True))
            elif name in params:
                try:
                    value = params[name].validate(_typed(raw, params[name].type), f"{node_id}.{name}")
                except ValueError as exc:
                    raise BatchPlanError(f"--set {spec}: {exc}") from None
                settings.append(Setting(node_id, name, value))
            else:
                known = sorted(params) + sorted(resources)
                raise BatchPlanError(f"--set {spec}: {node.type} node '{node_id}' has no param or "
                                     f"resource '{name}' (it has: {', '.join(known)})")
        axes.append(settings)
    return axes


def _typed(raw: str, kind: type):
    if kind is bool:
        return {"true": True, "1": True, "on": True, "false": False, "0": False, "off": False}.get(raw.lower(), raw)
    if kind in (int, float):
        try:
            return float(raw) if kind is float else int(raw)
        except ValueError:
            return raw
    return raw


def combos(axes: list[list[Setting]]) -> list[Combo]:
    """The cartesian product of the swept values (one empty combo when nothing is swept)."""
    return [Combo(tuple(c)) for c in itertools.product(*axes)] if axes else [Combo()]


def plan(inputs: list[InputFile], combos_: list[Combo]) -> list[BatchItem]:
    return [BatchItem(i, c) for c in combos_ for i in inputs]


def apply_combo(graph: Graph, combo: Combo) -> Graph:
    """A copy of `graph` with the combination's params and resources set."""
    g = graph.copy()
    for s in combo.settings:
        spec = g.nodes[s.node]
        if s.resource:
            spec.resources[s.name] = {"path": s.value}
        else:
            spec.params[s.name] = s.value
    return g
