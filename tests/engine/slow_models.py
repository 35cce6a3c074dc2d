"""Test-only node whose prepare keeps the engine's control loop busy (a slow model load)."""
import os
import time
from pathlib import Path

from neuropatch.engine import Node, Port, Registry


class SlowLoadNode(Node):
    """Passes audio through; its prepare writes its process id to the file named by the
    environment variable NEUROPATCH_TEST_SLOW_MARKER, then takes a minute."""

    type_id = "test.slow_load"
    doc = "test-only"
    inputs = [Port("in", "audio")]
    outputs = [Port("out", "audio")]
    bypass_routes = (("in", "out"),)

    def prepare(self, ctx):
        Path(os.environ["NEUROPATCH_TEST_SLOW_MARKER"]).write_text(str(os.getpid()))
        time.sleep(60.0)

    def process(self, ins, outs, n):
        outs["out"][:] = ins["in"]


def make_registry() -> Registry:
    reg = Registry()
    reg.register_many([SlowLoadNode])
    return reg
