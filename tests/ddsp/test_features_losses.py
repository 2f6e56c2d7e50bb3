"""Loudness (both definitions), power, f0 alignment and the spectral loss (ddsp.md §1.11-1.12, §3.1
items 10-11)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from audiokit import ddsp
from audiokit.ddsp import features
from audiokit.ddsp.losses import SpectralLoss

SR = 16000


def _sine(freq=1013.0, amp=1.0, seconds=1.0, sr=SR):
    t = torch.arange(int(sr * seconds), dtype=torch.float64) / sr
    return (amp * torch.sin(2 * math.pi * freq * t)).float()


def test_loudness_current_definition_vectors():
    mid = slice(10, -10)
    assert float(features.compute_loudness(_sine())[mid].median()) == pytest.approx(19.8, abs=0.1)
    assert float(features.compute_loudness(_sine(amp=0.1))[mid].median()) == pytest.approx(-0.2, abs=0.1)
    noise = torch.rand(SR, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert float(features.compute_loudness(noise)[mid].median()) == pytest.approx(18.2, abs=0.2)
    silence = features.compute_loudness(torch.zeros(SR))
    assert silence.shape == (1 + SR // 64,) and float(silence.max()) == -80.0


def test_loudness_legacy_definition_vectors():
    mid = slice(10, -40)
    assert float(features.compute_loudness_legacy(_sine())[mid].median()) == pytest.approx(-109, abs=1.0)
    assert float(features.compute_loudness_legacy(_sine(amp=0.1))[mid].median()) == pytest.approx(
        -115, abs=1.0
    )
    noise = torch.rand(SR, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert float(features.compute_loudness_legacy(noise)[mid].median()) == pytest.approx(0.3, abs=0.5)
    silence = features.compute_loudness_legacy(torch.zeros(SR))
    assert silence.shape == (SR // 64,) and float(silence.max()) == -120.0


def test_loudness_matches_an_independent_numpy_computation():
    import librosa

    x = torch.randn(3000, generator=torch.Generator().manual_seed(2)).double().numpy() * 0.3
    pad = np.pad(x, 256)
    frames = np.lib.stride_tricks.sliding_window_view(pad, 512)[::64]
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(512) / 512)
    power = np.abs(np.fft.rfft(frames * win)) ** 2
    aw = librosa.A_weighting(librosa.fft_frequencies(sr=SR, n_fft=512))
    expect = np.maximum(10 * np.log10(np.maximum((power * 10 ** (aw / 10)).mean(1), 1e-8)), -80)
    got = features.compute_loudness(torch.from_numpy(x).float()).double().numpy()
    np.testing.assert_allclose(got, expect, atol=1e-3)


def test_power_and_batch_shapes():
    x = torch.stack([_sine(amp=1.0), _sine(amp=0.5)])
    p = features.compute_power(x)
    assert p.shape == (2, 1 + SR // 64)
    assert float(p[0, 50]) == pytest.approx(10 * math.log10(0.5), abs=0.05)  # RMS^2 of a unit sine
    assert float(p[0, 50] - p[1, 50]) == pytest.approx(20 * math.log10(2), abs=0.05)
    assert features.compute_loudness(x).shape == (2, 1 + SR // 64)


def test_fill_unvoiced_interpolates_in_midi():
    f0 = np.array([0.0, 220.0, 0.0, 880.0, 0.0])
    out = features.fill_unvoiced(f0, f0 > 0)
    np.testing.assert_allclose(out, [220.0, 220.0, 440.0, 880.0, 880.0])


def test_extract_features_alignment_and_pyin_accuracy():
    f0_true = 300.0
    x = 0.5 * _sine(f0_true, seconds=0.6)
    feats = features.extract_features(x, SR, 250, fmin=150.0, fmax=600.0)
    assert all(v.shape == (x.numel() // 64,) for v in feats.values())
    mid = slice(20, -20)
    assert np.abs(feats["f0_hz"][mid] - f0_true).max() < 3.0
    assert feats["f0_confidence"][mid].min() == 1.0
    assert np.abs(feats["loudness_db"][mid] - float(features.compute_loudness(x)[40])).max() < 0.5


def test_extract_features_pluggable_extractor_and_errors():
    calls = {}

    def fake(audio, sr, hop):
        calls["args"] = (audio.shape, sr, hop)
        n = 1 + audio.size // hop
        return np.full(n, 123.0), np.ones(n)

    feats = features.extract_features(np.zeros(6400), SR, 250, f0_extractor=fake)
    assert calls["args"] == ((6400,), SR, 64)
    assert feats["f0_hz"].shape == (100,) and float(feats["f0_hz"][0]) == 123.0
    with pytest.raises(ValueError, match="NaN"):
        features.extract_features(np.full(1000, np.nan), SR)
    with pytest.raises(ValueError, match="mono"):
        features.extract_features(np.zeros((2, 1000)), SR)
    with pytest.raises(ValueError, match="shorter"):
        features.extract_features(np.zeros(10), SR)


def test_spectral_loss_identities():
    loss = SpectralLoss()
    x = torch.randn(2, 4000, generator=torch.Generator().manual_seed(0))
    y = torch.randn(2, 4000, generator=torch.Generator().manual_seed(1))
    assert float(loss(x, x)) == 0.0
    assert float(loss(torch.zeros(1, 4000), torch.zeros(1, 4000))) == 0.0
    assert float(loss(x, y)) == pytest.approx(float(loss(y, x)), rel=1e-6)
    # loss(x, 0) = sum over sizes of mean|S_x| + mean|log S_x - log 1e-5|
    expect = 0.0
    for stft in loss.stfts:
        s = stft(x).abs()
        expect += float(s.mean()) + float((ddsp.core.safe_log(s) - math.log(1e-5)).abs().mean())
    assert float(loss(x, torch.zeros_like(x))) == pytest.approx(expect, rel=1e-5)


def test_spectral_loss_sine_peak_and_weights():
    n = 2048
    sine = _sine(freq=100 * SR / n, seconds=1.0)  # on the centre of bin 100
    mag = SpectralLoss(fft_sizes=(n,)).magnitudes(sine[None])[0]
    assert float(mag[0, :, 4:-4].max()) == pytest.approx(n / 4, rel=1e-3)
    x, y = torch.randn(1, 2000), torch.randn(1, 2000)
    lin = SpectralLoss(logmag_weight=0.0)(x, y)
    log_only = SpectralLoss(mag_weight=0.0)(x, y)
    total, parts = SpectralLoss(
        delta_time_weight=1.0, delta_freq_weight=1.0, cumsum_freq_weight=1.0, loudness_weight=1.0
    )(x, y, return_parts=True)
    assert float(parts["mag"]) == pytest.approx(float(lin), rel=1e-5)
    assert float(parts["logmag"]) == pytest.approx(float(log_only), rel=1e-5)
    assert set(parts) == {"mag", "logmag", "delta_time", "delta_freq", "cumsum_freq", "loudness"}
    assert float(total) == pytest.approx(sum(float(v) for v in parts.values()), rel=1e-5)
    with pytest.raises(ValueError):
        SpectralLoss(loss_type="L3")


def test_spectral_loss_gradient_drives_synth_toward_target():
    target = ddsp.harmonic(
        torch.full((1, 25), 440.0),
        torch.full((1, 25), 0.5),
        torch.tensor([[[1.0, 0.5, 0.25]]]).expand(1, 25, 3),
    )
    logits = torch.zeros(1, 25, 3, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=0.1)
    loss_fn = SpectralLoss(fft_sizes=(256, 128))
    first = None
    for _ in range(20):
        audio = ddsp.harmonic(torch.full((1, 25), 440.0), torch.full((1, 25), 0.5), torch.softmax(logits, -1))
        loss = loss_fn(target, audio)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first
