"""Model files shared by the neural decoders: safetensors weights with the JSON config in
the file's metadata (``config``) and beside it (``.json``). Never pickle: only tensors
and JSON are read.

:func:`read_model_file` opens a file and checks its config's ``format``;
:func:`require_keys` and :func:`checked_tensors` check what a given format needs, with
messages naming the file, the key or tensor and the expected against the found shape;
:func:`write_model_file` writes both files.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from neuropatch.engine.errors import ModelFormatError, ResourceError


def read_model_file(path, kind: str, fmt) -> tuple:
    """(config, tensors) of the .safetensors file ``path`` whose config ``format`` is
    ``fmt`` (or one of a tuple of formats); ``kind`` names the model in the not-found
    message. Raises ResourceError / ModelFormatError."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ResourceError(f"{kind} model not found: {path}")
    try:
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise ModelFormatError(f"{path.name}: not a safetensors file ({exc})") from exc
    raw = meta.get("config")
    if raw is None and path.with_suffix(".json").is_file():
        raw = path.with_suffix(".json").read_text()
    if raw is None:
        raise ModelFormatError(f"{path.name}: no config (metadata 'config' or {path.with_suffix('.json').name})")
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise ModelFormatError(f"{path.name}: config is not JSON ({exc})") from exc
    formats = fmt if isinstance(fmt, tuple) else (fmt,)
    if config.get("format") not in formats:
        want = " or ".join(repr(f) for f in formats)
        raise ModelFormatError(f"{path.name}: config.format: expected {want}, got {config.get('format')!r}")
    return config, tensors


def require_keys(path, config: dict, keys) -> None:
    """Raise ModelFormatError naming the first of ``keys`` missing from ``config``."""
    for key in keys:
        if key not in config:
            raise ModelFormatError(f"{Path(path).name}: config.{key} missing")


def checked_tensors(path, tensors: dict, expected) -> dict:
    """The tensors named by ``expected`` ({name: shape} or [(name, shape)]), in its order,
    after checking each is present, of that shape and finite."""
    name_of_file = Path(path).name
    expected = dict(expected)
    for name, shape in expected.items():
        if name not in tensors:
            raise ModelFormatError(f"{name_of_file}: tensor {name!r} missing")
        if tuple(tensors[name].shape) != tuple(shape):
            raise ModelFormatError(f"{name_of_file}: tensor {name!r}: expected shape {tuple(shape)}, "
                                   f"got {tuple(tensors[name].shape)}")
        if not np.all(np.isfinite(tensors[name])):
            raise ModelFormatError(f"{name_of_file}: tensor {name!r} has NaN/Inf")
    return {k: tensors[k] for k in expected}


def write_model_file(path, tensors: dict, config: dict) -> None:
    """Write ``tensors`` (as float32) to ``path`` with ``config`` in the metadata, then the
    config as ``.json`` beside it; the .safetensors file is replaced atomically."""
    from safetensors.numpy import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: np.ascontiguousarray(v, np.float32) for k, v in tensors.items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"config": json.dumps(config)})
    tmp.chmod(0o644)    # the writer creates it private; a model is meant to be shared
    tmp.replace(path)
    path.with_suffix(".json").write_text(json.dumps(config, indent=2) + "\n")
