import math

import numpy as np
import pytest
import scipy.signal
import torch

from audiokit import metrics
from tests.conftest import tone


def test_snr_constructed():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16000)
    noise = rng.standard_normal(16000)
    noise *= np.linalg.norm(x) / np.linalg.norm(noise) / 10 ** (20 / 20)  # exactly 20 dB
    assert metrics.snr(x, x + noise) == pytest.approx(20.0, abs=1e-9)
    assert metrics.snr(x, x) == pytest.approx(20 * np.log10(np.linalg.norm(x) / 1e-8))


def test_si_sdr_scale_invariant_and_closed_form():
    rng = np.random.default_rng(1)
    s = rng.standard_normal(8000)
    s -= s.mean()
    n = rng.standard_normal(8000)
    n -= n.mean()
    n -= np.dot(n, s) / np.dot(s, s) * s  # orthogonal to s
    n *= np.linalg.norm(s) / np.linalg.norm(n) / 10 ** (10 / 20)
    est = 0.3 * (s + n)
    assert metrics.si_sdr(s, est) == pytest.approx(10.0, abs=1e-6)
    assert metrics.si_sdr(s, 5 * est) == pytest.approx(10.0, abs=1e-6)


def _lsd_reference(ref, est, n_fft=2048, hop=512, eps=1e-8, sel=None):
    w = scipy.signal.get_window("hann", n_fft, fftbins=True)

    def power(x):
        xp = np.pad(x, (n_fft // 2, n_fft // 2), mode="reflect")
        n = 1 + (len(xp) - n_fft) // hop
        fr = np.stack([xp[i * hop : i * hop + n_fft] * w for i in range(n)], 1)
        return np.abs(np.fft.rfft(fr, axis=0)) ** 2

    a = np.log10(np.maximum(power(ref), eps))
    b = np.log10(np.maximum(power(est), eps))
    if sel is not None:
        a, b = a[sel], b[sel]
    return np.mean(np.sqrt(np.mean((b - a) ** 2, axis=0)))


def test_lsd_identical_and_known_offset(speech16k):
    x = speech16k[0].double().numpy()[:32000]
    assert metrics.lsd(x, x) == 0.0
    # a gain g scales power by g^2: log10 offset of exactly 2 log10 g in every bin above the floor
    g = 0.5
    x_loud = x + 1e-3 * np.random.default_rng(0).standard_normal(len(x))  # keep every bin above 1e-8
    assert metrics.lsd(x_loud, g * x_loud) == pytest.approx(2 * abs(np.log10(g)), rel=1e-4)


def test_lsd_matches_independent_implementation(speech16k):
    x = speech16k[0].numpy()[:32000].astype(np.float64)
    y = scipy.signal.lfilter(*scipy.signal.butter(8, 4000, fs=16000), x)
    assert metrics.lsd(x, y) == pytest.approx(_lsd_reference(x, y), rel=1e-5)
    freqs = np.fft.rfftfreq(2048, 1 / 16000)
    hf = metrics.lsd(x, y, 16000, band=(4000, 8000))
    assert hf == pytest.approx(_lsd_reference(x, y, sel=freqs >= 4000), rel=1e-5)
    assert hf > metrics.lsd(x, y)  # the damage is in the high band


def test_pesq_and_stoi(speech16k):
    x, sr = speech16k
    assert metrics.pesq(x, x, sr) > 4.5
    noisy = x + 0.05 * torch.randn_like(x)
    assert 1.0 < metrics.pesq(x, noisy, sr) < 3.5
    assert metrics.stoi(x, x, sr) == pytest.approx(1.0, abs=1e-6)
    assert metrics.stoi(x, noisy, sr) < metrics.stoi(x, x, sr)
    assert metrics.estoi(x, noisy, sr) < metrics.stoi(x, noisy, sr) + 0.2
    from pesq import pesq as ref_pesq

    assert metrics.pesq(x, noisy, sr) == pytest.approx(
        ref_pesq(16000, x.double().numpy(), noisy.double().numpy(), "wb")
    )


def test_pesq_resamples_other_rates(speech48k):
    x, sr = speech48k
    assert metrics.pesq(x, x, sr) > 4.4
    assert metrics.pesq(x, x, sr, mode="nb") > 4.0


def test_pesq_refuses_inputs_the_library_would_crash_on(speech16k, tmp_path):
    """The pesq package segfaults on ~150 s of audio (the process dies, and a batch with it): over
    PESQ_MAX_SECONDS it is a ValueError, and `audiokit eval` records that file as failed and goes on."""
    x, sr = speech16k
    n = int(metrics.PESQ_MAX_SECONDS * sr) + sr
    long = x.repeat(n // x.numel() + 1)[:n]
    with pytest.raises(ValueError, match=r"PESQ: 121 s of audio.*segments of at most 120 s"):
        metrics.pesq(long, long, sr)
    assert metrics.pesq(long[: 20 * sr], long[: 20 * sr], sr) > 4.5  # shorter inputs still score


def test_mcd_zero_and_positive(speech16k):
    x, sr = speech16k
    assert metrics.mcd(x, x, sr) == 0.0
    y = torch.from_numpy(scipy.signal.lfilter(*scipy.signal.butter(4, 2000, fs=sr), x.double().numpy()))
    assert metrics.mcd(x, y, sr) > 1.0


def test_mcd_closed_form_for_flat_gain(speech16k):
    """A gain g shifts only c0 of a log-mel cepstrum, which MCD excludes: MCD ~ 0."""
    x, sr = speech16k
    assert metrics.mcd(x, 0.5 * x, sr) < 1e-4


def test_f0_rmse_and_vuv():
    sr = 16000
    a = tone(200.0, sr, 1.0)
    b = tone(200.0 * 2 ** (50 / 1200), sr, 1.0)  # +50 cents
    assert metrics.f0_rmse(a, b, sr) == pytest.approx(50.0, abs=6.0)
    assert metrics.f0_rmse(a, a, sr) < 1.0
    assert metrics.vuv_error(a, a, sr) == 0.0
    silence_tail = a.clone()
    silence_tail[sr // 2 :] = 0.0
    assert metrics.vuv_error(a, silence_tail, sr) == pytest.approx(0.5, abs=0.08)
    assert math.isnan(metrics.f0_rmse(torch.zeros(sr), torch.zeros(sr), sr))


def test_bad_inputs():
    with pytest.raises(ValueError, match="mono"):
        metrics.snr(np.zeros((2, 100)), np.zeros((2, 100)))
    with pytest.raises(ValueError, match="NaN"):
        metrics.snr(np.array([1.0, np.nan]), np.ones(2))
    with pytest.raises(ValueError, match="empty"):
        metrics.snr(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.compute(["nope"], np.ones(10), np.ones(10), 16000)
