"""The editor's background kernel warm-up: progress in the status bar, the GUI never waits."""
import os
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMainWindow

from neuropatch.app.editor.kernel_warmup import MESSAGE, KernelWarmup, start_if_cold

PATCH = Path(__file__).resolve().parents[2] / "patches" / "hello_mixer.json"


def test_warm_up_shows_progress_while_the_gui_keeps_running(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))   # the child process compiles
    win = QMainWindow()
    qtbot.addWidget(win)
    warmup = KernelWarmup(win.statusBar(), patch=str(PATCH), parent=win)
    win.show()
    qtbot.waitExposed(win)
    steps, ticks = [], []
    warmup.progress.connect(lambda done, total, label: steps.append((done, total)))
    timer = QTimer(win, interval=20)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    warmup.start()
    assert warmup.label.isVisible() and warmup.label.text().startswith(MESSAGE)
    assert warmup.bar.isVisible()
    with qtbot.waitSignal(warmup.finished, timeout=300_000) as finished:
        pass
    assert finished.args == [True]
    assert steps[-1] == (2, 2) and steps[0] == (0, 2)
    # the event loop ran all along: about one tick per 20 ms of the compile
    assert len(ticks) >= 20
    assert not warmup.label.isVisible() and not warmup.bar.isVisible()
    assert list((tmp_path / "cache").glob("neuropatch-*/*/*.nbi"))


def test_no_warm_up_when_the_kernels_are_already_cached(qtbot, tmp_path, monkeypatch):
    from neuropatch.engine import jit

    monkeypatch.setattr(jit.config, "CACHE_DIR", str(tmp_path))
    folder = tmp_path / f"neuropatch-{jit.source_key('neuropatch')}" / "neuropatch.nodes.effects"
    folder.mkdir(parents=True)
    (folder / "effects.gate_block-1.py311.nbi").write_bytes(b"")
    win = QMainWindow()
    qtbot.addWidget(win)
    assert start_if_cold(win) is None
    folder.joinpath("effects.gate_block-1.py311.nbi").unlink()
    warmup = start_if_cold(win)
    assert warmup is not None and warmup.running()
    warmup.stop()
    assert not warmup.running()
