"""REMI tokens (miditok) for the note generator: corpus chorales come back note for note on
the grid, our incremental decoder reads a stream as miditok does, transposition moves
pitches only."""
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("miditok")
pytest.importorskip("symusic")

from neuropatch.nodes.gen.tokens import (PITCH, Note, notes_to_score, notes_to_tokens, quantise,  # noqa: E402
                                         read_midi, score_to_notes, tokenizer, tokens_to_notes,
                                         transpose_tokens, vocab)

REPO = Path(__file__).resolve().parents[2]


def _asset_script():
    """The script that makes the shipped generator's data (a module of neuropatch.assets)."""
    from neuropatch.assets import make_transformer_assets

    return make_transformer_assets


@pytest.fixture(scope="module")
def chorale_midis(tmp_path_factory):
    """Three Bach chorales of the music21 corpus, written to MIDI by the asset script."""
    pytest.importorskip("music21")
    script = _asset_script()
    folder = tmp_path_factory.mktemp("chorales")
    paths = []
    for p in script.chorale_paths()[:3]:
        out = folder / f"{p.stem}.mid"
        script.write_midi(script.parse_parts(p), out)
        paths.append(out)
    return paths


def key(notes):
    return [(n.start, n.pitch, n.duration) for n in notes]


def test_corpus_chorales_round_trip_through_tokens_note_for_note(chorale_midis):
    for path in chorale_midis:
        notes = read_midi(path)
        ids = notes_to_tokens(notes)
        assert len(notes) > 100 and len(ids) > 2 * len(notes) * 0.9
        on_grid = quantise(notes)
        assert key(tokens_to_notes(ids)) == key(on_grid)
        # chorales sit on the grid already: quantising keeps every (onset, pitch, duration),
        # except that two parts in unison at one onset become one note (the longer) and notes
        # longer than the longest duration token (8 beats) are cut to it
        longest = {}
        for n in notes:
            longest[(n.start, n.pitch)] = max(n.duration, longest.get((n.start, n.pitch), 0.0))
        assert key(on_grid) == [(s, p, min(d, 8.0)) for (s, p), d in sorted(longest.items())]


def test_our_decoder_reads_a_stream_exactly_as_miditok_decodes_it(chorale_midis):
    ids = notes_to_tokens(read_midi(chorale_midis[0]))
    score = tokenizer().decode([ids])
    theirs = sorted(score_to_notes(score), key=lambda n: (n.start, n.pitch))
    assert key(tokens_to_notes(ids)) == key(theirs)


def test_off_grid_notes_snap_to_the_nearest_representable_onset_and_duration():
    notes = [Note(60, 0.1, 0.3), Note(64, 1.13, 11.0), Note(130, 2.0, 0.01), Note(10, 3.0, 1.0)]
    q = quantise(notes)
    assert key(q) == [(0.0, 60, 0.25), (1.25, 64, 8.0), (2.0, 108, 0.25), (3.0, 21, 1.0)]
    assert key(tokens_to_notes(notes_to_tokens(notes))) == key(q)


def test_notes_at_one_onset_come_in_ascending_pitch_whatever_the_input_order():
    chord = [Note(67, 4.0, 1.0), Note(60, 4.0, 1.0), Note(64, 4.0, 2.0)]
    names = [tokenizer()[int(i)] for i in notes_to_tokens(chord)]
    assert [n for n in names if n.startswith("Pitch")] == ["Pitch_60", "Pitch_64", "Pitch_67"]
    assert names[:3] == ["Bar_None", "Bar_None", "Position_0"]   # beat 4 is the start of bar 2


def test_transposition_moves_every_pitch_token_and_nothing_else(chorale_midis):
    ids = np.array(notes_to_tokens(read_midi(chorale_midis[1])))
    up = transpose_tokens(ids, 3)
    v = vocab()
    is_pitch = v.kind[ids] == PITCH
    assert np.array_equal(up[~is_pitch], ids[~is_pitch])
    assert np.array_equal(v.value[up[is_pitch]], v.value[ids[is_pitch]] + 3)
    assert transpose_tokens(ids, 60) is None                 # would leave the piano range


def test_a_score_built_from_notes_reads_back_in_beats():
    notes = [Note(60, 0.5, 1.5, 90), Note(72, 2.25, 0.25, 30)]
    assert key(score_to_notes(notes_to_score(notes))) == key(notes)
