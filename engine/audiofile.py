"""Audio file I/O through soundfile, with clear errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import AudioFileError


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read wav/flac/ogg/... -> (float32 [channels, samples], sample_rate)."""
    path = Path(path)
    if not path.exists():
        raise AudioFileError(f"{path}: no such audio file")
    if path.is_dir():
        raise AudioFileError(f"{path}: is a directory, not an audio file")
    return _decode(str(path), path)


def read_audio_bytes(data: bytes, name: str | Path) -> tuple[np.ndarray, int]:
    """:func:`read_audio` of a file's bytes (`name` is the file it came from, for errors)."""
    import io

    return _decode(io.BytesIO(data), name)


def _decode(source, name) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        data, sr = sf.read(source, dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        why = str(exc).replace(repr(source), f"'{name}'")  # a BytesIO's repr says nothing
        raise AudioFileError(f"{name}: cannot read audio ({why})") from None
    if data.shape[0] == 0:
        raise AudioFileError(f"{name}: audio file has no samples")
    if not np.all(np.isfinite(data)):
        raise AudioFileError(f"{name}: audio contains NaN or infinite samples")
    return np.ascontiguousarray(data.T), int(sr)


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> None:
    """audio: float32 [channels, samples]. Format from the extension; wav defaults to 32-bit float."""
    import soundfile as sf

    path = Path(path)
    ext = path.suffix.lower()
    if ext in (".flac", ".ogg") and subtype == "FLOAT":
        subtype = "PCM_24" if ext == ".flac" else "VORBIS"
    try:
        sf.write(str(path), np.ascontiguousarray(audio.T), int(sample_rate), subtype=subtype)
    except Exception as exc:
        raise AudioFileError(f"{path}: cannot write audio ({exc})") from None
