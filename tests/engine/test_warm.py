"""Kernel warm-up ahead of use (engine/warm.py, `neuropatch warm`)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from neuropatch.engine import default_registry
from neuropatch.engine.warm import builtin_warmers

REPO = Path(__file__).resolve().parents[2]
COMPILES_DURING_RENDER = textwrap.dedent("""
    import sys
    from neuropatch.engine import load_patch
    from neuropatch.engine.render import render
    from neuropatch.engine.warm import watch_compiles
    compiled = []
    graph = load_patch(sys.argv[1])
    with watch_compiles(compiled.append):
        render(graph, None, seconds=0.1)
    print(compiled)
""")


def run(args, cache, **kw):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=600, **kw)


def test_warm_patch_leaves_nothing_to_compile_for_its_render(tmp_path):
    patch = REPO / "patches" / "hello_mixer.json"
    before = run(["-c", COMPILES_DURING_RENDER, str(patch)], tmp_path / "cold")
    assert before.returncode == 0, before.stderr
    assert before.stdout.strip() != "[]"          # a fresh cache compiles the patch's kernels
    warm = run(["-m", "neuropatch.app.cli", "warm", str(patch)], tmp_path / "warm")
    assert warm.returncode == 0, warm.stderr
    assert "compiling the kernels" in warm.stderr and "first run only" in warm.stderr
    assert "kernels compiled" in warm.stderr
    after = run(["-c", COMPILES_DURING_RENDER, str(patch)], tmp_path / "warm")
    assert after.returncode == 0, after.stderr
    assert after.stdout.strip() == "[]"
    again = run(["-m", "neuropatch.app.cli", "warm", str(patch)], tmp_path / "warm")
    assert "loading the kernels" in again.stderr and "0 kernels compiled" in again.stderr


def test_warm_of_a_broken_patch_exits_2_with_the_json_path(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "neuropatch", "version": 1, "nodes": [{"id": 3}], "edges": []}')
    proc = run(["-m", "neuropatch.app.cli", "warm", str(bad)], tmp_path / "cache")
    assert proc.returncode == 2
    assert "$.nodes[0]" in proc.stderr and "Traceback" not in proc.stderr


def test_builtin_warm_up_covers_every_kernel_node_type_and_skips_lane_models():
    labels = [label for label, _ in builtin_warmers()]
    registry = default_registry()
    expected = [t for t in registry.types()
                if registry.resolve(t).__module__.startswith("neuropatch.") and not registry.resolve(t).uses_lane]
    assert [t for t in labels if t in registry] == expected
    assert "vae.rave" not in labels
    assert "amp.nam (WaveNet)" in labels and "live safety limiter" in labels


def test_the_wavenet_warmer_compiles_the_wavenet_kernel():
    from neuropatch.nodes.amp import wavenet_kernels

    dict(builtin_warmers())["amp.nam (WaveNet)"]()
    assert len(wavenet_kernels.wavenet_block.signatures) == 1
