"""Stand-in for a node the app cannot run: an unknown type (keeps its JSON verbatim and
saves back unchanged) or a node whose type is known but failed to load. Passes silence."""
from __future__ import annotations

from .node import Node, zero_outputs
from .streams import Port


class Placeholder(Node):
    type_id = "placeholder"
    title = "Missing node"
    category = "system"
    doc = "A node this installation cannot run. It keeps its settings and passes silence."

    def __init__(self, original_type: str = "", reason: str = "", in_ports=(), out_ports=()):
        super().__init__()
        self.original_type = original_type
        self.reason = reason or f"unknown node type {original_type!r}"
        self.error = self.reason
        self._inputs = [Port(name, "any") for name in in_ports]
        self._outputs = [Port(name, "any") for name in out_ports]

    def input_ports(self):
        return self._inputs

    def output_ports(self):
        return self._outputs

    def set_state(self, state, from_version=None):
        pass  # keeps nothing: the graph's NodeSpec holds the verbatim JSON

    def process(self, ins, outs, n):
        zero_outputs(outs, n)
