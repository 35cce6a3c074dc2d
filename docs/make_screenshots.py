"""Regenerate ``docs/screenshots/editor_playing.png``: the editor at 1280x800 playing the
amp_sim example with a spectrogram, meters, a scope and a pitch view on the canvas.

    xvfb-run -s "-screen 0 1280x800x24" python docs/make_screenshots.py   # a real X server
    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py             # without one

No sound card is needed: the live engine runs on its offline backend (a real-time timer),
and the patch's audio input is stood in for by a file player looping the shipped guitar
DI (same node id, so the patch reads as amp_sim). The editor runs with temporary settings
and recovery folders, so nothing of the user's is read or changed.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
OUT = DOCS / "screenshots" / "editor_playing.png"
WINDOW_SIZE = (1280, 800)
#: (view type, id, watched node, its output port, position, size)
VIEWS = [
    ("view.spectrogram", "spectrogram", "cab", "out", (700, 260), (420, 210)),
    ("view.meter", "meter_in", "guitar", "out", (0, 300), (160, 200)),
    ("view.meter", "meter_out", "cab", "out", (1160, 260), (160, 210)),
    ("view.scope", "scope", "amp", "out", (220, 530), (340, 170)),
    ("view.pitch", "pitch_view", "pitch", "out", (620, 560), (380, 170)),
]


def playing_patch(registry):
    """amp_sim with the guitar input played from the demo DI and the views added."""
    from neuropatch.engine import AddNode, Connect, Edge, load_patch, new_node_spec

    graph = load_patch(REPO / "patches" / "amp_sim.json", registry)
    guitar = graph.nodes["guitar"]
    guitar.type = "io.file_player"
    guitar.params = {"loop": True, "gain_db": 0.0}
    guitar.resources = {"file": {"path": str(REPO / "assets" / "guitar_di_demo.flac")}}
    for type_id, node_id, src, port, pos, (w, h) in VIEWS:
        graph.apply(AddNode(new_node_spec(type_id, node_id, registry, {"width": w, "height": h}, pos)))
        graph.apply(Connect(Edge(src, port, node_id, "in")))
    return graph


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="how long to play before the shot")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")
    os.environ["NEUROPATCH_RECOVERY_DIR"] = tempfile.mkdtemp(prefix="np-shots-recovery-")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings_dir = tempfile.mkdtemp(prefix="np-shots-settings-")
    QSettings.setPath(QSettings.NativeFormat, QSettings.UserScope, settings_dir)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, settings_dir)
    from neuropatch.app.editor.main_window import MainWindow

    window = MainWindow(recovery_folder=Path(tempfile.mkdtemp(prefix="np-shots-")))
    window.resize(*WINDOW_SIZE)
    window.show()
    window.doc.set_graph(playing_patch(window.registry), REPO / "patches" / "amp_sim.json")
    window.live.configure({"mode": "thread", "backend": "offline", "sample_rate": 48000, "block_size": 256})
    if not window.live.start():
        print("cannot start the live engine", file=sys.stderr)
        return 1
    window.view.frame_all()
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    window.live.poll_meters()
    app.processEvents()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out))
    print(f"wrote {args.out} ({window.width()}x{window.height()})")
    window.live.shutdown()
    window.doc.undo_stack.setClean()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
