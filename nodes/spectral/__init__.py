"""Spectral and feature nodes: STFT, ISTFT, mel, pitch, loudness."""
