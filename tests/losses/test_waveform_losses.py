"""Mel L1 and multi-resolution STFT losses on synthetic audio."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.signal import get_window

from audiokit.frontend import MelSpectrogram
from audiokit.losses import MelL1Loss, MultiResolutionSTFTLoss, mel_l1_loss


def _noisy_tones(n: int = 2, length: int = 8000) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    t = torch.arange(length) / 16000
    tones = torch.stack([0.5 * torch.sin(2 * math.pi * f * t) for f in (220.0, 440.0)][:n])
    return tones + 0.1 * torch.randn(n, length, generator=g)


def test_mel_l1_closed_form_for_a_gain():
    mel = MelSpectrogram(16000, 1024, 80, 320, f_max=8000)
    loss = MelL1Loss(mel)
    y = _noisy_tones()
    assert loss(y, y).item() == 0.0
    # doubling the waveform doubles every (loud) mel value: ln-mel difference ln 2 everywhere
    assert loss(2 * y, y).item() == pytest.approx(math.log(2), abs=1e-4)
    torch.testing.assert_close(loss(2 * y, target_mel=mel(y)), loss(2 * y, y))
    assert mel_l1_loss(mel(2 * y), mel(y)).item() == pytest.approx(math.log(2), abs=1e-4)
    with pytest.raises(ValueError, match="exactly one"):
        loss(y)


def _numpy_magnitude(x, n_fft, hop, win):
    """Centred, reflect-padded, Hann(win) zero-padded to n_fft; sqrt(max(|X|^2, 1e-7))."""
    w = np.zeros(n_fft)
    left = (n_fft - win) // 2
    w[left : left + win] = get_window("hann", win, fftbins=True)
    xp = np.pad(x, ((0, 0), (n_fft // 2, n_fft // 2)), mode="reflect")
    n = 1 + (xp.shape[-1] - n_fft) // hop
    frames = np.stack([xp[:, i * hop : i * hop + n_fft] for i in range(n)], -1)
    s = np.fft.rfft(frames * w[None, :, None], axis=1)
    return np.sqrt(np.maximum(np.abs(s) ** 2, 1e-7))


def _numpy_mrstft(pred, target, resolutions):
    sc, mag = 0.0, 0.0
    for res in resolutions:
        m, mh = _numpy_magnitude(target, *res), _numpy_magnitude(pred, *res)
        sc += np.linalg.norm(m - mh) / np.linalg.norm(m)
        mag += np.abs(np.log(m) - np.log(mh)).mean()
    k = len(resolutions)
    return sc / k, mag / k


def test_multi_resolution_stft_matches_numpy_and_closed_forms():
    res = ((512, 64, 256), (256, 32, 128), (1024, 128, 512))
    loss = MultiResolutionSTFTLoss(res)
    y = _noisy_tones()
    g = torch.Generator().manual_seed(2)
    y_hat = y + 0.05 * torch.randn(y.shape, generator=g)
    got = loss(y_hat, y)
    want = _numpy_mrstft(y_hat.double().numpy(), y.double().numpy(), res)
    assert got.spectral_convergence.item() == pytest.approx(want[0], rel=1e-4)
    assert got.log_magnitude.item() == pytest.approx(want[1], rel=1e-4)
    assert got.total.item() == pytest.approx(sum(want), rel=1e-4)
    same = loss(y, y)
    assert same.total.item() == 0.0
    double = loss(2 * y, y)  # ||M - 2M|| / ||M|| = 1 and |ln M - ln 2M| = ln 2
    assert double.spectral_convergence.item() == pytest.approx(1.0, abs=1e-4)
    assert double.log_magnitude.item() == pytest.approx(math.log(2), abs=1e-3)


def test_multi_resolution_stft_gradients_and_errors():
    loss = MultiResolutionSTFTLoss()
    y = _noisy_tones(1)
    y_hat = (y + 0.1).requires_grad_(True)
    loss(y_hat, y).total.backward()
    assert torch.isfinite(y_hat.grad).all() and y_hat.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="shapes differ"):
        loss(y[:, :-1], y)
    with pytest.raises(ValueError, match="resolution"):
        MultiResolutionSTFTLoss(())
