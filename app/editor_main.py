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
    window.show()
    restored = window.offer_recovery()
    if args.patch and not restored:
        window.open_path(args.patch, ask_save=False)
    app.aboutToQuit.connect(window.release_clipboard)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
