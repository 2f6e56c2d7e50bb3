"""Timbre transfer's auto-adjust (audiokit.ddsp.adjust) against closed forms: the octave shift to the
training register and the loudness quantile map, and how DDSPAutoencoder.adjust_controls uses them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from audiokit.ddsp.adjust import (
    QUANTILE_LEVELS,
    DataStatistics,
    data_statistics,
    match_loudness,
    octave_shift,
)
from audiokit.ddsp.model import DDSPAutoencoder, DDSPConfig, DecoderConfig


def _hz(midi: float | np.ndarray) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


@pytest.mark.parametrize(
    "voice_midi, target, expected",
    [
        (45.0, 69.0, 24.0),  # exactly two octaves below
        (39.35, 72.0, 36.0),  # 80 Hz voice, target C5: 32.65 semitones -> 3 octaves
        (69.0, 64.0, 0.0),  # 5 below: no shift is nearest
        (69.0, 62.0, -12.0),  # 7 below: one octave down leaves 5 semitones, nearer
        (80.0, 80.0, 0.0),
    ],
)
def test_octave_shift_is_the_nearest_octave(voice_midi, target, expected):
    f0 = _hz(np.full(50, voice_midi))
    assert octave_shift(f0, np.ones(50), target) == expected
    # the shift is 12 * round((target - mean) / 12) for the mean pitch of the voiced frames only
    f0_mixed = np.concatenate([f0, _hz(np.full(50, voice_midi + 30.0))])
    voiced = np.concatenate([np.ones(50), np.zeros(50)])
    assert octave_shift(f0_mixed, voiced, target) == 12.0 * math.floor((target - voice_midi) / 12 + 0.5)


def test_octave_shift_uses_the_mean_in_midi_and_ignores_unvoiced():
    midi = np.array([50.0, 52.0, 57.0, 61.0])  # mean 55
    assert octave_shift(_hz(midi), np.ones(4), 55.0 + 17.9) == 12.0
    assert octave_shift(_hz(midi), np.ones(4), 55.0 + 18.1) == 24.0
    assert octave_shift(_hz(midi), np.zeros(4), 80.0) == 0.0  # nothing voiced: no shift


def test_match_loudness_uniform_to_uniform_is_affine():
    a, b, c, d = -60.0, -20.0, -35.0, -5.0
    ld = np.linspace(a, b, 401)
    target = c + (d - c) * QUANTILE_LEVELS
    out = match_loudness(ld, np.ones_like(ld), target, quiet_db=0.0)
    np.testing.assert_allclose(out, c + (ld - a) * (d - c) / (b - a), atol=1e-9)
    # beyond the input's range the map continues with slope 1; unvoiced frames are lowered by quiet_db
    probe = np.array([a - 10.0, b + 4.0])
    full = np.concatenate([ld, probe])
    voiced = np.concatenate([np.ones_like(ld), np.zeros(2)])
    out2 = match_loudness(full, voiced, target, quiet_db=20.0)
    np.testing.assert_allclose(out2[-2:], [c - 10.0 - 20.0, d + 4.0 - 20.0], atol=1e-9)


def test_match_loudness_shifted_distribution_is_a_shift_and_constant_goes_to_the_median():
    rng = np.random.default_rng(0)
    ld = rng.normal(-40.0, 6.0, 2000)
    target = np.quantile(ld + 12.5, QUANTILE_LEVELS)
    out = match_loudness(ld, np.ones_like(ld), target, quiet_db=0.0)
    np.testing.assert_allclose(out, ld + 12.5, atol=1e-9)
    const = np.full(10, -50.0)
    np.testing.assert_allclose(match_loudness(const, np.ones(10), target, 0.0), np.median(target), atol=1e-12)
    with pytest.raises(ValueError, match="21 values"):
        match_loudness(ld, np.ones_like(ld), target[:5])


def test_data_statistics_closed_form_and_validation():
    midi = np.linspace(60.0, 72.0, 121)
    ld = np.linspace(-40.0, -10.0, 121)
    voiced = np.ones(121)
    voiced[:20] = 0  # ignored
    st = data_statistics([_hz(midi)], [voiced], [ld])
    np.testing.assert_allclose(st.f0_mean_midi, midi[20:].mean(), atol=1e-9)
    np.testing.assert_allclose(st.loudness_quantiles_db, np.quantile(ld[20:], QUANTILE_LEVELS), atol=1e-9)
    np.testing.assert_allclose([st.f0_low_midi, st.f0_high_midi], np.percentile(midi[20:], [5, 95]))
    with pytest.raises(ValueError, match="no voiced"):
        data_statistics([_hz(midi)], [np.zeros(121)], [ld])
    with pytest.raises(ValueError, match="non-decreasing"):
        DataStatistics(loudness_quantiles_db=[0.0] * 20 + [-1.0])


def _model(stats: DataStatistics | None) -> DDSPAutoencoder:
    cfg = DDSPConfig(
        reverb=False, decoder=DecoderConfig(rnn_channels=8, ch=8, layers_per_stack=0), data_stats=stats
    )
    return DDSPAutoencoder(cfg)


def test_adjust_controls_octave_and_quantiles_and_config_round_trip(tmp_path):
    target = list(-30.0 + 20.0 * QUANTILE_LEVELS)
    stats = DataStatistics(76.0, 65.0, 88.0, -20.0, target)
    m = _model(stats)
    f0 = _hz(np.full(100, 40.0))  # a low voice, 3 octaves below the mean (36 semitones)
    ld = np.linspace(-70.0, -50.0, 100)
    voiced = np.ones(100)
    voiced[-10:] = 0
    f0_out, ld_out, info = m.adjust_controls(f0, ld, voiced, pitch_shift=0.5, quiet_db=20.0)
    assert info["octave_shift"] == 36.0 and info["loudness"] == "quantiles"
    np.testing.assert_allclose(f0_out, _hz(np.full(100, 76.5)), rtol=1e-12)
    np.testing.assert_allclose(ld_out, match_loudness(ld, voiced, target, 20.0), atol=1e-12)
    # an explicit loudness shift replaces the matching; no auto-adjust: no octave shift either
    _, ld_s, info = m.adjust_controls(f0, ld, voiced, loudness_shift=10.0, quiet_db=0.0)
    np.testing.assert_allclose(ld_s, ld + 10.0)
    assert info["loudness"] == "shift" and info["loudness_shift"] == 10.0
    f0_n, _, info = m.adjust_controls(f0, ld, voiced, auto_adjust=False)
    assert info["octave_shift"] == 0.0 and np.allclose(f0_n, f0)
    # the statistics travel in config.json
    m.save_pretrained(tmp_path)
    m2 = DDSPAutoencoder.from_pretrained(tmp_path)
    assert m2.config.data_stats == stats and m2.f0_mean_midi == 76.0


def test_adjust_controls_without_quantiles_shifts_the_mean():
    m = _model(None)
    m.set_data_statistics(-25.0, 70.0)  # older models: means in the weights
    f0 = _hz(np.full(20, 46.0))
    ld = np.linspace(-50.0, -40.0, 20)
    f0_out, ld_out, info = m.adjust_controls(f0, ld, np.ones(20), quiet_db=0.0)
    assert info["octave_shift"] == 24.0 and info["loudness"] == "shift"
    np.testing.assert_allclose(ld_out, ld + (-25.0 - ld.mean()))
    np.testing.assert_allclose(f0_out, _hz(np.full(20, 70.0)))
