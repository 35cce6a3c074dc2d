"""Autosave and crash recovery: an editor killed with SIGKILL loses nothing."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from neuropatch.engine import Edge

EDITOR_SCRIPT = textwrap.dedent("""
    import sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from neuropatch.app.editor.main_window import MainWindow
    w = MainWindow(autosave_ms=200)
    w.show()
    w.doc.add_node("gen.oscillator", (10, 20))
    w.doc.add_node("util.gain", (220, 20))
    w.doc.connect_ports("oscillator", "out", "gain", "in")
    w.doc.set_param("gain", "gain_db", -3.0)
    def check():
        if w.recovery.file.exists():
            print("AUTOSAVED", flush=True)
        else:
            QTimer.singleShot(50, check)
    QTimer.singleShot(50, check)
    sys.exit(app.exec())
""")


def _crash_an_editor(tmp_path) -> None:
    env = dict(os.environ, NEUROPATCH_RECOVERY_DIR=str(tmp_path / "recovery"), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen([sys.executable, "-c", EDITOR_SCRIPT], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "AUTOSAVED", proc.stderr.read() if proc.poll() is not None else line
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _answer_offer(button_text: str, seen: list):
    def answer():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        seen.append(box.text())
        for b in box.buttons():
            if b.text() == button_text:
                b.click()
                return
    QTimer.singleShot(0, answer)


def _new_window(qtbot, tmp_path):
    from neuropatch.app.editor.main_window import MainWindow

    w = MainWindow(recovery_folder=tmp_path / "recovery")
    w.confirm_hook = lambda *a: True
    qtbot.addWidget(w)
    w.show()
    return w


@pytest.mark.slow
def test_killed_editor_is_offered_and_restored_on_next_start(qtbot, tmp_path):
    _crash_an_editor(tmp_path)
    files = list((tmp_path / "recovery").glob("*.recovery.json"))
    assert len(files) == 1

    w = _new_window(qtbot, tmp_path)
    seen = []
    _answer_offer("Restore", seen)
    assert w.offer_recovery()
    assert seen and "Restore untitled patch" in seen[0]
    g = w.doc.graph
    assert list(g.nodes) == ["oscillator", "gain"]
    assert g.edges == [Edge("oscillator", "out", "gain", "in")]
    assert g.nodes["gain"].params["gain_db"] == -3.0
    assert w.isWindowModified()                      # restored work is unsaved work
    assert w.scene.mismatches() == []
    # the crashed editor's file is replaced by this editor's own recovery file
    assert not files[0].exists() and w.recovery.file.exists()
    w.save_as(tmp_path / "rescued.json")
    assert not w.recovery.file.exists()


@pytest.mark.slow
def test_recovery_later_keeps_the_file_and_discard_removes_it(qtbot, tmp_path):
    _crash_an_editor(tmp_path)
    (f,) = (tmp_path / "recovery").glob("*.recovery.json")
    w = _new_window(qtbot, tmp_path)
    _answer_offer("Later", [])
    assert not w.offer_recovery()
    assert f.exists() and not w.doc.graph.nodes
    _answer_offer("Discard", [])
    assert not w.offer_recovery()
    assert not f.exists()


def test_autosave_runs_only_while_there_are_unsaved_changes(window, tmp_path):
    assert not window.autosave_timer.isActive()
    window.doc.add_node("gen.noise", (0, 0))
    assert window.autosave_timer.isActive()
    assert window.autosave_timer.interval() == 15_000
    window.autosave_now()
    assert window.recovery.file.exists()
    window.save_as(tmp_path / "p.json")
    assert not window.recovery.file.exists() and not window.autosave_timer.isActive()


def test_recovery_folder_follows_the_environment(monkeypatch, tmp_path):
    from neuropatch.app.editor.recovery import RecoveryStore

    monkeypatch.setenv("NEUROPATCH_RECOVERY_DIR", str(tmp_path / "r"))
    assert RecoveryStore().folder == tmp_path / "r"
