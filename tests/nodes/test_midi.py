"""Events end to end: a .mid file played sample-accurately (mido's own timing as the oracle),
the poly synth, the MIDI recorder and notes turned into DDSP controls."""
import json
from pathlib import Path

import mido
import numpy as np
import pytest

from neuropatch.engine import load_patch, render
from neuropatch.engine.events import NOTE_ON, PITCH_BEND, note_off, note_on
from neuropatch.engine.testing import run_node
from neuropatch.nodes.midi_controls import MidiToControls
from neuropatch.nodes.synth_poly import PolySynth

SR = 48000


def write_mid(path: Path, notes, tempos=((0, 120),)):
    """notes: (start beat, duration beats, pitch, velocity); tempos: (beat, bpm) changes."""
    from neuropatch.nodes.midi_io import write_notes_file

    return write_notes_file(path, notes, tempos)


def mido_note_on_samples(path: Path) -> list:
    """Sample of every note-on as mido's own playback timing places it (the oracle)."""
    t, out = 0.0, []
    for msg in mido.MidiFile(str(path)):
        t += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            out.append(round(t * SR))
    return out


def player_patch(folder: Path, mid: Path, synth_params=None, tempo_source="file", settings=None, extra=()):
    doc = {"format": "neuropatch", "version": 1,
           "settings": {"sample_rate": SR, "block_size": 256, **(settings or {})},
           "nodes": [{"id": "player", "type": "io.midi_file_player", "params": {"tempo": tempo_source},
                      "resources": {"file": {"path": mid.name}}},
                     {"id": "synth", "type": "synth.poly", "params": synth_params or {}},
                     {"id": "out", "type": "io.audio_out"}, *extra],
           "edges": [{"from": ["player", "out"], "to": ["synth", "events"]},
                     {"from": ["synth", "out"], "to": ["out", "in"]}]}
    p = folder / "p.json"
    p.write_text(json.dumps(doc))
    return p


@pytest.fixture
def tune(tmp_path):
    notes = [(0.5, 0.25, 60, 100), (1.0, 0.25, 64, 90), (2.0, 0.5, 67, 127), (3.25, 0.25, 72, 60)]
    return write_mid(tmp_path / "tune.mid", notes, tempos=((0, 120), (1.5, 90), (3, 150)))


def played_note_ons(mid: Path, block: int, seconds: float, **params) -> list:
    from neuropatch.nodes.midi_io import MidiFilePlayer

    node = MidiFilePlayer()
    node.set_resource("file", mid)
    for k, v in params.items():
        node.set_param(k, v)
    events = run_node(node, {}, SR, block, n_samples=int(seconds * SR))["out"]
    return [e[0] for e in events if e[1] == NOTE_ON]


@pytest.mark.parametrize("block", [1, 64, 256])
def test_the_file_player_places_notes_on_the_samples_mido_times_them_at(tune, block):
    assert played_note_ons(tune, block, 3.0) == mido_note_on_samples(tune)


def test_a_looping_player_repeats_the_file_at_its_length(tune):
    once = mido_note_on_samples(tune)
    length = round(mido.MidiFile(str(tune)).length * SR)
    assert played_note_ons(tune, 256, 5.0, loop=True)[:8] == once + [t + length for t in once]


def test_the_synth_sounds_from_the_sample_its_note_lands_on(tune, tmp_path):
    patch = player_patch(tmp_path, tune, {"wave": "square", "attack_ms": 0.5, "release_ms": 1.0})
    y, _ = render(load_patch(patch), None, seconds=3.0, base_dir=tmp_path)
    for t in mido_note_on_samples(tune):
        assert not np.any(y[0, t - 500:t]) and np.abs(y[0, t:t + 48]).max() > 0.01


@pytest.mark.slow
def test_a_rendered_midi_file_through_the_poly_synth_is_identical_at_block_sizes_1_64_256(tune, tmp_path):
    patch = player_patch(tmp_path, tune)
    outs = [render(load_patch(patch), None, block_size=bs, seconds=3.0, base_dir=tmp_path)[0] for bs in (256, 64, 1)]
    assert np.abs(outs[0]).max() > 0.05
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])


def test_the_transport_tempo_drives_the_player_when_asked(tune, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    patch = recording_patch(tmp_path, tune, tempo_source="transport", settings={"tempo": 60})
    render(load_patch(patch), None, seconds=4.0, base_dir=tmp_path)
    assert mido_note_on_samples(tmp_path / "take.mid") == [24000, 48000, 96000, 156000]  # beats 0.5, 1, 2, 3.25


def recording_patch(folder, mid, **kw):
    patch = player_patch(folder, mid, extra=[{"id": "rec", "type": "io.midi_recorder",
                                              "params": {"path": "take.mid"}}], **kw)
    doc = json.loads(patch.read_text())
    doc["edges"].append({"from": ["player", "out"], "to": ["rec", "in"]})
    patch.write_text(json.dumps(doc))
    return patch


def peak_hz(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), 8 * len(x)))
    k = int(np.argmax(spec))
    a, b, c = np.log(spec[k - 1:k + 2] + 1e-30)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * SR / (8 * len(x))


def synth(events, n, **params):
    node = PolySynth()
    for k, v in {"wave": "sine", "cutoff_hz": 20000.0, "filter_env_oct": 0.0, "sustain": 1.0,
                 "attack_ms": 0.5, "gain_db": 0.0, **params}.items():
        node.set_param(k, v)
    return run_node(node, {"events": events}, SR, 256, n_samples=n)["out"][0]


def test_a_held_note_is_a_tone_at_its_pitch_and_velocity_level():
    y = synth([note_on(0, 69, 127)], SR)
    tail = y[SR // 2:]
    assert peak_hz(tail) == pytest.approx(440.0, abs=1.0)
    assert 20 * np.log10(np.abs(tail).max()) == pytest.approx(0.0, abs=0.1)
    half = synth([note_on(0, 69, 64)], SR)[SR // 2:]
    assert np.abs(half).max() / np.abs(tail).max() == pytest.approx(64 / 127, rel=1e-3)


def test_pitch_bend_moves_the_note_by_the_bend_range():
    y = synth([note_on(0, 69, 127), (100, PITCH_BEND, 0, 0, 0, 1.0)], SR, bend_range=2.0)
    assert peak_hz(y[SR // 2:]) == pytest.approx(440.0 * 2 ** (2 / 12), abs=1.0)


def test_the_oldest_voice_is_stolen_when_all_are_busy():
    y = synth([note_on(0, 60, 127), note_on(10, 64, 127), note_on(20, 67, 127)], SR, voices=2)[SR // 2:]
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    hz = np.fft.rfftfreq(len(y), 1 / SR)

    def level(note):
        f = 440 * 2 ** ((note - 69) / 12)
        return spec[np.abs(hz - f) < 3].max()

    assert level(64) > 1000 * level(60) and level(67) > 1000 * level(60)


def test_a_released_note_fades_to_silence():
    y = synth([note_on(0, 69, 127), note_off(SR // 4, 69)], SR, release_ms=50.0)
    assert np.abs(y[SR // 4 - 500:SR // 4]).max() > 0.9
    assert np.abs(y[SR // 4 + 4800:]).max() < 1e-3   # 100 ms later: two release times


def test_the_midi_recorder_writes_what_it_heard(tune, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    patch = recording_patch(tmp_path, tune)
    render(load_patch(patch), None, seconds=4.0, base_dir=tmp_path)
    heard = mido_note_on_samples(tmp_path / "take.mid")
    assert np.max(np.abs(np.array(heard) - mido_note_on_samples(tune))) <= SR / 960  # tick resolution
    notes = [m.note for m in mido.MidiFile(str(tmp_path / "take.mid")) if m.type == "note_on"]
    assert notes == [60, 64, 67, 72]


def controls(events, n, **params):
    node = MidiToControls()
    for k, v in params.items():
        node.set_param(k, v)
    out = run_node(node, {"events": events}, SR, 64, n_samples=n)
    return out["f0"][:, 0, 0], out["loudness"][:, 0, 0]


def test_a_note_becomes_its_f0_and_a_loudness_envelope():
    f0, loud = controls([note_on(0, 69, 127), note_off(SR // 2, 69)], SR, vibrato_cents=0.0,
                        peak_db=-10.0, sustain_db=0.0, floor_db=-80.0, release_ms=50.0)
    hop = 256
    assert f0[10] == pytest.approx(440.0, rel=1e-6)
    assert loud[(SR // 4) // hop] == pytest.approx(-10.0, abs=1e-6)
    assert loud[-1] == -80.0 and f0[-1] == pytest.approx(440.0)    # f0 holds after release
    assert loud[0] < loud[3] < loud[10]                             # attack


def test_legato_notes_glide_between_pitches():
    f0, _ = controls([note_on(0, 60, 100), note_on(SR // 4, 72, 100)], SR // 2, glide_ms=100.0, vibrato_cents=0.0)
    start = (SR // 4) // 256 + 1
    c4, c5 = 440 * 2 ** (-9 / 12), 440 * 2 ** (3 / 12)
    assert f0[start - 2] == pytest.approx(c4, rel=1e-6)
    assert c4 < f0[start + 2] < f0[start + 8] < c5     # on its way
    assert f0[-1] == pytest.approx(c5, rel=1e-3)


def test_midi_to_controls_frames_do_not_depend_on_the_block_size():
    events = [note_on(100, 60, 100), note_on(9000, 67, 80), (12000, PITCH_BEND, 0, 0, 0, -0.5),
              note_off(20000, 60), note_off(30000, 67)]
    outs = []
    for bs in (1, 64, 1000):
        node = MidiToControls()
        out = run_node(node, {"events": events}, SR, bs, n_samples=SR)
        outs.append(np.concatenate([out["f0"].ravel(), out["loudness"].ravel()]))
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-9)
    np.testing.assert_allclose(outs[2], outs[0], rtol=1e-9)


def test_a_corrupt_midi_file_is_a_clear_error_on_its_node(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd garbage")
    patch = player_patch(tmp_path, bad)
    _, sched = render(load_patch(patch), None, seconds=0.1, base_dir=tmp_path)
    assert "bad.mid: not a readable MIDI file" in sched.errors["player"]


def test_a_full_event_buffer_drops_and_counts_instead_of_growing():
    from neuropatch.engine.events import EventBuffer

    buf = EventBuffer(4)
    for k, off in enumerate([30, 10, 20, 10, 5, 7]):
        buf.push(off, NOTE_ON, 0, 60 + k, 100)
    assert buf.count == 4 and buf.overflow == 2 and buf.capacity == 4
    assert [r[0] for r in buf.records()] == [10, 10, 20, 30]       # sorted, ties in push order
    assert [r[3] for r in buf.records()] == [61, 63, 62, 60]


def test_render_reports_events_dropped_by_a_full_buffer(tmp_path, capsys):
    from neuropatch.app import cli

    dense = write_mid(tmp_path / "dense.mid", [(0.0, 0.5, 20 + k % 100, 100) for k in range(100)] * 6)
    patch = player_patch(tmp_path, dense)
    assert cli.main(["render", str(patch), "--seconds", "0.5", "-q"]) == 0
    assert "warning: player.out: " in capsys.readouterr().err


def test_an_events_tap_shows_the_played_notes_in_the_piano_roll(tune, tmp_path, qtbot):
    from neuropatch.app.editor.visualizers import PianoRollView, views_for_kind
    from neuropatch.engine.live import EngineClient

    graph = load_patch(player_patch(tmp_path, tune))
    with EngineClient(mode="thread", backend="offline", block_size=256, in_channels=1, out_channels=1) as client:
        client.load(graph, tmp_path)
        tap = client.tap("player", "out")
        client.sync()
        client.pump(int(3.0 * SR / 256))
        rows = tap.read()
    on = rows[rows[:, 1] == NOTE_ON]
    expected = np.array(mido_note_on_samples(tune)) / SR
    np.testing.assert_allclose(on[:, 0], expected, atol=1e-6)      # seconds since the start
    assert list(on[:, 3]) == [60, 64, 67, 72]
    assert views_for_kind("events")[0] == "piano roll"
    roll = PianoRollView()
    qtbot.addWidget(roll)
    roll.feed(rows)
    drawn = sorted((round(s, 3), round(e, 3), n) for s, e, n, *_ in roll.notes)
    assert [n for *_, n in drawn] == [60, 64, 67, 72]
    assert drawn[0][:2] == (0.25, 0.375)                # beat 0.5 to 0.75 at 120 bpm
    assert roll.getAxis("bottom").labelText == "time" and roll.getAxis("left").labelText == "MIDI note"
