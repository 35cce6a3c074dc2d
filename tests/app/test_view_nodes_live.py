"""View nodes fed by the live engine on a JACK dummy server: each one receives its stream
while the editor plays, draws axes with units, and the meter is back at the floor after Stop."""
import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
UNITS = {"spec": {"Hz", "s", "dB"}, "scope": {"ms", "FS"}, "meter": {"dBFS"}, "pitch": {"s", "note"},
         "latent": {"s", "dim", "z"}, "roll": {"s", "note"}}


def live_patch(folder: Path) -> Path:
    """A saw into a gain and the output; the views watch the gain, a pitch tracker, a tiny
    RAVE encoder's latent stream and a looping MIDI file."""
    def node(nid, type_id, pos, params=None, resources=None):
        spec = {"id": nid, "type": type_id, "version": 1, "params": params or {}, "ui": {"pos": pos}}
        if resources:
            spec["resources"] = {k: {"path": str(v)} for k, v in resources.items()}
        return spec

    nodes = [
        node("osc", "gen.oscillator", [0, 0], {"waveform": "saw", "freq_hz": 220.0, "level_db": -12.0}),
        node("gain", "util.gain", [220, 0], {"gain_db": -6.0}),
        node("out", "io.audio_out", [440, 0]),
        node("f0", "feature.pitch", [220, 200]),
        node("encoder", "vae.rave", [220, 400], {"mode": "encode", "worker": "thread", "chunk": 2048},
             {"model": REPO / "assets" / "vae" / "tiny_rave.safetensors"}),
        node("midi", "io.midi_file_player", [220, 600], {"loop": True},
             {"file": REPO / "assets" / "midi" / "call_demo.mid"}),
        node("spec", "view.spectrogram", [700, 0]), node("scope", "view.scope", [700, 250]),
        node("meter", "view.meter", [1100, 0]), node("pitch", "view.pitch", [700, 450]),
        node("latent", "view.latent", [700, 650]), node("roll", "view.piano_roll", [700, 850]),
    ]
    edges = [("osc", "gain"), ("gain", "out"), ("gain", "spec"), ("gain", "scope"), ("gain", "meter"),
             ("osc", "f0"), ("f0", "pitch"), ("osc", "encoder"), ("encoder", "latent"), ("midi", "roll")]
    doc = {"format": "neuropatch", "version": 1, "meta": {"title": "views"},
           "settings": {"sample_rate": 48000, "block_size": 256}, "nodes": nodes,
           "edges": [{"from": [a, "out"], "to": [b, "in"]} for a, b in edges]}
    path = folder / "views.json"
    path.write_text(json.dumps(doc), "utf-8")
    return path


@pytest.fixture
def playing_window(jack_server, window, tmp_path, qtbot):
    window.live.configure({"mode": "thread", "sample_rate": 48000, "block_size": 256})
    assert window.open_path(live_patch(tmp_path)), getattr(window, "errors", None)
    assert window.live.start(), "the editor could not start audio on the JACK dummy server"
    yield window
    window.live.shutdown()


def test_each_view_node_receives_its_stream_while_playing_and_draws_axes_with_units(playing_window, qtbot):
    w = playing_window
    views = w.views.items
    assert set(UNITS) <= set(views)
    try:
        qtbot.waitUntil(lambda: all(views[n].display.items_fed > 0 for n in UNITS), timeout=20000)
    finally:
        fed = {n: views[n].display.items_fed for n in UNITS}
    assert all(fed.values()), fed
    meter = views["meter"].display
    # saw at -12 dBFS through -6 dB: its peak reads about -18 dBFS
    assert meter.peak_db[0] == pytest.approx(-18.0, abs=1.5)
    pitch = views["pitch"].display
    f0 = pitch.history.ordered()[:, 0]
    assert np.nanmedian(f0[f0 > 0]) == pytest.approx(220.0, rel=0.03)
    assert views["roll"].display.shown_notes()
    w.view.frame_all()
    w.grab()           # paints every display on the canvas
    for node_id, units in UNITS.items():
        assert units <= set(views[node_id].display.labels), (node_id, views[node_id].display.labels)


def test_meter_is_back_at_the_floor_after_stop(playing_window, qtbot):
    w = playing_window
    meter = w.views.items["meter"].display
    qtbot.waitUntil(lambda: meter.items_fed > 0, timeout=20000)
    w.toggle_transport()
    assert not w.live.running
    assert meter.items_fed == 0 and meter.peak_db.max() < -100 and meter.hold_db.max() < -100
