"""A node added to a running engine has its kernels compiled on the control side, before its
schedule reaches the audio side (engine/live/server.py warm_prepared)."""
import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    from neuropatch.engine import AddNode, Batch, Connect, Edge, Graph, RemoveNode, new_node_spec
    from neuropatch.engine.live import EngineClient
    from neuropatch.engine.warm import watch_compiles

    g = Graph()
    g.apply(AddNode(new_node_spec("io.audio_in", "in")))
    g.apply(AddNode(new_node_spec("io.audio_out", "out")))
    g.apply(Connect(Edge("in", "out", "out", "in")))
    x = np.full((1, 256), 0.5, np.float32)
    with EngineClient(mode="thread", backend="offline", block_size=256, in_channels=1,
                      out_channels=1) as client:
        client.load(g)
        client.sync()
        client.pump(4, np.repeat(x, 4, axis=1))
        during_edit, during_blocks = [], []
        with watch_compiles(during_edit.append):
            client.apply(Batch([AddNode(new_node_spec("fx.noise_gate", "gate", params={"threshold_db": -20.0})),
                                RemoveNode("out"), AddNode(new_node_spec("io.audio_out", "out")),
                                Connect(Edge("in", "out", "gate", "in")),
                                Connect(Edge("gate", "out", "out", "in"))]))
            client.sync()
        with watch_compiles(during_blocks.append):
            y = client.pump(40, np.repeat(x, 40, axis=1))
        errors = client.meters()["errors"]
    print(json.dumps({"edit": during_edit, "blocks": during_blocks, "errors": errors,
                      "tail": float(y[0, -1])}))
""")


def test_an_added_nodes_kernels_compile_before_its_first_audio_block(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "neuropatch.nodes.effects.gate_block" in result["edit"]
    assert result["blocks"] == []
    assert result["errors"] == {}
    # the gate was reset after its warm-up block: it opens on the steady input from the start
    # of its envelope and passes it (the limiter's ceiling is above 0.5)
    assert abs(result["tail"] - 0.5) < 1e-3
