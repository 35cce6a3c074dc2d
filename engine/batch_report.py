"""The batch report: what was rendered, what failed and why; the record a rerun resumes from.

Two files in the output folder:

``batch_report.jsonl``
    a journal, one JSON line appended (and flushed) as each item finishes: it survives a
    killed driver (SIGKILL included) up to the last finished item.
``batch_report.json``
    the whole report, rewritten atomically at the start, every few seconds and at the end::

        {"format": "neuropatch-batch-report", "version": 1, "patch": ..., "patch_sha256": ...,
         "backend": ..., "summary": {"ok": n, "failed": n, "skipped": n, "pending": n, ...},
         "items": [{"key", "input", "settings", "outputs", "status", "attempts", "seconds",
                    "audio_seconds", "peak", "error", "notes"}, ...]}

A rerun with the same patch skips items already ``ok`` (their outputs present), retries
``failed`` ones up to :data:`MAX_ATTEMPTS` and renders ``pending`` ones. Outputs are written
to a temporary name and renamed, so a killed batch leaves no half-written output;
:meth:`BatchReport.sweep_partials` removes the temporaries it may leave.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .batch_plan import BatchItem
from .errors import NeuropatchError
from .patch import atomic_write_text

REPORT = "batch_report.json"
JOURNAL = "batch_report.jsonl"
MAX_ATTEMPTS = 3
PARTIAL = ".partial"


class BatchReport:
    def __init__(self, out_dir: Path, patch: str, patch_sha256: str, backend: str,
                 items: list[BatchItem], overwrite: bool = False):
        self.out_dir = Path(out_dir)
        self.items = {item.key: item for item in items}
        self.header = {"format": "neuropatch-batch-report", "version": 1, "patch": str(patch),
                       "patch_sha256": patch_sha256, "backend": backend}
        self.entries: dict[str, dict] = {}
        if overwrite:  # start over: what an earlier run recorded no longer counts
            (self.out_dir / JOURNAL).unlink(missing_ok=True)
        previous = {} if overwrite else self._previous(patch_sha256)
        self.known = set(previous)  # items an earlier run of this batch planned: their outputs are ours
        for key, item in self.items.items():
            entry = {"key": key, "input": str(item.input.path),
                     "settings": {s.label.partition("=")[0]: s.value for s in item.combo.settings},
                     "outputs": [], "status": "pending", "attempts": 0, "seconds": None,
                     "audio_seconds": None, "peak": None, "error": None, "notes": []}
            old = previous.get(key)
            if old is not None:
                entry.update({k: old[k] for k in entry if k in old and k not in ("key", "input", "settings")})
                if entry["status"] == "ok" and not all((self.out_dir / o).is_file() for o in entry["outputs"]):
                    entry.update(status="pending", attempts=0)  # an output is gone: render it again
            self.entries[key] = entry
        self._last_write = 0.0

    # ---- resuming ---------------------------------------------------------------------------

    def _previous(self, patch_sha256: str) -> dict:
        """Entries of an earlier run of this batch (report, then the journal's newer lines)."""
        entries = {}
        report = self.out_dir / REPORT
        if report.is_file():
            try:
                doc = json.loads(report.read_text(encoding="utf-8"))
                if doc.get("patch_sha256") != patch_sha256:
                    raise NeuropatchError(
                        f"{report}: written by a batch of another patch (or an edited one); use "
                        "another --out folder, or --overwrite to start this batch over there")
                entries = {e["key"]: e for e in doc.get("items", []) if isinstance(e, dict) and "key" in e}
            except (OSError, ValueError, AttributeError, TypeError):
                entries = {}  # unreadable report: the journal still knows what finished
        for e in self._journal_lines():
            entries[e["key"]] = {**entries.get(e["key"], {}), **e}
        return entries

    def _journal_lines(self) -> list:
        """Entries in the journal (a line cut by a kill is skipped)."""
        journal = self.out_dir / JOURNAL
        if not journal.is_file():
            return []
        out = []
        for line in journal.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if isinstance(e, dict) and "key" in e:
                out.append(e)
        return out

    def todo(self) -> list[BatchItem]:
        """Items to render in this run: pending ones, and failed ones under the attempt limit."""
        return [self.items[k] for k, e in self.entries.items()
                if e["status"] == "pending" or (e["status"] == "failed" and e["attempts"] < MAX_ATTEMPTS)]

    def claim_existing(self, item: BatchItem, outputs: list[str]) -> None:
        """Mark `item` skipped: its outputs exist from elsewhere and --overwrite was not given."""
        e = self.entries[item.key]
        e.update(status="skipped", outputs=outputs,
                 error="output exists (not written by this batch); --overwrite replaces it")

    def sweep_partials(self) -> int:
        """Remove temporaries a killed run left in the output folder. Returns how many."""
        n = 0
        for p in self.out_dir.rglob(f"*{PARTIAL}"):
            if p.is_file() and p.name.startswith("."):
                p.unlink(missing_ok=True)
                n += 1
        return n

    # ---- recording --------------------------------------------------------------------------

    def finished(self, entry: dict) -> dict:
        """Take in one finished item's entry (already in the journal: see :func:`commit`);
        the JSON report is rewritten every few seconds."""
        e = self.entries[entry["key"]]
        e.update(entry)
        if time.monotonic() - self._last_write > 2.0:
            self.write()
        return e

    def summary(self) -> dict:
        counts = {s: 0 for s in ("ok", "failed", "skipped", "pending")}
        for e in self.entries.values():
            counts[e["status"]] = counts.get(e["status"], 0) + 1
        done = [e for e in self.entries.values() if e["status"] == "ok"]
        counts["audio_seconds"] = round(sum(e["audio_seconds"] or 0 for e in done), 3)
        counts["render_seconds"] = round(sum(e["seconds"] or 0 for e in done), 3)
        return counts

    def write(self) -> None:
        """Rewrite ``batch_report.json`` atomically."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        doc = {**self.header, "summary": self.summary(), "items": list(self.entries.values())}
        atomic_write_text(self.out_dir / REPORT, json.dumps(doc, indent=1) + "\n")
        self._last_write = time.monotonic()

    def close(self) -> None:
        # workers may have finished items the driver never heard of (it was interrupted):
        # the journal has them
        for e in self._journal_lines():
            if e["key"] in self.entries:
                self.entries[e["key"]].update(e)
        self.write()
        (self.out_dir / JOURNAL).unlink(missing_ok=True)  # the report now holds all it did


def commit(out_dir: Path, entry: dict, files: dict) -> None:
    """Store one finished item: its output files (name relative to `out_dir` -> bytes) under
    temporary names, then its journal line, then the renames. A kill at any point leaves
    either no output under its final name, or the output with its journal line, or (killed
    between the journal and the renames) a journal line whose output is missing, which a
    rerun renders again."""
    out_dir = Path(out_dir)
    moves = []
    for name, data in files.items():
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}{PARTIAL}")
        with open(tmp, "wb") as f:
            f.write(data)
        moves.append((tmp, path))
    line = (json.dumps(entry) + "\n").encode("utf-8")
    fd = os.open(out_dir / JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)  # one write with O_APPEND: lines of concurrent workers never interleave
    finally:
        os.close(fd)
    for tmp, path in moves:
        os.replace(tmp, path)
