"""The shipped note generator (assets/transformer/chorales): sampled streams always decode to
valid MIDI, the KV cache changes nothing but speed, calls in a row cover consecutive spans,
harmonisation keeps the melody on top, the model beats every Kneser-Ney n-gram order on
held-out chorales (the 25 % margin is not reached yet: an expected failure), and
train-transformer trains, checkpoints and resumes."""
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("miditok")
mido = pytest.importorskip("mido")

from neuropatch.engine.errors import ResourceError  # noqa: E402
from neuropatch.nodes.gen.generator import NoteGenerator  # noqa: E402
from neuropatch.nodes.gen.model import load_model  # noqa: E402
from neuropatch.nodes.gen.ngram import KneserNey  # noqa: E402
from neuropatch.nodes.gen.tokens import Note, notes_to_score, tokens_to_notes, transpose_tokens  # noqa: E402
from neuropatch.nodes.gen.train import token_nlls  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "assets" / "transformer" / "chorales.safetensors"
TOKENS = REPO / "assets" / "transformer" / "chorale_tokens.npz"
SPLIT = REPO / "assets" / "transformer" / "split.json"


def _asset_script():
    """The script that makes the shipped generator's data (a module of neuropatch.assets)."""
    from neuropatch.assets import make_transformer_assets

    return make_transformer_assets


@pytest.fixture(scope="module")
def corpus():
    script = _asset_script()
    train, _ = script.read_tokens(TOKENS, "train")
    held, names = script.read_tokens(TOKENS, "held_out")
    return train, held, names


PRIMER = [Note(p, s, d) for p, s, d in [(48, 0, 2), (55, 0, 2), (64, 0, 2), (72, 0, 1), (74, 1, 1),
                                        (43, 2, 2), (59, 2, 2), (62, 2, 2), (67, 2, 2)]]


def midi_round_trip(notes, tmp_path):
    """Write ``notes`` with symusic, read the file back with mido: [(pitch, on_tick, off_tick)],
    asserting that every note-on is matched by a later note-off."""
    path = tmp_path / "gen.mid"
    notes_to_score(notes, 480).dump_midi(str(path))
    sounding, pairs = {}, []
    for track in mido.MidiFile(str(path)).tracks:
        now = 0
        for msg in track:
            now += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                sounding.setdefault((msg.channel, msg.note), []).append(now)
            elif msg.type in ("note_off", "note_on"):
                starts = sounding.get((msg.channel, msg.note))
                assert starts, f"note-off without note-on: {msg}"
                pairs.append((msg.note, starts.pop(0), now))
    assert not any(sounding.values()), "note-on never switched off"
    return pairs


@pytest.mark.parametrize("temperature", [0.5, 1.0, 1.5])
def test_a_thousand_sampled_tokens_decode_to_valid_midi(temperature, tmp_path):
    gen = NoteGenerator(SHIPPED)
    gen.reset(seed=int(temperature * 10))
    gen.prime(PRIMER)
    start = len(gen.tokens)
    notes = []
    for _ in range(500):
        notes += gen.continue_notes(4.0, temperature=temperature, top_p=0.98)
        if len(gen.tokens) - start >= 1000:
            break
    assert len(gen.tokens) - start >= 1000
    assert len(notes) > 100
    assert all(n.duration > 0 and 0 <= n.pitch <= 127 for n in notes)
    assert all(b.start >= a.start for a, b in zip(notes, notes[1:]))
    assert tokens_to_notes(gen.tokens[start:]) is not None
    pairs = midi_round_trip(notes, tmp_path)
    assert len(pairs) == len(notes)
    assert all(off > on for _, on, off in pairs)
    assert sorted(p for p, _, _ in pairs) == sorted(n.pitch for n in notes)


def test_kv_cache_generation_equals_recomputing_the_whole_window():
    cached, full = NoteGenerator(SHIPPED), NoteGenerator(SHIPPED, use_cache=False)
    for g in (cached, full):
        g.reset(seed=7)
        g.prime(PRIMER)
    worst = scale = 0.0
    # 300 tokens: past the model's context, so the window rebuild is covered too
    for _ in range(300):
        a, b = cached.sample(1.0, 0.95), full.sample(1.0, 0.95)
        worst = max(worst, float(np.abs(cached.last_logits - full.last_logits).max()))
        scale = max(scale, float(np.abs(full.last_logits).max()))
        assert a == b
        cached.append(a)
        full.append(b)
    assert len(cached.tokens) > cached.max_len
    assert worst <= 1e-6 * scale, (worst, scale)     # float32 rounding of other summation orders
    assert cached.tokens == full.tokens


def test_the_same_seed_gives_the_same_notes_and_another_seed_other_notes():
    gen = NoteGenerator(SHIPPED)
    runs = []
    for seed in (3, 3, 4):
        gen.reset(seed)
        gen.prime(PRIMER)
        runs.append(gen.continue_notes(8.0))
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_continuation_covers_the_requested_beats_after_the_last_primed_note():
    gen = NoteGenerator(SHIPPED)
    gen.reset(1)
    gen.prime([Note(n.pitch, n.start + 16, n.duration) for n in PRIMER])   # absolute beats 16..20
    out = gen.continue_notes(8.0, temperature=0.8)
    assert out and all(18.0 <= n.start < 26.0 for n in out)
    assert out[-1].start >= 22.0            # reaches well into the span, in absolute time


def test_calls_in_a_row_cover_consecutive_spans_of_the_requested_length():
    gen = NoteGenerator(SHIPPED)
    gen.reset(2)
    gen.prime(PRIMER)                       # latest onset: beat 2
    spans = [gen.continue_notes(4.0, temperature=1.0) for _ in range(6)]
    for k, notes in enumerate(spans):
        assert all(2.0 + 4 * k <= n.start < 6.0 + 4 * k for n in notes)
    assert sum(1 for notes in spans if notes) >= 5


def test_harmonise_adds_up_to_three_voices_under_the_melody_and_keeps_the_melody():
    gen = NoteGenerator(SHIPPED)
    gen.reset(5)
    melody = [Note(p, i, 1.0) for i, p in enumerate([67, 67, 69, 71, 72, 71, 69, 67])]
    added = gen.harmonise(melody, temperature=0.8)
    assert len(added) >= 8
    assert all(n.duration > 0 and 0 <= n.pitch <= 127 and n.voice in (1, 2, 3) for n in added)
    for n in added:
        sounding = [m.pitch for m in melody if m.start <= n.start < m.end]
        assert sounding and n.pitch < min(sounding)
        assert sum(1 for m in added if m.start == n.start) <= 3
    context = {(n.start, n.pitch) for n in gen.notes}
    assert all((m.start, m.pitch) in context for m in melody)
    onsets = {m.start for m in melody}
    assert sum(1 for t in onsets if any(n.start == t for n in added)) >= len(onsets) // 2


@pytest.fixture(scope="module")
def held_out_nlls(corpus):
    """(transformer NLL per token, {order: Kneser-Ney NLL per token}) on every held-out chorale."""
    train, held, names = corpus
    assert names == json.loads(SPLIT.read_text())["held_out"]
    # the n-gram sees the same transpositions the transformer trained on
    augmented = [t for s in train for k in range(-5, 7) if (t := transpose_tokens(s, k)) is not None]
    kn = KneserNey(augmented)
    kn_nll = {order: kn.nll(held, order) for order in range(3, 10)}
    model, config = load_model(SHIPPED)
    torch.set_num_threads(1)
    nll = float(np.concatenate([token_nlls(model, p) for p in held]).mean())
    return nll, kn_nll


def test_the_model_beats_every_kneser_ney_order_on_held_out_chorales(held_out_nlls):
    nll, kn_nll = held_out_nlls
    assert nll < min(kn_nll.values()), (nll, kn_nll)


def test_the_model_beats_the_best_kneser_ney_order_by_a_quarter(held_out_nlls):
    nll, kn_nll = held_out_nlls
    assert nll <= 0.75 * min(kn_nll.values()), (nll, kn_nll)


def test_a_missing_model_file_raises_a_resource_error_naming_it(tmp_path):
    with pytest.raises(ResourceError, match="missing"):
        NoteGenerator(tmp_path / "nothing.safetensors")


def write_midi_piece(path, rng):
    notes = []
    t = 0.0
    for _ in range(40):
        d = float(rng.choice([0.5, 1.0, 2.0]))
        root = int(rng.integers(55, 70))
        notes += [Note(root - 12, t, d), Note(root, t, d), Note(root + 4, t, d)]
        t += d
    notes_to_score(notes, 480).dump_midi(str(path))


def test_train_transformer_resumes_from_its_checkpoint_as_if_never_stopped(tmp_path):
    from neuropatch.app.cli import main
    from safetensors.torch import load_file

    data = tmp_path / "midi"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        write_midi_piece(data / f"piece{i}.mid", rng)
    common = [str(data), "--from-scratch", "--steps", "4", "--batch", "2", "--seq-len", "32", "--threads", "1",
              "--checkpoint-every", "1", "-q"]
    assert main(["train-transformer", *common, "-o", str(tmp_path / "straight")]) == 0
    assert main(["train-transformer", *common, "--until", "2", "-o", str(tmp_path / "resumed")]) == 0
    assert json.loads((tmp_path / "resumed.ckpt.json").read_text())["step"] == 2
    halfway = json.loads((tmp_path / "resumed.json").read_text())["training"]
    assert halfway["steps"] == 2 and halfway["finished"] is False
    assert main(["train-transformer", *common, "--resume", "-o", str(tmp_path / "resumed")]) == 0
    a, b = load_file(str(tmp_path / "straight.safetensors")), load_file(str(tmp_path / "resumed.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    config = json.loads((tmp_path / "resumed.json").read_text())
    assert config["training"]["steps"] == 4 and config["training"]["finished"] is True
    assert config["training"]["train_pieces"] == 2
    # the default is to fine-tune the shipped model: same architecture as the shipped one
    assert main(["train-transformer", str(data), "--steps", "1", "--batch", "1", "--seq-len", "16",
                 "--threads", "1", "-q", "-o", str(tmp_path / "tuned")]) == 0
    shipped = json.loads(SHIPPED.with_suffix(".json").read_text())
    tuned = json.loads((tmp_path / "tuned.json").read_text())
    assert {k: tuned[k] for k in ("d_model", "n_layers", "max_len")} == \
        {k: shipped[k] for k in ("d_model", "n_layers", "max_len")}
    assert tuned["training"]["init"].endswith("chorales.safetensors")
