"""vae.rave in the inspector: the model's attributes appear as params (attr_<name>)."""
from pathlib import Path

from neuropatch.app.editor.inspector import NumberParamEditor

REPO = Path(__file__).resolve().parents[2]
VAE = REPO / "assets" / "vae" / "tiny_rave.safetensors"


def test_inspector_shows_the_models_attributes_as_editable_params(window):
    nid = window.doc.add_node("vae.rave", (0, 0), resources={"model": {"path": str(VAE)}})
    window.scene.select_nodes([nid])
    temp = window.inspector.editors["attr_temperature"]
    assert isinstance(temp, NumberParamEditor)
    temp.spin.setValue(0.5)
    assert window.doc.graph.nodes[nid].params["attr_temperature"] == 0.5
    window.doc.undo_stack.undo()
    assert "attr_temperature" not in window.doc.graph.nodes[nid].params


def test_an_attribute_set_in_a_patch_is_shown_for_a_torchscript_model(window):
    ts = REPO / "tests" / "data" / "nn_tilde" / "nn15_mono.ts"
    nid = window.doc.add_node("vae.rave", (0, 0), params={"attr_gain": 0.5},
                              resources={"model": {"path": str(ts)}})
    window.scene.select_nodes([nid])
    assert window.inspector.editors["attr_gain"].spin.value() == 0.5
