"""One batch worker's job: load a patch (or bundle) once, render many inputs through it.

A schedule is compiled once per (parameter combination, input channel count) and reused:
:func:`~neuropatch.engine.render.render` resets every node before each input, so each output
equals what ``neuropatch render`` gives for that file alone. Outputs come back as encoded
bytes (the local backend writes them in the worker, the Ray backend ships them to the
driver), named by suffix: ``.wav`` for the host output, ``.NODE.npy`` / ``.NODE.wav`` for
sinks that declare ``file_output``.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .audiofile import read_audio, read_audio_bytes
from .batch_plan import BatchItem, Combo, apply_combo
from .bundle_cache import patch_file
from .compiler import compile_graph
from .errors import NeuropatchError
from .lane import close_lanes
from .patch import load_patch
from .render import render
from .resample import resample


@dataclass
class ItemResult:
    """One item's outcome; ``outputs`` maps a suffix (``.wav``, ``.fx.npy``) to file bytes."""
    key: str
    status: str                       # "ok" | "failed"
    seconds: float = 0.0              # wall time of reading, rendering and encoding
    audio_seconds: float = 0.0        # length of the rendered output
    peak: float | None = None         # max |sample| of the host output
    error: str | None = None
    notes: list = field(default_factory=list)
    outputs: dict = field(default_factory=dict)

    def record(self) -> dict:
        """The report entry (without the output bytes)."""
        return {"key": self.key, "status": self.status, "seconds": round(self.seconds, 4),
                "audio_seconds": round(self.audio_seconds, 4),
                "peak": None if self.peak is None else float(self.peak),
                "error": self.error, "notes": self.notes}


class PatchRenderer:
    """Renders inputs through one patch; models load once per parameter combination."""

    def __init__(self, patch: str | Path, registry=None):
        self.patch_path = patch_file(patch)   # a bundle is unpacked (once) in the cache
        self.registry = registry
        self.graph = load_patch(self.patch_path, registry)
        self.base_dir = self.patch_path.resolve().parent
        self.sample_rate = int(self.graph.settings.get("sample_rate", 48000))
        self.block_size = int(self.graph.settings.get("block_size", 256))
        self._schedules: dict = {}

    def render_file(self, item: BatchItem, data: bytes | None = None) -> ItemResult:
        """Render `item` (its file read from disk, or from `data`, the file's bytes). Never raises
        for a bad input: the error is in the result."""
        t0 = time.perf_counter()
        try:
            if data is None:
                audio, sr = read_audio(item.input.path)
            else:
                audio, sr = read_audio_bytes(data, item.input.path)
            result = self._render(item, audio, sr)
        except NeuropatchError as exc:
            result = ItemResult(item.key, "failed", error=str(exc))
        except (ValueError, MemoryError) as exc:
            result = ItemResult(item.key, "failed", error=f"{item.input.path}: {type(exc).__name__}: {exc}")
        result.seconds = time.perf_counter() - t0
        return result

    def _render(self, item: BatchItem, audio: np.ndarray, sr: int) -> ItemResult:
        notes = []
        if sr != self.sample_rate:
            notes.append(f"resampled from {sr} Hz to {self.sample_rate} Hz")
            audio = resample(audio, sr, self.sample_rate)
        schedule = self._schedule(item.combo, audio.shape[0])
        out, _ = render(self.graph, audio, schedule=schedule, finish=False)
        outputs = {}
        peak = None
        for suffix, step in stored_outputs(s for s in schedule.node_steps if not s.bypassed):
            if step is None:
                outputs[suffix] = encode_wav(out, self.sample_rate)
                peak = float(np.abs(out).max()) if out.size else 0.0
            elif step.node.file_output == "npy":
                outputs[suffix] = encode_npy(step.node.result())
            else:
                outputs[suffix] = encode_wav(step.node.result(), self.sample_rate)
        if not outputs:
            raise NeuropatchError("the patch has no output to store (no audio output, recorder or "
                                  "npy output node)")
        return ItemResult(item.key, "ok", audio_seconds=out.shape[1] / self.sample_rate, peak=peak,
                          notes=notes, outputs=outputs)

    def _schedule(self, combo: Combo, channels: int):
        key = (combo, channels)
        schedule = self._schedules.get(key)
        if schedule is None:
            schedule = compile_graph(apply_combo(self.graph, combo), self.registry, self.sample_rate,
                                     self.block_size, in_channels=channels, base_dir=self.base_dir,
                                     skip_unused=True)
            if schedule.errors:  # a batch never stores output of a silently bypassed node
                nid, msg = next(iter(schedule.errors.items()))
                close_lanes(schedule)
                raise NeuropatchError(f"node '{nid}' cannot run: {msg}")
            self._schedules[key] = schedule
        return schedule

    def close(self) -> None:
        """Stop every schedule's lane workers."""
        for schedule in self._schedules.values():
            close_lanes(schedule)
        self._schedules.clear()


def stored_outputs(steps) -> list:
    """What a batch stores per input, as (file suffix, step): ``.wav`` for the host output
    (step None), ``.NODE.npy`` / ``.NODE.wav`` for each sink declaring ``file_output``."""
    steps = list(steps)
    out = [(".wav", None)] if any(s.node.host_output for s in steps) else []
    return out + [(f".{s.node_id}.{'npy' if s.node.file_output == 'npy' else 'wav'}", s)
                  for s in steps if s.node.file_output]


def encode_wav(audio: np.ndarray, sample_rate: int) -> bytes:
    """float32 [channels, samples] -> the bytes of a 32-bit float wav file (as ``render --out``)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.ascontiguousarray(audio.T), int(sample_rate), format="WAV", subtype="FLOAT")
    return buf.getvalue()


def encode_npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()
