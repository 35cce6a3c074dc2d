import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".numba_cache"))
# the TorchScript trust store of this test session (never the user's)
os.environ["NEUROPATCH_TRUST_FILE"] = os.path.join(__import__("tempfile").mkdtemp(prefix="np-trust-"),
                                                   "trusted_models.json")
# the bundle cache of this test session (never the user's)
os.environ["NEUROPATCH_BUNDLE_CACHE"] = __import__("tempfile").mkdtemp(prefix="np-bundles-")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _work_in_tmp_path(tmp_path, monkeypatch):
    """Every test runs in its own folder, so files written to relative paths (recorders,
    renders) never land in the repository."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def registry():
    from neuropatch.engine import default_registry

    return default_registry()


@pytest.fixture
def cli(tmp_path):
    """Run the real `neuropatch` console entry in a subprocess: returns CompletedProcess."""
    import subprocess

    def run(*args, timeout=300, cwd=None):
        return subprocess.run([sys.executable, "-m", "neuropatch.app.cli", *map(str, args)],
                              capture_output=True, text=True, timeout=timeout, cwd=cwd or tmp_path)
    return run
