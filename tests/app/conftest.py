import os

import numpy as np
import pytest

import PySide6  # noqa: F401  (a hard dependency: fail loudly when missing)
import pytestqt  # noqa: F401


@pytest.fixture(scope="session", autouse=True)
def _isolated_settings(tmp_path_factory):
    """QSettings and recovery files go to temporary folders, never the user's."""
    from PySide6.QtCore import QSettings

    cfg = tmp_path_factory.mktemp("qsettings")
    QSettings.setPath(QSettings.NativeFormat, QSettings.UserScope, str(cfg))
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(cfg))
    os.environ["NEUROPATCH_RECOVERY_DIR"] = str(tmp_path_factory.mktemp("recovery"))
    yield


@pytest.fixture
def window(qtbot, tmp_path):
    from neuropatch.app.editor.main_window import MainWindow

    w = MainWindow(recovery_folder=tmp_path / "recovery")
    w.errors = []
    w.error_hook = lambda title, text: w.errors.append(f"{title}: {text}")
    w.confirm_hook = lambda title, text: True
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.live.shutdown()
    w.release_clipboard()


class FakeTap:
    def __init__(self, data):
        self.data = data

    def read(self):
        return self.data

    def latest(self, n):
        return self.data


class FakeClient:
    """Records what the editor sends; serves a sine on every tap."""

    def __init__(self, **settings):
        self.settings = settings
        self.commands, self.started, self.loaded = [], 0, None

    def load(self, graph, base_dir):
        self.loaded = graph.copy()

    def apply(self, command):
        self.commands.append(command)

    def set_limiter(self, on):
        self.limiter = on

    def start(self):
        self.started += 1

    def stop(self):
        self.started -= 1

    def close(self):
        pass

    def meters(self):
        return {"running": True, "load_avg": 0.25, "load_peak": 0.5, "xruns": 3, "latency_ms": 12.5,
                "errors": {"gain": "raised ValueError; bypassed"}}

    def tap(self, node_id, port):
        return FakeTap((0.25 * np.sin(np.arange(512) / 5.0)).astype(np.float32)[None])


@pytest.fixture
def fake_window(qtbot, tmp_path):
    from neuropatch.app.editor.main_window import MainWindow

    w = MainWindow(recovery_folder=tmp_path / "recovery", client_factory=FakeClient)
    w.confirm_hook = lambda *a: True
    qtbot.addWidget(w)
    w.show()
    yield w
    w.live.shutdown()
