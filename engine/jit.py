"""``njit``: numba's, with neuropatch's on-disk kernel cache.

numba's own cache (``cache=True``) writes next to the source (``__pycache__``, read-only after
a wheel install) and keys each kernel on the file that defines it only: edit a callee in
another module (an activation, the FFT) and the caller's cached machine code, which has the
old callee compiled into it, is still served. Kernels decorated with this ``njit`` are cached
instead in

    <root>/<package>-<key>/<module>/

- ``root``: ``NUMBA_CACHE_DIR`` when the user sets it, else ``$XDG_CACHE_HOME/neuropatch/numba``
  (``~/.cache/neuropatch/numba``);
- ``package``: the kernel module's top-level package (``neuropatch`` for the built-ins);
- ``key``: a hash of the Python, numba and numpy versions and of the source of every module
  of that package (for ``neuropatch``: everything under ``neuropatch.engine`` and
  ``neuropatch.nodes``; for a node pack: its own package plus neuropatch's key, since its
  kernels may call ours). Any change to any module a kernel could call, by an upgrade or an
  edit, selects a fresh folder, so no stale machine code is ever loaded. The price is that
  such a change recompiles every kernel once (a few seconds per patch); hashing the sources
  costs a few milliseconds, once per process, when the first kernel module is imported.

Folders of older keys are removed when a new one is created (the newest few are kept, so
two installed versions used in turn do not evict each other). Without a writable folder,
kernels compile in every process, as numba does without a cache.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import numba
import numpy as np
from numba.core import config
from numba.core.caching import (CompileResultCacheImpl, FunctionCache, _CacheLocator,
                                _SourceFileBackedLocatorMixin)

#: the built-in kernels live in these packages (their sources key the cache together)
BUILTIN_PACKAGES = ("neuropatch.engine", "neuropatch.nodes")
#: key folders of one package kept besides the current one
KEEP_OLD_KEYS = 3


def cache_root() -> Path:
    """The folder that holds the kernel caches: ``NUMBA_CACHE_DIR`` when set, else the
    per-user cache folder."""
    if config.CACHE_DIR:
        return Path(config.CACHE_DIR)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "neuropatch" / "numba"


def _source_folders(package: str) -> list[Path]:
    if package == "neuropatch":
        names = BUILTIN_PACKAGES
    else:
        names = (package,)
    folders = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            folders.extend(Path(p) for p in spec.submodule_search_locations)
        elif spec is not None and spec.origin and spec.origin.endswith(".py"):
            folders.append(Path(spec.origin))
    return folders


def hash_sources(paths) -> str:
    """sha256 (hex) of every ``.py`` file under `paths` (files or folders): relative names
    and contents, in a fixed order."""
    h = hashlib.sha256()
    for root in paths:
        root = Path(root)
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
        for f in files:
            h.update(str(f.relative_to(root.parent if root.is_file() else root)).encode())
            h.update(b"\0")
            h.update(f.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


_keys: dict = {}


def source_key(package: str) -> str:
    """The cache key of `package` (see the module docstring), computed once per process."""
    key = _keys.get(package)
    if key is None:
        parts = [sys.version, numba.__version__, np.__version__, hash_sources(_source_folders(package))]
        if package != "neuropatch":
            parts.append(source_key("neuropatch"))
        key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]
        _keys[package] = key
    return key


def package_of(module: str) -> str:
    return module.split(".", 1)[0]


def cache_folder(package: str) -> Path:
    """``<root>/<package>-<key>``; creating it prunes the package's older key folders."""
    folder = _folders.get(package)
    if folder is None:
        folder = cache_root() / f"{package}-{source_key(package)}"
        if folder.is_dir():
            os.utime(folder)        # recently used: pruning keeps the newest
        else:
            folder.mkdir(parents=True, exist_ok=True)
            _prune(folder)
        _folders[package] = folder
    return folder


_folders: dict = {}


def cache_is_empty(package: str = "neuropatch") -> bool:
    """Whether no kernel of `package` is cached yet for its current sources (a first run,
    or the first after an upgrade): a cheap check, the folder is not created."""
    folder = cache_root() / f"{package}-{source_key(package)}"
    return not any(folder.glob("*/*.nbi"))


def _prune(current: Path) -> None:
    package = current.name.rsplit("-", 1)[0]
    old = [p for p in current.parent.glob(f"{package}-*")
           if p != current and p.is_dir() and p.name.rsplit("-", 1)[0] == package]
    old.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in old[KEEP_OLD_KEYS:]:
        shutil.rmtree(stale, ignore_errors=True)


class _KeyedLocator(_SourceFileBackedLocatorMixin, _CacheLocator):
    """numba cache locator: the kernel's module folder inside its package's key folder."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        module = py_func.__module__ or Path(py_file).stem
        self._cache_path = str(cache_folder(package_of(module)) / module)

    def get_cache_path(self):
        return self._cache_path


class _KeyedCacheImpl(CompileResultCacheImpl):
    _locator_classes = [_KeyedLocator]


class KernelCache(FunctionCache):
    """numba's per-function cache, located by :class:`_KeyedLocator`."""

    _impl_class = _KeyedCacheImpl


def njit(*args, **options):
    """``numba.njit`` (same options); ``cache=True`` caches the compiled kernel as described
    in the module docstring. Compilation stays lazy: a kernel compiles (or loads from the
    cache) on its first call, for the argument types of that call."""
    cache = options.pop("cache", False)

    def wrap(func):
        dispatcher = numba.njit(**options)(func)
        if cache:
            try:
                # what Dispatcher.enable_caching does, with our locator
                dispatcher._cache = KernelCache(func)
            except (RuntimeError, OSError):
                pass  # no writable cache folder: the kernel compiles in every process
        return dispatcher

    if len(args) == 1 and callable(args[0]) and not options.get("signature"):
        return wrap(args[0])
    if args:
        raise TypeError("neuropatch.engine.jit.njit takes no explicit signatures: kernels compile lazily")
    return wrap
