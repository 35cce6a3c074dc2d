"""gen.transformer in a patch: the shipped Music Transformer plays, answers and harmonises
through the inference lane; renders are deterministic and block-size invariant."""
import json
from pathlib import Path

import mido
import pytest

from neuropatch.engine import compile_graph, load_patch, render
from neuropatch.engine.events import NOTE_OFF, NOTE_ON
from neuropatch.engine.lane import close_lanes
from neuropatch.engine.runtime import Runtime
from neuropatch.nodes.gen.node import SHIPPED_MODEL

pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not SHIPPED_MODEL.is_file(), reason="shipped transformer weights missing")

SR = 48000
BAR_S = 2.0   # 4 beats at 120 bpm


def gen_patch(folder: Path, params: dict, primer: Path | None = None, block: int = 256) -> Path:
    nodes = [{"id": "gen", "type": "gen.transformer", "params": {"worker": "thread", "chunk": 2048, **params}},
             {"id": "rec", "type": "io.midi_recorder", "params": {"path": str(folder / "out.mid")}},
             {"id": "synth", "type": "synth.poly"}, {"id": "out", "type": "io.audio_out"}]
    edges = [{"from": ["gen", "out"], "to": ["rec", "in"]}, {"from": ["gen", "out"], "to": ["synth", "events"]},
             {"from": ["synth", "out"], "to": ["out", "in"]}]
    if primer is not None:
        nodes.append({"id": "play", "type": "io.midi_file_player", "resources": {"file": {"path": str(primer)}}})
        edges.append({"from": ["play", "out"], "to": ["gen", "in"]})
    p = folder / "gen.json"
    p.write_text(json.dumps({"format": "neuropatch", "version": 1,
                             "settings": {"sample_rate": SR, "block_size": block, "tempo": 120},
                             "nodes": nodes, "edges": edges}))
    return p


def recorded(folder: Path) -> list:
    """(seconds, type, channel, note) of every note event the recorder wrote."""
    t, out = 0.0, []
    for msg in mido.MidiFile(str(folder / "out.mid")):
        t += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            out.append((round(t, 4), NOTE_ON, msg.channel, msg.note))
        elif msg.type in ("note_off", "note_on"):
            out.append((round(t, 4), NOTE_OFF, msg.channel, msg.note))
    return out


def write_phrase(path: Path, notes) -> Path:
    """notes: (start beat, beats, pitch) at 120 bpm."""
    from neuropatch.nodes.midi_io import write_notes_file

    return write_notes_file(path, notes)


def latency_s(patch: Path, folder: Path) -> float:
    sched = compile_graph(load_patch(patch), base_dir=folder)
    try:
        return sched.nodes["gen"].latency_samples / SR
    finally:
        close_lanes(sched)


def test_free_play_is_valid_deterministic_and_independent_of_the_block_size(tmp_path):
    runs = []
    for block in (256, 64):
        folder = tmp_path / str(block)
        folder.mkdir()
        render(load_patch(gen_patch(folder, {"seed": 7}, block=block)), None, seconds=8.0, base_dir=folder)
        runs.append(recorded(folder))
    assert runs[0] == runs[1]
    ons = [e for e in runs[0] if e[1] == NOTE_ON]
    assert len(ons) >= 8
    sounding = {}
    for t, typ, ch, note in runs[0]:     # every note-off closes a note that is sounding
        if typ == NOTE_ON:
            sounding[(ch, note)] = sounding.get((ch, note), 0) + 1
        else:
            assert sounding.get((ch, note), 0) > 0, f"note-off without note-on at {t} s"
            sounding[(ch, note)] -= 1


def test_another_seed_plays_other_music(tmp_path):
    music = []
    for seed in (1, 2):
        folder = tmp_path / str(seed)
        folder.mkdir()
        render(load_patch(gen_patch(folder, {"seed": seed})), None, seconds=6.0, base_dir=folder)
        music.append([e for e in recorded(folder) if e[1] == NOTE_ON])
    assert music[0] != music[1]


def test_call_and_response_stays_silent_during_the_call_and_answers_after_it(tmp_path):
    primer = write_phrase(tmp_path / "call.mid", [(0, 1, 60), (1, 1, 62), (2, 1, 64), (3, 1, 65),
                                                  (4, 2, 67), (6, 2, 64)])
    patch = gen_patch(tmp_path, {"mode": "call_response", "bars": 2, "seed": 5}, primer)
    render(load_patch(patch), None, seconds=10.0, base_dir=tmp_path)
    lat = latency_s(patch, tmp_path)
    ons = [t for t, typ, *_ in recorded(tmp_path) if typ == NOTE_ON]
    assert ons, "no answer"
    assert min(ons) >= 2 * BAR_S + lat - 1e-3                  # nothing while the call is played
    assert all(t < 4 * BAR_S + lat for t in ons)                # the answer takes the next 2 bars


def test_harmonise_adds_lower_voices_at_each_melody_note(tmp_path):
    melody = [(0, 1, 72), (1, 1, 74), (2, 1, 76), (3, 1, 77), (4, 2, 79)]
    patch = gen_patch(tmp_path, {"mode": "harmonise", "seed": 2},
                      write_phrase(tmp_path / "melody.mid", melody))
    render(load_patch(patch), None, seconds=4.0, base_dir=tmp_path)
    lat = latency_s(patch, tmp_path)
    events = recorded(tmp_path)
    by_onset = {}
    for t, typ, ch, note in events:
        if typ == NOTE_ON:
            assert 1 <= ch <= 3
            by_onset.setdefault(round(t - lat, 3), []).append(note)
    for start, _, pitch in melody:
        voices = by_onset.get(round(start * 0.5, 3), [])
        assert 1 <= len(voices) <= 3 and all(v < pitch for v in voices), (start, voices)


def test_a_new_seed_takes_effect_at_the_next_bar_line_without_stopping(tmp_path):
    def run(change_at_s):
        graph = load_patch(gen_patch(tmp_path, {"seed": 11}))
        sched = compile_graph(graph, base_dir=tmp_path)
        rt = Runtime(sched, timing=False)
        rt.warm_up()
        events = []
        for k in range(int(6.0 * SR / 256)):
            if change_at_s is not None and k == int(change_at_s * SR / 256):
                rt.set_param("gen", "seed", 99)
            rt.process(None, 256)
            buf = sched.out_buffers[("gen", "out")]
            events += [(k * 256 + r[0], r[1], r[3]) for r in buf.records()]
        close_lanes(sched)
        return events

    lat = latency_s(gen_patch(tmp_path, {"seed": 11}), tmp_path)
    same, changed = run(None), run(1.1)
    cut = int((BAR_S + lat) * SR)           # the first bar line after the change, as heard
    assert [e for e in same if e[0] < cut] == [e for e in changed if e[0] < cut]
    assert [e for e in same if e[0] >= cut] != [e for e in changed if e[0] >= cut]


def test_without_its_tokenizer_the_generator_says_what_to_install(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "miditok" else real(name, *a))
    sched = compile_graph(load_patch(gen_patch(tmp_path, {})), base_dir=tmp_path)
    close_lanes(sched)
    assert "pip install 'neuropatch[gen]'" in sched.errors["gen"] and "miditok" in sched.errors["gen"]


def test_events_that_do_not_fit_a_chunk_for_the_worker_are_reported(tmp_path, capsys):
    from neuropatch.app import cli
    from neuropatch.nodes.midi_io import write_notes_file

    dense = write_notes_file(tmp_path / "dense.mid", [(0.0, 0.5, 20 + k % 100) for k in range(300)])
    patch = gen_patch(tmp_path, {"mode": "harmonise"}, dense)
    assert cli.main(["render", str(patch), "--seconds", "0.2", "-q"]) == 0
    assert "warning: gen (lane): " in capsys.readouterr().err
