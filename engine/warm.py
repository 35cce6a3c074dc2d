"""Compile kernels ahead of use: what one patch uses, or every built-in node type.

numba compiles a kernel on its first call (for that call's argument types) and keeps the
machine code in the kernel cache (:mod:`.jit`); a warm-up makes those first calls on silence,
off the audio path, so the first render or the first live block does not pay for them.

- :func:`patch_warmers`: prepare the patch's graph and run one block of silence: exactly the
  kernels (and signatures) a render or a live run of that patch calls.
- :func:`builtin_warmers`: one step per node type of the built-in packages, each run alone on
  two blocks of silence from its contract setup (its test resources and input shapes), plus
  the live engine's safety limiter. Node types whose model runs in the inference lane
  (torch) are left out: they compile no kernels.

Each warmer is ``(label, callable)``; callers show progress between them, and
:func:`watch_compiles` reports every kernel numba compiles meanwhile.
"""
from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

#: rate and block size of the built-in warm-up (kernel signatures do not depend on them)
SAMPLE_RATE, BLOCK_SIZE = 48000, 256


@contextlib.contextmanager
def watch_compiles(callback: Callable[[str], None]):
    """Call ``callback(kernel_name)`` whenever numba starts compiling a kernel (not when it
    loads one from the cache) inside this block. kernel_name: ``module.qualname``."""
    import numba.core.event as ev

    class Listener(ev.Listener):
        def on_start(self, event):
            func = event.data["dispatcher"].py_func
            callback(f"{func.__module__}.{func.__qualname__}")

        def on_end(self, event):
            pass

    listener = Listener()
    ev.register("numba:compile", listener)
    try:
        yield
    finally:
        ev.unregister("numba:compile", listener)


def patch_warmers(graph, base_dir=None, sample_rate: int | None = None, block_size: int | None = None,
                  in_channels: int = 1, registry=None) -> list:
    """Warmers for `graph`: prepare every node (``compile_graph``), then run one block."""
    from .compiler import compile_graph
    from .lane import close_lanes
    from .runtime import Runtime

    state: dict = {}

    def prepare():
        state["schedule"] = compile_graph(graph, registry, sample_rate=sample_rate, block_size=block_size,
                                          in_channels=in_channels, base_dir=base_dir)

    def run_block():
        schedule = state["schedule"]
        try:
            Runtime(schedule, timing=False).warm_up(1)
        finally:
            close_lanes(schedule)

    n = len(graph.nodes)
    return [(f"prepare {n} node{'s' if n != 1 else ''}", prepare), ("run one block", run_block)]


def warm_silence(cls, sample_rate: int = SAMPLE_RATE, block_size: int = BLOCK_SIZE,
                 resources: dict | None = None) -> None:
    """Run one node of type `cls` on two blocks of silence (contract setup: params,
    resources and input shapes; `resources` overrides), so its kernels compile."""
    from .testing import FramesIn, run_node

    with tempfile.TemporaryDirectory(prefix="neuropatch-warm-") as tmp:
        setup = cls.contract_setup(Path(tmp)) or {}
        node = cls()
        node.id = "warm"
        for name, value in (setup.get("params") or {}).items():
            node.set_param(name, value)
        for name, path in {**(setup.get("resources") or {}), **(resources or {})}.items():
            node.set_resource(name, str(path))
        n = 2 * block_size
        shapes = setup.get("inputs") or {}
        inputs = {}
        for port in node.input_ports():
            shape = shapes.get(port.name, {})
            if port.kind in ("audio", "any"):
                inputs[port.name] = np.zeros((shape.get("channels", port.channels or 1), n), np.float32)
            elif port.kind == "frames":
                hop = shape.get("hop", block_size)
                data = np.zeros((max(1, n // hop), shape.get("channels", 1), shape.get("bins", 513)), np.float32)
                inputs[port.name] = FramesIn(data, hop)
            elif port.kind == "latent":
                hop = shape.get("hop", block_size)
                inputs[port.name] = FramesIn(np.zeros((max(1, n // hop), shape.get("bins", 16)), np.float32), hop)
        run_node(node, inputs, sample_rate, block_size, n_samples=n)
        node.finish()


def builtin_warmers(registry=None) -> list:
    """Warmers for the kernels of every built-in node type (see the module docstring)."""
    from .registry import default_registry

    registry = registry or default_registry()
    warmers = []
    for type_id in registry.types():
        cls = registry.resolve(type_id)
        if not cls.__module__.startswith("neuropatch.") or cls.uses_lane:
            continue
        warmers.append((type_id, lambda cls=cls: warm_silence(cls)))
        for label in _extra_model_labels(cls):
            warmers.append((f"{type_id} ({label})", lambda cls=cls, label=label: _warm_extra_model(cls, label)))
    warmers.append(("live safety limiter", _warm_limiter))
    return warmers


def _extra_model_labels(cls) -> list:
    """Labels of the extra models a node type offers for the warm-up (``warm_models``: kernels
    that depend on the model's architecture)."""
    if not callable(getattr(cls, "warm_models", None)):
        return []
    with tempfile.TemporaryDirectory(prefix="neuropatch-warm-") as tmp:
        return [label for label, _ in cls.warm_models(tmp)]


def _warm_extra_model(cls, label: str) -> None:
    with tempfile.TemporaryDirectory(prefix="neuropatch-warm-") as tmp:
        model = dict(cls.warm_models(tmp))[label]
        warm_silence(cls, resources={"model": model})


def _warm_limiter() -> None:
    from .live.limiter import SafetyLimiter

    SafetyLimiter(SAMPLE_RATE)
