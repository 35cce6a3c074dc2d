"""An engine process dies with the process that started it, even while it is busy."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="parent-death signals are a Linux feature")

ROOT = Path(__file__).resolve().parents[2]

CONTROLLER = textwrap.dedent("""
    import time
    from neuropatch.engine import Graph, new_node_spec
    from neuropatch.engine.live import EngineClient
    from tests.engine.slow_models import make_registry

    client = EngineClient(mode="process", backend="offline", block_size=256, in_channels=1,
                          out_channels=1, registry="tests.engine.slow_models:make_registry")
    graph = Graph()
    graph.nodes["slow"] = new_node_spec("test.slow_load", "slow", make_registry())
    client.load(graph)
    print(client.engine_pid, flush=True)
    time.sleep(120)
""")


def _gone(pid: int) -> bool:
    """No such process, or only its exit record (a zombie holds no device and no memory)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            state = next(line for line in f if line.startswith("State:"))
    except FileNotFoundError:
        return True
    return state.split()[1] == "Z"


def _wait(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)
    return predicate()


def test_an_engine_busy_loading_a_model_dies_within_two_seconds_of_its_killed_controller(tmp_path):
    marker = tmp_path / "preparing"
    env = dict(os.environ, NEUROPATCH_TEST_SLOW_MARKER=str(marker))
    controller = subprocess.Popen([sys.executable, "-c", CONTROLLER], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = controller.stdout.readline()
        assert line.strip().isdigit(), controller.stderr.read()
        engine_pid = int(line)
        assert _wait(marker.exists, 30.0), "the engine never started preparing the slow node"
        assert int(marker.read_text()) == engine_pid     # its control loop is inside prepare
        controller.send_signal(signal.SIGKILL)
        controller.wait(5)
        assert _wait(lambda: _gone(engine_pid), 2.0), "the engine process outlived its controller"
    finally:
        if controller.poll() is None:
            controller.kill()
            controller.wait(5)
