"""Architecture rules: the engine and nodes never import Qt; the package lists every subpackage."""
import ast
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("folder", ["engine", "nodes"])
def test_no_module_under_engine_or_nodes_imports_pyside6(folder):
    offenders = []
    for path in (REPO / folder).rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6") for n in names):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, f"Qt imported outside app/: {offenders}"


def test_importing_engine_and_all_nodes_loads_no_qt():
    import subprocess
    code = ("import sys, neuropatch.engine as e; e.default_registry(); "
            "bad=[m for m in sys.modules if m.split('.')[0] in ('PySide6','pyqtgraph')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_pyproject_lists_every_python_package():
    text = (REPO / "pyproject.toml").read_text()
    listed = set(re.findall(r'"(neuropatch\.[a-z0-9_.]+)"', text.split("[tool.setuptools]")[1].split("[tool.setuptools.package-dir]")[0]))
    found = set()
    for top, prefix in (("engine", "neuropatch.engine"), ("nodes", "neuropatch.nodes"), ("app", "neuropatch.app")):
        for init in (REPO / top).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / top)
            found.add(prefix + ("" if str(rel) == "." else "." + ".".join(rel.parts)))
    assert found <= listed, f"add to pyproject [tool.setuptools] packages: {sorted(found - listed)}"
