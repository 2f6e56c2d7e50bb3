"""The synthetic generator and its oracle pleasantness."""

from __future__ import annotations

import numpy as np
import pytest

from audiokit.soundscape.synthetic import (
    MASKER_CLASSES,
    MASKER_EFFECT,
    SCENES,
    SPL_OFFSET_DB,
    SoundInfo,
    best_gain,
    level_db,
    noise_std,
    oracle_pleasantness,
    synth_masker,
    synth_sound,
    synth_soundscape,
)


def _band_energy(x: np.ndarray, sr: int, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x.mean(0))) ** 2
    f = np.fft.rfftfreq(x.shape[-1], 1 / sr)
    return float(spec[(f >= lo) & (f < hi)].sum() / spec.sum())


def test_classes_have_their_level_and_character(maskers):
    for kind, (x, info) in maskers.items():
        assert x.shape == (1, 4 * 44100) and x.dtype == np.float32
        if kind == "silence":
            assert not x.any() and info.level_db == -np.inf
            continue
        assert level_db(x) == pytest.approx(-30.0, abs=0.01) == info.level_db
    sr = 44100
    assert _band_energy(maskers["bird"][0], sr, 2000, 12000) > 0.9  # chirps at 2-6 kHz (+ harmonic)
    assert _band_energy(maskers["wind"][0], sr, 0, 1000) > 0.9  # low-passed noise
    assert _band_energy(maskers["traffic"][0], sr, 0, 2000) > 0.8  # rumble and hum
    assert _band_energy(maskers["water"][0], sr, 200, 8000) > 0.8  # band-passed noise


def test_deterministic_by_seed_and_bad_class():
    a = synth_sound("water", 0.5, seed=3)
    assert np.array_equal(a, synth_sound("water", 0.5, seed=3))
    assert not np.array_equal(a, synth_sound("water", 0.5, seed=4))
    with pytest.raises(ValueError, match="unknown sound class"):
        synth_sound("rain", 1.0)
    with pytest.raises(ValueError, match="unknown scene"):
        synth_soundscape(1.0, scene="desert")


def test_soundscape_is_binaural_with_fractions(scene):
    x, info = scene
    assert x.shape == (2, 4 * 44100)
    assert info.level_db == pytest.approx(-30.0, abs=0.01)
    assert set(info.fractions) == set(SCENES["street"]) and sum(info.fractions.values()) == pytest.approx(1.0)
    assert not np.allclose(x[0], x[1])  # interaural differences


def test_oracle_closed_form_and_optimal_gain():
    park = SoundInfo("park", -35.0, {"bird": 0.5, "traffic": 0.5})  # 65 dB SPL
    base = 0.5 * 0.45 + 0.5 * -0.35
    silent = SoundInfo("silence", -np.inf, {})
    assert oracle_pleasantness(park, silent, 0.0) == pytest.approx(np.tanh(base))
    bird = SoundInfo("bird", -30.0, {"bird": 1.0})
    gains = np.arange(-30.0, 10.01, 0.25)
    g, p = best_gain(park, bird, gains)
    smr = park.level_db - (bird.level_db + g)
    assert abs(smr - MASKER_EFFECT["bird"][1]) <= 3.0  # near SMR* (shifted a little by loudness)
    assert p > oracle_pleasantness(park, silent, 0.0)
    # an unpleasant masker is best at the lowest gain
    traffic = SoundInfo("traffic", -30.0, {"traffic": 1.0})
    assert best_gain(park, traffic, gains)[0] == gains[0]
    # louder scenes are less pleasant
    loud = SoundInfo("park", -25.0, park.fractions)
    assert oracle_pleasantness(loud, silent, 0.0) < oracle_pleasantness(park, silent, 0.0)
    # a soundscape gain of +10 dB is the same as a scene 10 dB louder
    assert oracle_pleasantness(park, bird, -3.0, soundscape_gain_db=10.0) == pytest.approx(
        float(oracle_pleasantness(loud, bird, -3.0))
    )
    assert SPL_OFFSET_DB + park.level_db == 65.0


def test_noise_is_heteroscedastic():
    s = {k: float(noise_std(SoundInfo(k, -30.0, {}), 0.0)) for k in MASKER_CLASSES}
    assert s["bird"] > s["water"] and s["construction"] > s["wind"]
    assert float(noise_std(SoundInfo("water", -30, {}), 9.0)) > s["water"]


def test_synth_masker_info():
    x, info = synth_masker("bird", 1.0, seed=0, level=-20.0)
    assert (
        info.kind == "bird"
        and info.fractions == {"bird": 1.0}
        and info.level_db == pytest.approx(-20.0, abs=0.01)
    )
    assert info.to_dict()["level_db"] == info.level_db
