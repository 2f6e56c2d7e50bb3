"""The analysis-resynthesis floor (audiokit.ddsp.evaluation.analysis_resynthesis) against a signal whose
harmonic amplitudes are known, and the octave-folded pitch-following measure against closed forms."""

from __future__ import annotations

import numpy as np
import torch

from audiokit.ddsp.evaluation import analysis_resynthesis, pitch_following

SR = 16000


def _amplitude(y: np.ndarray, f: float) -> float:
    """Amplitude of the sinusoid at ``f`` in ``y`` (Hann-windowed DTFT at f, exact for a steady tone)."""
    w = np.hanning(y.size)
    return float(2 * np.abs((y * w * np.exp(-2j * np.pi * f * np.arange(y.size) / SR)).sum()) / w.sum())


def test_harmonic_amplitudes_are_measured_and_resynthesised():
    f0, amps = 220.0, (0.3, 0.1, 0.05, 0.02)
    t = np.arange(SR) / SR
    x = sum(a * np.sin(2 * np.pi * (k + 1) * f0 * t + k) for k, a in enumerate(amps))
    y = analysis_resynthesis(
        torch.tensor(x), torch.full((250,), f0), SR, generator=torch.Generator().manual_seed(0)
    )
    assert y.shape == (250 * 64,)
    mid = y[4000:12000].double().numpy()
    for k, a in enumerate(amps):
        # within 6 %: the short (4-period) analysis window leaks a little between harmonics
        assert abs(_amplitude(mid, (k + 1) * f0) - a) < 0.06 * a
    # between the harmonics the noise branch (power the harmonics do not explain) stays 40 dB down
    spec = np.abs(np.fft.rfft(mid * np.hanning(mid.size)))
    bins = np.fft.rfftfreq(mid.size, 1 / SR)
    off = np.all(np.abs(bins[:, None] - f0 * np.arange(1, 37)) > 30, axis=1)
    assert spec[off].max() < 1e-2 * spec.max()


def test_pitch_following_folds_octaves():
    f_in = np.full(100, 100.0)
    voiced = np.ones(100)
    f_out = f_in * 8 * 2 ** (np.linspace(-30, 30, 100) / 1200)  # three octaves up, +-30 cents
    m = pitch_following(f_in, voiced, f_out, voiced)
    np.testing.assert_allclose(m["median_cents"], np.median(np.abs(np.linspace(-30, 30, 100))), atol=1e-9)
    assert m["within_50"] == 1.0 and m["frames"] == 100
    # 700 cents off folds to 500 (the nearer octave), unvoiced frames are ignored
    v_out = np.ones(100)
    v_out[:50] = 0
    m = pitch_following(f_in, voiced, f_in * 2 ** (7 / 12), v_out)
    np.testing.assert_allclose(m["median_cents"], 500.0, atol=1e-9)
    assert m["frames"] == 50 and m["within_50"] == 0.0
