"""train-amp: fits a synthetic amp (tanh waveshaper + tone filter) to ESR < 0.01 on the CPU
in well under a minute; the written .nam loads and plays in amp.nam."""
import numpy as np
import pytest
import soundfile as sf
from scipy.signal import lfilter

import torch  # noqa: F401,E402  (the test command installs the CPU build first)

from neuropatch.app.cli import main  # noqa: E402
from neuropatch.engine.testing import run_node  # noqa: E402
from neuropatch.nodes.amp import NamAmp  # noqa: E402
from neuropatch.nodes.amp.train import esr  # noqa: E402

SR = 48000


def synthetic_pair(seconds):
    rng = np.random.default_rng(0)
    n = int(SR * seconds)
    x = np.zeros(n)
    for k in range(0, n, SR // 4):
        seg = np.arange(n - k) / SR
        x[k:] += rng.uniform(0.05, 0.6) * np.sin(2 * np.pi * rng.uniform(80, 600) * seg) * np.exp(-seg * 4)
    x += 0.01 * rng.standard_normal(n)
    y = lfilter([0.3], [1, -0.7], np.tanh(3 * x))
    return x.astype(np.float32), y.astype(np.float32)


def test_train_amp_writes_a_nam_that_the_node_plays(tmp_path, capsys):
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x, y = synthetic_pair(4.0)
        sf.write(str(tmp_path / "di.wav"), x, SR, subtype="FLOAT")
        sf.write(str(tmp_path / "reamp.wav"), y, SR, subtype="FLOAT")
        out = tmp_path / "my_amp.nam"
        rc = main(["train-amp", "--input", str(tmp_path / "di.wav"), "--target", str(tmp_path / "reamp.wav"),
                   "--arch", "lstm", "--hidden", "12", "--epochs", "20", "--seq-len", "2048", "-q", "-o", str(out)])
    finally:
        torch.set_num_threads(threads)
    assert rc == 0
    printed = capsys.readouterr().out
    val = float(printed.split("validation ESR")[1].split()[0])
    assert val < 0.01, printed
    node = NamAmp()
    node.set_resource("model", out)
    tail = slice(int(3.2 * SR), None)   # the validation part
    pred = run_node(node, {"in": x[None, tail]}, SR, 256)["out"][0]
    assert esr(y[tail][2000:], pred[2000:]) < 0.02


def test_train_amp_rejects_unreadable_audio(tmp_path):
    assert main(["train-amp", "--input", str(tmp_path / "nope.wav"), "--target", str(tmp_path / "nope.wav"),
                 "-o", str(tmp_path / "x.nam")]) == 2
