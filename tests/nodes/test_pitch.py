"""Streaming YIN pitch on synthetic tones with vibrato, rendered instrument notes and noise."""
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from neuropatch.engine.testing import run_node
from neuropatch.nodes.spectral.pitch import Pitch

SR = 48000
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


def make_pitch(**params):
    node = Pitch()
    for k, v in params.items():
        node.set_param(k, v)
    return node


def frame_centres(n_frames, frame_length, hop):
    """Sample index at the centre of each frame (frame k covers [k*hop+hop-N, k*hop+hop))."""
    k = np.arange(n_frames)
    return k * hop + hop - frame_length // 2


def cents(a, b):
    return 1200.0 * np.abs(np.log2(np.maximum(a, 1e-6) / b))


def vibrato_tone(f0, seconds=1.5, harmonics=6, depth_cents=50.0, rate_hz=5.5, seed=0):
    """Band-limited harmonic tone with vibrato: (audio float32 [samples], f0 Hz [samples])."""
    t = np.arange(int(SR * seconds)) / SR
    f = f0 * 2.0 ** (depth_cents / 1200.0 * np.sin(2 * np.pi * rate_hz * t))
    phase = 2 * np.pi * np.cumsum(f) / SR
    rng = np.random.default_rng(seed)
    x = np.zeros_like(t)
    for h in range(1, harmonics + 1):
        if h * f0 * 1.05 < SR / 2:
            x += rng.uniform(0.3, 1.0) / h * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32), f


@pytest.mark.parametrize("block", [1, 17, 256])
@pytest.mark.parametrize("f0", [82.4, 196.0, 440.0, 987.8, 1760.0])
def test_pitch_tracks_vibrato_tones_within_50_cents(f0, block):
    x, truth = vibrato_tone(f0, seconds=1.0 if block == 1 else 1.5)
    node = make_pitch(fmin=50.0, fmax=2000.0)
    out = run_node(node, {"in": x[None]}, SR, block)
    est = out["out"][:, 0, 0]
    centres = frame_centres(est.size, 2048, 256)
    keep = centres >= 2048  # frames fully inside the tone
    err = cents(est[keep], truth[centres[keep]])
    assert np.mean(err < 50.0) >= 0.95, f"only {np.mean(err < 50):.1%} of frames within 50 cents"
    assert np.all(out["confidence"][keep] > 0.8)


def test_pitch_flags_white_and_pink_noise_unvoiced():
    rng = np.random.default_rng(11)
    white = rng.standard_normal(SR).astype(np.float32) * 0.3
    pink = np.cumsum(rng.standard_normal(SR)).astype(np.float32)
    pink = (pink - np.convolve(pink, np.ones(64) / 64, mode="same")).astype(np.float32)  # remove drift
    for noise in (white, pink / np.max(np.abs(pink)) * 0.5):
        out = run_node(make_pitch(), {"in": noise[None]}, SR, 256)
        voiced = out["out"][8:, 0, 0] > 0
        assert voiced.mean() <= 0.05, f"{voiced.mean():.1%} of noise frames called voiced"
        assert np.median(out["confidence"][8:]) < 0.7


def test_pitch_of_silence_is_unvoiced_with_zero_confidence():
    out = run_node(make_pitch(), {"in": np.zeros((2, 8192), np.float32)}, SR, 64)
    assert out["out"].shape[1] == 2
    assert np.all(out["out"] == 0.0) and np.all(out["confidence"] == 0.0)


# ---- rendered instrument notes --------------------------------------------------------------

NOTES = [45, 52, 57, 62, 67, 72, 76, 81]       # A2 .. A5
PROGRAMS = {"violin": 40, "cello": 42, "trumpet": 56, "clarinet": 71, "flute": 73}
NOTE_S, GAP_S = 0.6, 0.25


def render_notes(tmp_path, program):
    """Render NOTES one after another with fluidsynth: (audio float32 [samples], note spans)."""
    import mido
    import soundfile as sf

    mid = mido.MidiFile(ticks_per_beat=480)  # 120 bpm: 960 ticks per second
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.Message("program_change", program=program, time=0))
    spans = []
    t = 0.0
    for note in NOTES:
        track.append(mido.Message("note_on", note=note, velocity=100, time=int(GAP_S * 960)))
        track.append(mido.Message("note_off", note=note, velocity=0, time=int(NOTE_S * 960)))
        t += GAP_S
        spans.append((t, t + NOTE_S, 440.0 * 2 ** ((note - 69) / 12)))
        t += NOTE_S
    midi_path, wav_path = tmp_path / f"p{program}.mid", tmp_path / f"p{program}.wav"
    mid.save(midi_path)
    subprocess.run(["fluidsynth", "-ni", "-R", "0", "-C", "0", "-g", "0.8", "-F", str(wav_path), "-r", str(SR),
                    str(SOUNDFONT), str(midi_path)], check=True, capture_output=True, timeout=120)
    audio, sr = sf.read(wav_path, dtype="float32", always_2d=True)
    assert sr == SR
    return audio.mean(axis=1), spans


@pytest.mark.parametrize("instrument", sorted(PROGRAMS))
def test_pitch_tracks_rendered_instrument_notes(instrument, tmp_path):
    assert shutil.which("fluidsynth") and SOUNDFONT.exists(), \
        "needs fluidsynth and the FluidR3_GM soundfont (apt install fluidsynth fluid-soundfont-gm)"
    audio, spans = render_notes(tmp_path, PROGRAMS[instrument])
    out = run_node(make_pitch(fmin=60.0, fmax=1500.0), {"in": audio[None]}, SR, 256)
    est = out["out"][:, 0, 0]
    starts = np.arange(est.size) * 256 + 256 - 2048
    truth = np.zeros(est.size)
    for onset, offset, hz in spans:
        # frames entirely inside the note, after a 100 ms attack
        inside = (starts >= (onset + 0.1) * SR) & (starts + 2048 <= offset * SR)
        truth[inside] = hz
    voiced = truth > 0
    assert voiced.sum() > 100
    within = cents(est[voiced], truth[voiced]) < 50.0
    assert within.mean() >= 0.95, f"{instrument}: only {within.mean():.1%} of voiced frames within 50 cents"
