"""Non-negative least-squares mel inversion against librosa's ``mel_to_stft`` (independent code)."""

from __future__ import annotations

import librosa
import numpy as np
import torch

from audiokit.frontend import MelInverse, mel_filterbank, mel_to_magnitude


def _harmonic_magnitudes(sr: int = 16000, n_fft: int = 1024) -> np.ndarray:
    t = np.arange(sr) / sr
    rng = np.random.default_rng(0)
    x = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 55)) + 0.01 * rng.standard_normal(sr)
    return np.abs(librosa.stft(x, n_fft=n_fft, hop_length=80, win_length=320))


def test_mel_inverse_matches_librosa():
    sr, n_fft = 16000, 1024
    S = _harmonic_magnitudes(sr, n_fft)
    B = mel_filterbank(sr, n_fft, 80, 0.0, 8000.0).double().numpy()
    M = B @ S
    ref = librosa.feature.inverse.mel_to_stft(M, sr=sr, n_fft=n_fft, power=1.0, fmax=8000)
    ours = MelInverse(torch.from_numpy(B))(torch.from_numpy(M)).numpy()
    assert ours.min() >= 0.0
    residual = lambda X: np.linalg.norm(B @ X - M) / np.linalg.norm(M)  # noqa: E731
    assert residual(ours) <= residual(ref) * 1.01 + 1e-6  # at least as consistent with the mel
    assert np.linalg.norm(ours - ref) / np.linalg.norm(ref) < 0.01
    # the functional form is the same computation
    torch.testing.assert_close(
        mel_to_magnitude(torch.from_numpy(M), torch.from_numpy(B)), torch.from_numpy(ours)
    )


def test_mel_inverse_buffers_not_saved_and_batched():
    B = mel_filterbank(16000, 512, 40, 0.0, 8000.0)
    inv = MelInverse(B)
    assert inv.state_dict() == {}
    mel = torch.rand(3, 40, 7)
    out = inv(mel)
    assert out.shape == (3, 257, 7)
    torch.testing.assert_close(out[1], inv(mel[1:2])[0])
