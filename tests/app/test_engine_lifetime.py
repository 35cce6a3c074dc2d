"""The live engine process never outlives the editor that started it."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="parent-death signals are a Linux feature")

EDITOR = textwrap.dedent("""
    import sys
    from PySide6.QtWidgets import QApplication
    from neuropatch.app.editor.main_window import MainWindow

    app = QApplication([])
    window = MainWindow(recovery_folder=sys.argv[1])
    window.live.configure({"mode": "process", "backend": "offline"})
    window.doc.add_node("gen.oscillator", (0, 0))
    assert window.live.start(), "audio did not start"
    print(window.live.client.engine_pid, flush=True)
    app.exec()
""")


def _gone(pid: int) -> bool:
    """No such process, or only its exit record (a zombie holds no device and no memory)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            state = next(line for line in f if line.startswith("State:"))
    except FileNotFoundError:
        return True
    return state.split()[1] == "Z"


def test_killing_the_editor_with_sigkill_ends_its_engine_process_within_two_seconds(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    editor = subprocess.Popen([sys.executable, "-c", EDITOR, str(tmp_path / "recovery")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = editor.stdout.readline()
        assert line.strip().isdigit(), editor.stderr.read()
        engine_pid = int(line)
        assert not _gone(engine_pid)
        time.sleep(0.5)                 # the engine runs blocks
        assert not _gone(engine_pid)
        editor.send_signal(signal.SIGKILL)
        editor.wait(5)
        deadline = time.monotonic() + 2.0
        while not _gone(engine_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(engine_pid), "the engine process outlived its editor"
    finally:
        if editor.poll() is None:
            editor.kill()
            editor.wait(5)
