"""Amplitude, real/imaginary, complex and STFT-consistency losses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from audiokit.frontend import STFT, amplitude_phase, spectrum_from_amplitude_phase
from audiokit.losses import (
    STFTConsistencyLoss,
    amplitude_loss,
    complex_mse_loss,
    real_imag_loss,
    stft_consistency_loss,
)
from tests.losses.seeded import seeded_spectra

OFFICIAL = json.loads((Path(__file__).parents[1] / "data" / "official" / "losses.json").read_text())["values"]


def test_hand_values():
    t = torch.full((1, 2, 3), 1 + 2j, dtype=torch.complex64)
    p = torch.zeros_like(t)
    assert amplitude_loss(t.real, p.real).item() == pytest.approx(1.0)
    assert [x.item() for x in real_imag_loss(t, p)] == pytest.approx([1.0, 2.0])
    assert complex_mse_loss(t, p).item() == pytest.approx((1 + 4) / 2)
    assert stft_consistency_loss(t, p, "apnet").item() == pytest.approx(5.0)
    assert stft_consistency_loss(t, p, "ap_bwe").item() == pytest.approx(2.5)
    with pytest.raises(ValueError, match="form"):
        stft_consistency_loss(t, p, "l2")
    with pytest.raises(ValueError, match="shapes differ"):
        amplitude_loss(t.real, p.real[..., :2])


def test_matches_numpy_and_official():
    a, b = seeded_spectra()
    an, bn = a.numpy().astype(np.complex128), b.numpy().astype(np.complex128)
    assert amplitude_loss(a.real, b.real).item() == pytest.approx(np.mean((an.real - bn.real) ** 2), rel=1e-6)
    assert amplitude_loss(a.real, b.real).item() == pytest.approx(OFFICIAL["apnet_amplitude"], rel=1e-6)
    lr, li = real_imag_loss(a, b)
    assert lr.item() == pytest.approx(np.abs(an.real - bn.real).mean(), rel=1e-6)
    assert [lr.item(), li.item()] == pytest.approx([OFFICIAL["apnet_real"], OFFICIAL["apnet_imag"]], rel=1e-6)
    d2 = np.abs(an - bn) ** 2
    assert stft_consistency_loss(a, b, "apnet").item() == pytest.approx(d2.mean(), rel=1e-6)
    assert stft_consistency_loss(a, b, "apnet").item() == pytest.approx(
        OFFICIAL["apnet_consistency"], rel=1e-6
    )
    assert complex_mse_loss(a, b).item() == pytest.approx(d2.mean() / 2, rel=1e-6)
    assert complex_mse_loss(a, b).item() == pytest.approx(OFFICIAL["ap_bwe_complex_mse"], rel=1e-6)
    assert stft_consistency_loss(a, b, "ap_bwe").item() == pytest.approx(
        OFFICIAL["ap_bwe_complex_mse"], rel=1e-6
    )


def test_consistency_is_zero_for_a_consistent_spectrum():
    stft = STFT(256, 64, 160)
    y = torch.randn(2, 64 * 40)
    spec = stft(y)
    wav = stft.inverse(spec)  # hop * (N - 1) samples, as the generators produce
    loss = STFTConsistencyLoss(stft, "apnet")(spec, wav)
    assert loss.item() < 1e-10 * spec.abs().square().mean().item()


def test_consistency_penalises_an_inconsistent_spectrum():
    stft = STFT(256, 64, 160)
    spec = torch.randn(2, 129, 41, dtype=torch.complex64, requires_grad=True)
    wav = stft.inverse(spec)
    loss = STFTConsistencyLoss(stft, "apnet")(spec, wav)
    # a random spectrum is far from any STFT: the projection removes a large share of its energy
    assert loss.item() > 0.2 * spec.detach().abs().square().mean().item()
    loss.backward()
    assert torch.isfinite(spec.grad).all() and spec.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="ISTFT"):
        STFTConsistencyLoss(stft)(spec, wav[:, :-64])


def test_ap_bwe_reanalysis_goes_through_log_amplitude():
    stft = STFT(256, 64, 160)
    y = torch.randn(1, 64 * 30)
    loss = STFTConsistencyLoss(stft, "ap_bwe")
    got = loss.reanalyse(y)
    x = stft(y)
    torch.testing.assert_close(got.abs(), x.abs() + 1e-4, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got, spectrum_from_amplitude_phase(*amplitude_phase(x, 1e-4)))
    # and the loss equals the stacked-MSE form on that re-analysis
    pred = spectrum_from_amplitude_phase(*amplitude_phase(x, 1e-4))
    wav = stft.inverse(pred)
    want = complex_mse_loss(pred, loss.reanalyse(wav))
    assert loss(pred, wav).item() == pytest.approx(want.item(), rel=1e-6)
