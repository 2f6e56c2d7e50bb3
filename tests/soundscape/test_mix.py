"""Feature-domain mixing: closed form, exact no-op, gain equivariance, broadcasting, and its error
against real waveform mixing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from audiokit.soundscape import features, fit_length, mel_power, mix_features, mix_power, mix_waveforms
from audiokit.soundscape.features import db_to_power, power_to_db


def test_closed_form_in_float64():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(2, 64, 30, dtype=torch.float64, generator=g) * 30 - 50
    m = torch.randn(1, 64, 30, dtype=torch.float64, generator=g) * 30 - 50
    for gain in (-20.0, -3.0, 0.0, 7.5):
        ref = 10 * np.log10(10 ** (s.numpy() / 10) + 10 ** ((m.numpy() + gain) / 10))
        assert np.abs(mix_features(s, m, gain).numpy() - ref).max() < 1e-10


def test_minus_inf_gain_is_an_exact_noop():
    s = torch.randn(2, 64, 30) * 20 - 60
    m = torch.randn(1, 64, 30) * 20 - 40
    assert torch.equal(mix_features(s, m, -math.inf), s)
    assert torch.equal(mix_power(db_to_power(s), db_to_power(m), -math.inf), db_to_power(s))
    out = mix_features(s, m, torch.tensor([-math.inf, 0.0]))
    assert torch.equal(out[0], s) and not torch.equal(out[1], s)
    x = torch.randn(2, 1000)
    assert torch.equal(mix_waveforms(x, torch.randn(1, 1000), -math.inf), x)


def test_gain_equivariance_6_db_is_four_times_the_power():
    s = torch.randn(2, 64, 20, dtype=torch.float64) * 10 - 50
    m = torch.randn(1, 64, 20, dtype=torch.float64) * 10 - 50
    six = 20 * math.log10(2.0)  # 6.02 dB of amplitude gain
    lhs = mix_features(s, m, six)
    rhs = 10 * torch.log10(db_to_power(s) + 4 * db_to_power(m))
    assert torch.allclose(lhs, rhs, atol=1e-9)
    # and the gain only ever enters as masker + gain
    assert torch.allclose(mix_features(s, m, 3.0), mix_features(s, m + 3.0, 0.0), atol=1e-12)


def test_broadcasting_all_maskers_times_all_gains():
    s = torch.randn(2, 64, 12) - 40
    m = torch.randn(5, 1, 1, 64, 12) - 40  # (M, 1, C=1, F, N): mono masker added to both ears
    g = torch.tensor([-6.0, 0.0, 6.0])
    out = mix_features(s, m, g)
    assert out.shape == (5, 3, 2, 64, 12)
    for i in range(5):
        for j in range(3):
            assert torch.allclose(out[i, j], mix_features(s, m[i, 0], g[j].item()), atol=1e-5)
    # a mono masker raises both ears by the same power
    p = mix_power(db_to_power(s), db_to_power(m[0, 0]), 0.0) - db_to_power(s)
    assert torch.allclose(p[0], p[1])
    assert torch.allclose(power_to_db(mix_power(db_to_power(s), db_to_power(m), g)), out, atol=1e-3)


@pytest.mark.parametrize(
    "s,m,match",
    [
        (torch.zeros(2, 64, 10), torch.zeros(1, 64, 11), "differ in"),
        (torch.zeros(2, 64, 10), torch.zeros(3, 64, 10), "channels"),
        (torch.zeros(64, 10), torch.zeros(64, 10), "must be"),
    ],
)
def test_shape_errors(s, m, match):
    with pytest.raises(ValueError, match=match):
        mix_features(s, m, 0.0)


def test_bad_gains():
    s, m = torch.zeros(2, 64, 10), torch.zeros(1, 64, 10)
    with pytest.raises(ValueError, match="NaN"):
        mix_features(s, m, float("nan"))
    with pytest.raises(ValueError, match=r"\+inf"):
        mix_features(s, m, math.inf)


def test_waveform_mix_loops_and_tiles_the_masker():
    s = torch.zeros(2, 10)
    m = torch.arange(4.0)
    y = mix_waveforms(s, m, 20 * math.log10(2.0))
    assert torch.allclose(y, 2 * torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 0, 1.0]).expand(2, -1))
    assert fit_length(torch.arange(10.0), 3).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="channels"):
        mix_waveforms(torch.zeros(2, 10), torch.zeros(3, 10), 0.0)


def test_exact_in_expectation_over_random_phase():
    """E|S + g M|^2 = |S|^2 + g^2 |M|^2 when the relative phase is random: averaged over many
    independent maskers, the mel power of waveform mixes converges to the feature-domain mix
    (the cross-term error falls like 1/sqrt(n))."""
    rng = np.random.default_rng(0)
    n, t, gain = 32, 22050, -3.0
    s = torch.from_numpy(rng.standard_normal((1, t)) * 0.1)
    m = torch.from_numpy(rng.standard_normal((n, t)) * 0.1)  # n independent maskers as channels
    ps, pm = mel_power(s, 44100).double(), mel_power(m, 44100).double()
    mixes = mel_power(s + 10 ** (gain / 20) * m, 44100).double()  # (n, F, N)
    pred = ps + 10 ** (gain / 10) * pm  # feature-domain mix of each realisation
    one = ((mixes - pred) / pred).abs().mean()
    avg = ((mixes.mean(0) - pred.mean(0)) / pred.mean(0)).abs().mean()
    assert avg < one / 3  # expected about one / sqrt(32) = one / 5.7
    assert avg < 0.03


def test_error_against_waveform_mixing_on_varied_material(scene, maskers):
    """Pinned from the measurement in docs/soundscape.md: median |error| well under 1 dB for
    independent sources at SMRs around 0."""
    x = torch.as_tensor(scene[0][:, : 2 * 44100])
    s_db = features(x, 44100)
    worst_median = 0.0
    for name in ("bird", "water", "wind", "traffic", "construction"):
        m = torch.as_tensor(maskers[name][0][:, : 2 * 44100])
        m_db = features(m, 44100)
        for gain in (-6.0, 0.0, 6.0):
            e = (mix_features(s_db, m_db, gain) - features(mix_waveforms(x, m, gain), 44100)).abs()
            worst_median = max(worst_median, float(e.median()))
            assert float(e.median()) < 0.6, (name, gain)
            assert float(e.quantile(0.95)) < 2.5, (name, gain)
    assert worst_median > 0.05  # the approximation is not exact: the test measures something


def test_correlated_sources_are_the_worst_case():
    """A masker equal to the soundscape adds coherently (+6 dB, not +3 dB): the feature-domain mix,
    which assumes independence, is then 3 dB low."""
    x = torch.randn(1, 44100) * 0.1
    e = mix_features(features(x, 44100), features(x, 44100), 0.0) - features(2 * x, 44100)
    assert torch.allclose(e, torch.full_like(e, -10 * math.log10(2.0)), atol=1e-3)
