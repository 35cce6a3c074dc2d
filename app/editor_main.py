"""Entry of the editor: ``neuropatch [patch.json]``."""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="neuropatch", description="neuropatch editor")
    ap.add_argument("patch", nargs="?", help="patch (.json) or bundle (.npbundle) to open")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)

    from PySide6.QtWidgets import QApplication

    from neuropatch.app.editor.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("neuropatch")
    app.setOrganizationName("neuropatch")
    window = MainWindow()
    window.restore_layout()          # geometry and docks as last left (remembered on close)
    window.show()
    restored = window.offer_recovery()
    if args.patch and not restored:
        window.open_path(args.patch, ask_save=False)
    app.aboutToQuit.connect(window.release_clipboard)
    from neuropatch.app.editor.kernel_warmup import start_if_cold

    warmup = start_if_cold(window)   # first launch: compile the built-in kernels in the background
    if warmup is not None:
        app.aboutToQuit.connect(warmup.stop)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
