"""Background kernel warm-up for the editor: ``neuropatch warm`` in its own process, its
progress in the status bar ("compiling kernels, first run only").

numba holds the GIL while it compiles, so compiling in a thread of the editor would stall the
GUI; a separate process fills the same kernel cache (engine/jit.py) while the editor stays
responsive, and the engine then loads the kernels instead of compiling them.
"""
from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QProcess, Signal
from PySide6.QtWidgets import QLabel, QProgressBar

MESSAGE = "compiling kernels, first run only"


class KernelWarmup(QObject):
    """Runs ``neuropatch warm [PATCH] --progress-lines`` and shows its progress.

    status_bar: the QStatusBar that shows a label and a progress bar while it runs.
    progress(done, total, label) and finished(ok) are emitted from the GUI thread.
    """

    progress = Signal(int, int, str)
    finished = Signal(bool)

    def __init__(self, status_bar, patch: str | None = None, parent=None):
        super().__init__(parent)
        self.patch = patch
        self.label = QLabel(MESSAGE)
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(160)
        self.bar.setTextVisible(True)
        for w in (self.label, self.bar):
            status_bar.addPermanentWidget(w)
            w.hide()
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.SeparateChannels)
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.finished.connect(self._done)
        self._buffer = b""

    def start(self) -> None:
        args = ["-m", "neuropatch.app.cli", "warm", "--progress-lines", "-q"]
        if self.patch:
            args.append(self.patch)
        self.label.show()
        self.bar.setRange(0, 0)          # busy until the first step line says how many
        self.bar.show()
        self.process.start(sys.executable, args)

    def running(self) -> bool:
        return self.process.state() != QProcess.NotRunning

    def stop(self) -> None:
        """End the warm-up (the editor is closing); what it compiled so far stays cached."""
        if self.running():
            self.process.kill()
            self.process.waitForFinished(3000)

    def _read(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            parts = line.decode(errors="replace").split(" ", 3)
            if len(parts) >= 3 and parts[0] == "step" and parts[1].isdigit() and parts[2].isdigit():
                done, total = int(parts[1]), int(parts[2])
                label = parts[3] if len(parts) > 3 else ""
                self.bar.setRange(0, total)
                self.bar.setValue(done)
                self.label.setText(f"{MESSAGE}: {label}" if done < total else MESSAGE)
                self.progress.emit(done, total, label)

    def _done(self, code, status) -> None:
        self.label.hide()
        self.bar.hide()
        self.finished.emit(code == 0 and status == QProcess.NormalExit)


def start_if_cold(window) -> KernelWarmup | None:
    """First launch (no kernel cached for this version): warm the built-in kernels in the
    background. Returns the running warm-up, or None when the cache is already filled."""
    from neuropatch.engine.jit import cache_is_empty

    if not cache_is_empty():
        return None
    warmup = KernelWarmup(window.statusBar(), parent=window)
    warmup.start()
    return warmup
