"""Test-only nodes and graph builders shared by engine tests."""
import numpy as np

from neuropatch.engine import Edge, Graph, Node, Param, Port, Registry, default_registry, new_node_spec


class LatencyNode(Node):
    """Delays audio by `samples` and reports exactly that as its latency (a lookahead stand-in)."""

    type_id = "test.latency"
    doc = "test-only"
    inputs = [Port("in", "audio")]
    outputs = [Port("out", "audio")]
    params = [Param("samples", 0, 100000, 0, int)]

    def prepare(self, ctx):
        self.latency_samples = self.param_values["samples"]
        ch = ctx.in_specs["in"].channels if ctx.in_specs.get("in") else 1
        self.buf = np.zeros((ch, self.latency_samples + ctx.block_size), np.float32)
        self.fill = self.latency_samples

    def reset(self):
        super().reset()
        self.buf[:] = 0
        self.fill = self.latency_samples

    def process(self, ins, outs, n):
        x = ins["in"]
        self.buf[:, self.fill:self.fill + n] = x
        outs["out"][:] = self.buf[:, :n]
        self.buf[:, : self.fill] = self.buf[:, n:n + self.fill].copy()


class RaisingNode(Node):
    """Passes audio through, raises on the block after `after` blocks."""

    type_id = "test.raiser"
    bypass_routes = (("in", "out"),)
    doc = "test-only"
    inputs = [Port("in", "audio")]
    outputs = [Port("out", "audio")]
    params = [Param("after", 0, 1000, 2, int)]

    def prepare(self, ctx):
        self.count = 0

    def process(self, ins, outs, n):
        self.count += 1
        if self.count > self.param_values["after"]:
            raise RuntimeError("boom")
        outs["out"][:] = ins["in"]


def make_test_registry() -> Registry:
    reg = Registry()
    reg.register_many(default_registry().classes())
    reg.register_many([LatencyNode, RaisingNode])
    return reg


def chain(types_and_params, registry=None, sr=48000, block=256) -> Graph:
    """A linear graph; `types_and_params` is a list of (id, type, params)."""
    registry = registry or default_registry()
    g = Graph(settings={"sample_rate": sr, "block_size": block})
    prev = None
    for nid, type_id, params in types_and_params:
        g.nodes[nid] = new_node_spec(type_id, nid, registry, params)
        if prev is not None:
            g.edges.append(Edge(prev, "out", nid, "in"))
        prev = nid
    return g
