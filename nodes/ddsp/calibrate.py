"""A trained decoder's onset lead: how far ahead of its frames' time it starts notes.

The feature nodes' frames describe their analysis window's centre but see ``n_fft // 2``
samples past it (their lookahead). Trained to render each frame's centre, a decoder
learns to start a note as soon as the note enters the window, so its output's onsets
come earlier than the chain's nominal latency (the features' ``n_fft // 2`` plus the
synths' hop). How much earlier (for notes that start from silence) is a property of the trained model, so it is measured
after training: held-out recordings run through the deployed chain (the product's own
nodes: feature.pitch + feature.loudness [+ ddsp.timbre] -> ddsp.synth), and the lag that
lines up input and output onsets (:mod:`.onsets`) is compared with the nominal latency.

The model config stores ``onset_lead`` (samples; positive = onsets come early),
``onset_lookahead`` (the loudness frames' lookahead it was measured with) and
``onset_notes`` (how many notes it was measured on). ddsp.decoder
and ddsp.synth subtract the lead from their latency when their loudness frames have that
lookahead, so the chain reports the delay a listener hears at note onsets; frames from
elsewhere (midi.to_controls: no lookahead) get no lead.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .onsets import after_silence, lag_scores, onset_strength

MAX_LAG = 4000
MIN_NOTES = 8


def onset_lead_for(config: dict, loudness_spec) -> int:
    """The calibrated lead (samples) that applies to loudness frames with ``loudness_spec``
    (a StreamSpec or None): the config's ``onset_lead`` when the frames' lookahead is the
    one it was measured with, else 0."""
    lead, lookahead = config.get("onset_lead"), config.get("onset_lookahead")
    if lead is None or loudness_spec is None or loudness_spec.lookahead != lookahead:
        return 0
    return int(lead)


def chain_patch(model_path, config: dict) -> dict:
    """The deployed chain for ``model_path``: audio in -> feature.pitch + feature.loudness
    (the model's feature settings) [+ ddsp.timbre for models with a timbre latent] ->
    ddsp.synth (learned reverb off: it only blurs the onsets) -> out."""
    feats = config["features"]
    nodes = [{"id": "in", "type": "io.audio_in"},
             {"id": "pitch", "type": "feature.pitch", "params": {"frame_length": int(feats["n_fft"]),
                                                                 "hop": int(feats["hop"]), "fmin": feats["fmin"]}},
             {"id": "loud", "type": "feature.loudness", "params": {"n_fft": int(feats["n_fft"]), "hop": int(feats["hop"])}},
             {"id": "synth", "type": "ddsp.synth", "params": {"reverb_db": -60.0},
              "resources": {"model": {"path": str(model_path)}}},
             {"id": "out", "type": "io.audio_out"}]
    edges = [{"from": ["in", "out"], "to": ["pitch", "in"]}, {"from": ["in", "out"], "to": ["loud", "in"]},
             {"from": ["pitch", "out"], "to": ["synth", "f0"]}, {"from": ["loud", "out"], "to": ["synth", "loudness"]},
             {"from": ["synth", "out"], "to": ["out", "in"]}]
    if int(config.get("z_dims", 0)):
        nodes.append({"id": "timbre", "type": "ddsp.timbre", "resources": {"model": {"path": str(model_path)}}})
        edges += [{"from": ["in", "out"], "to": ["timbre", "in"]}, {"from": ["timbre", "z"], "to": ["synth", "z"]}]
    return {"format": "neuropatch", "version": 1,
            "settings": {"sample_rate": int(config["sample_rate"]), "block_size": 256},
            "nodes": nodes, "edges": edges}


def measure_onset_lag(model_path, config: dict, recordings: list, spans: list | None = None) -> tuple:
    """(lag, notes): samples from the input's onsets to the chain's output onsets over
    ``recordings`` (objects with ``audio``, float32 [samples] at the model's rate), and
    how many notes starting from silence voted. ``spans``: per recording, (start, stop)
    sample ranges whose input onsets count (the held-out parts); None: all of them."""
    from neuropatch.engine import render
    from neuropatch.engine.patch import graph_from_dict

    graph = graph_from_dict(chain_patch(model_path, config))
    total, notes = np.zeros(MAX_LAG), 0
    for i, rec in enumerate(recordings):
        mask = after_silence(rec.audio, int(config["sample_rate"]))
        if spans is not None:
            held = np.zeros(len(rec.audio), bool)
            for start, stop in spans[i]:
                held[start:stop] = True
            mask &= held
        starts = int(np.count_nonzero(np.diff(mask.astype(np.int8)) == 1))
        if starts == 0:
            continue
        notes += starts
        y, _ = render(graph, rec.audio[None, :], compensate_latency=False)
        total += lag_scores(onset_strength(rec.audio, mask), onset_strength(y[0]), MAX_LAG)
    return int(np.argmax(total)), notes


def calibrate(model, recordings: list, spans: list | None = None) -> int | None:
    """Measure ``model``'s (a DDSPModel) onset lead over the notes of ``recordings`` that
    start from silence (within ``spans`` when at least MIN_NOTES of them lie there), store
    it in its config (``onset_lead``, ``onset_lookahead``, ``onset_notes``) and return it;
    None (config unchanged) when fewer than MIN_NOTES notes start from silence."""
    from .model import save_model

    config = {k: v for k, v in model.config.items() if k not in ("onset_lead", "onset_lookahead", "onset_notes")}
    n_fft, hop = int(config["features"]["n_fft"]), int(config["hop"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "uncalibrated.safetensors"
        save_model(path, type(model)(config, model.tensors))
        lag, notes = measure_onset_lag(path, config, recordings, spans)
        if notes < MIN_NOTES and spans is not None:
            lag, notes = measure_onset_lag(path, config, recordings, None)
    if notes < MIN_NOTES:
        return None
    lead = n_fft // 2 + hop - lag
    model.config.update(onset_lead=int(lead), onset_lookahead=n_fft // 2, onset_notes=notes)
    return int(lead)


def held_out_spans(recordings: list, held_items: list, segment_frames: int, hop: int) -> list:
    """Per recording, the sample ranges of its held-out segments ((recording, first frame) items)."""
    spans = [[] for _ in recordings]
    for r, j in held_items:
        spans[r].append((j * hop, (j + segment_frames) * hop))
    return spans
