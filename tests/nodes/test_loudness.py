"""A-weighted loudness (DDSP's definition) and RMS against librosa on whole files."""
import librosa
import numpy as np
import pytest

from neuropatch.engine.testing import run_node
from neuropatch.nodes.spectral.loudness import Loudness


def ddsp_loudness(x, sr, n_fft, hop, ref_db, range_db):
    """DDSP compute_loudness (magenta/ddsp spectral_ops.py) on librosa frames of the
    input left-padded with n_fft - hop zeros (this engine's framing); [frames]."""
    padded = np.pad(x, (n_fft - hop, 0))
    amplitude = np.abs(librosa.stft(padded, n_fft=n_fft, hop_length=hop, center=False))
    power_db = 20.0 * np.log10(np.maximum(1e-20, amplitude))
    with np.errstate(divide="ignore"):
        weighting = librosa.A_weighting(librosa.fft_frequencies(sr=sr, n_fft=n_fft))
    loudness = np.maximum(power_db + weighting[:, None] - ref_db, -range_db)
    return loudness.mean(axis=0)


def enveloped_tone(sr, seconds=0.6):
    rng = np.random.default_rng(7)
    t = np.arange(int(sr * seconds)) / sr
    env = np.minimum(1.0, t * 4) * (0.2 + 0.8 * (t > 0.3))
    x = env * (0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * rng.standard_normal(t.size))
    x[: int(0.05 * sr)] = 0.0  # a silent start exercises the -range_db floor
    return x.astype(np.float32)


@pytest.mark.parametrize("block", [1, 17, 256])
@pytest.mark.parametrize("sr,n_fft,hop,ref_db,range_db", [(48000, 2048, 192, 20.7, 120.0),
                                                         (16000, 512, 64, 0.0, 80.0),
                                                         (44100, 1024, 441, 20.7, 120.0)])
def test_loudness_matches_ddsp_definition_with_librosa(sr, n_fft, hop, ref_db, range_db, block):
    x = enveloped_tone(sr)
    node = Loudness()
    for k, v in dict(n_fft=n_fft, hop=hop, ref_db=ref_db, range_db=range_db).items():
        node.set_param(k, v)
    out = run_node(node, {"in": x[None]}, sr, block)
    ref = ddsp_loudness(x, sr, n_fft, hop, ref_db, range_db)
    ours = out["out"][:, 0, 0]
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    rms = librosa.feature.rms(y=np.pad(x, (n_fft - hop, 0)), frame_length=n_fft, hop_length=hop, center=False)[0]
    np.testing.assert_allclose(out["rms"][:, 0, 0], rms, rtol=1e-4, atol=1e-4 * rms.max())


def test_loudness_of_silence_is_the_range_floor_and_rms_is_zero():
    out = run_node(Loudness(), {"in": np.zeros((2, 4800), np.float32)}, 48000, 256)
    assert out["out"].shape[1] == 2
    np.testing.assert_allclose(out["out"], -120.0)
    assert np.all(out["rms"] == 0.0)


def test_white_noise_of_unit_amplitude_reads_about_zero_db():
    # DDSP's ref_db 20.7 is chosen so that this reads ~0 dB at n_fft 2048
    x = np.random.default_rng(0).uniform(-1, 1, 48000).astype(np.float32)
    out = run_node(Loudness(), {"in": x[None]}, 16000, 256)
    assert abs(float(np.mean(out["out"][20:, 0, 0]))) < 3.0
