import os

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
