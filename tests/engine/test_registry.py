"""Node packs register through the entry-point group neuropatch.nodes, like the built-ins."""
import warnings

import pytest

from neuropatch.engine import Node, Port, registry as registry_module
from neuropatch.engine.registry import ENTRY_POINT_GROUP, load_registry


class Shimmer(Node):
    type_id = "acme.shimmer"
    doc = "third-party test node"
    inputs = [Port("in", "audio")]
    outputs = [Port("out", "audio")]

    def process(self, ins, outs, n):
        outs["out"][:] = ins["in"]


class FakeEntryPoint:
    def __init__(self, name, value, obj=None, error=None):
        self.name, self.value, self._obj, self._error = name, value, obj, error

    def load(self):
        if self._error:
            raise self._error
        return self._obj


def test_builtins_come_from_their_own_entry_point():
    from importlib.metadata import entry_points

    eps = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert eps.get("builtin") == "neuropatch.nodes:all_node_classes"


def test_third_party_pack_registers_and_broken_pack_only_warns(monkeypatch):
    from neuropatch.nodes import all_node_classes

    fakes = [FakeEntryPoint("builtin", "neuropatch.nodes:all_node_classes", all_node_classes),
             FakeEntryPoint("acme", "acme_nodes:NODES", lambda: [Shimmer]),
             FakeEntryPoint("broken", "broken_pack:nodes", error=ImportError("No module named 'broken_pack'"))]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: fakes if group == ENTRY_POINT_GROUP else [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = load_registry()
    assert reg.resolve("acme.shimmer") is Shimmer
    assert reg.resolve("util.gain") is not None
    assert any("broken" in str(w.message) and "failed to load" in str(w.message) for w in caught)


def test_two_packs_claiming_one_type_id_is_an_error():
    reg = registry_module.Registry()
    reg.register(Shimmer)

    class Other(Shimmer):
        pass

    with pytest.raises(ValueError, match="registered twice"):
        reg.register(Other)


def test_a_node_pack_reusing_a_built_in_type_id_is_skipped_with_a_warning(monkeypatch):
    from neuropatch.nodes.utility import Gain

    class Impostor(Gain):
        pass

    class PackEntryPoint:
        name, value = "impostor", "impostor_pack:nodes"

        def load(self):
            return lambda: [Impostor]

    real = list(registry_module.entry_points(group=ENTRY_POINT_GROUP))
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [PackEntryPoint(), *real])
    with pytest.warns(UserWarning, match="registered twice.*that node type is skipped"):
        reg = load_registry()
    assert reg.resolve(Gain.type_id) is Gain
