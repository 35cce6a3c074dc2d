"""The kernel cache (engine/jit.py): per-user folder, keyed by the source of every module a
kernel may call, so an edited or upgraded callee is never served from a stale cache; and no
kernel compiles at import time."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CALLER = """
from {njit_module} import njit
from .callee import offset


@njit(cache=True)
def kernel(x):
    return x + offset()
"""
CALLEE = """
from {njit_module} import njit


@njit
def offset():
    return {value}
"""
RUN = """
import json
from pkg_under_test.caller import kernel
print(json.dumps({"result": kernel(10), "hits": sum(kernel.stats.cache_hits.values()),
                  "misses": sum(kernel.stats.cache_misses.values())}))
"""


def write_package(root: Path, value: int, njit_module: str) -> None:
    pkg = root / "pkg_under_test"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "caller.py").write_text(CALLER.format(njit_module=njit_module))
    (pkg / "callee.py").write_text(CALLEE.format(njit_module=njit_module, value=value))


def run_kernel(root: Path, env: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=str(root), **env)
    proc = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True,
                          timeout=300, cwd=root)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


class TestStaleCallee:
    def test_an_edited_callee_in_another_module_is_compiled_afresh(self, tmp_path):
        cache = tmp_path / "cache"
        env = {"NUMBA_CACHE_DIR": str(cache)}
        write_package(tmp_path, 1, "neuropatch.engine.jit")
        assert run_kernel(tmp_path, env) == {"result": 11, "hits": 0, "misses": 1}
        # unchanged sources: the second process loads the kernel from the cache
        assert run_kernel(tmp_path, env) == {"result": 11, "hits": 1, "misses": 0}
        write_package(tmp_path, 2, "neuropatch.engine.jit")   # only the callee's module changes
        assert run_kernel(tmp_path, env)["result"] == 12

    def test_plain_numba_cache_serves_the_stale_callee_which_is_why_we_key_on_sources(self, tmp_path):
        env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
        write_package(tmp_path, 1, "numba")
        assert run_kernel(tmp_path, env)["result"] == 11
        write_package(tmp_path, 2, "numba")
        assert run_kernel(tmp_path, env) == {"result": 11, "hits": 1, "misses": 0}


class TestCacheFolder:
    def test_without_numba_cache_dir_kernels_cache_in_the_users_cache_folder_not_the_package(self, tmp_path):
        write_package(tmp_path, 1, "neuropatch.engine.jit")
        env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
        env.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), PYTHONPATH=str(tmp_path))
        proc = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        index_files = list((tmp_path / "xdg" / "neuropatch" / "numba").rglob("*.nbi"))
        assert [p.parent.name for p in index_files] == ["pkg_under_test.caller"]
        assert index_files[0].parent.parent.name.startswith("pkg_under_test-")
        assert not list((tmp_path / "pkg_under_test").rglob("*.nb*"))

    def test_a_new_key_prunes_all_but_the_newest_older_folders(self, tmp_path, monkeypatch):
        from neuropatch.engine import jit

        monkeypatch.setattr(jit.config, "CACHE_DIR", str(tmp_path))
        for i in range(6):
            folder = tmp_path / f"somepack-old{i}"
            folder.mkdir()
            os.utime(folder, (1000 + i, 1000 + i))
        (tmp_path / "otherpack-old").mkdir()
        monkeypatch.setitem(jit._keys, "somepack", "new")
        monkeypatch.delitem(jit._folders, "somepack", raising=False)
        assert jit.cache_folder("somepack") == tmp_path / "somepack-new"
        left = sorted(p.name for p in tmp_path.iterdir())
        assert left == ["otherpack-old", "somepack-new", "somepack-old3", "somepack-old4", "somepack-old5"]

    def test_the_key_changes_with_any_source_file_of_the_package(self, tmp_path):
        from neuropatch.engine.jit import hash_sources

        (tmp_path / "a.py").write_text("x = 1\n")
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "b.py").write_text("y = 1\n")
        before = hash_sources([tmp_path])
        (tmp_path / "sub" / "b.py").write_text("y = 2\n")
        assert hash_sources([tmp_path]) != before


def test_every_builtin_kernel_uses_the_keyed_cache():
    import numba.core.registry

    from neuropatch.engine import default_registry
    from neuropatch.engine.jit import KernelCache

    default_registry()
    import neuropatch.engine.live.limiter  # noqa: F401  (the engine's own kernel)

    kernels = [(name, value) for mod, module in list(sys.modules.items())
               if mod.startswith("neuropatch.") for name, value in vars(module).items()
               if isinstance(value, numba.core.registry.CPUDispatcher) and value.__module__ == mod]
    assert len(kernels) > 50
    uncached = [name for name, k in kernels if not isinstance(k._cache, KernelCache)]
    assert uncached == []


def test_importing_every_node_module_compiles_no_kernel(tmp_path):
    script = textwrap.dedent("""
        import numba.core.event as ev
        compiled = []
        class Listener(ev.Listener):
            def on_start(self, event):
                compiled.append(event.data["dispatcher"].py_func.__qualname__)
            def on_end(self, event):
                pass
        ev.register("numba:compile", Listener())
        from neuropatch.engine import default_registry
        import neuropatch.engine.live.server
        default_registry()
        print(compiled)
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
