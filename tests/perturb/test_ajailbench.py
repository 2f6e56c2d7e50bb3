"""The official (way, parameter) mapping of AJailBench's NoiseAdder, its caps and quirks."""

import pytest
import torch

from audiokit.perturb import get, preset
from audiokit.perturb.ajailbench import CAPS, AJailBenchCaps, resolve

SR, N = 16000, 16000 * 5  # a 5 s clip (> 4 s, so fades apply)


def r(w, p, caps=None, n=N, sr=SR):
    return resolve(w, p, sr, n, caps)


def test_each_decile_maps_to_its_perturbation_with_the_official_numbers():
    assert r(0.05, 0.3).params["semitones"] == pytest.approx(0.3)
    assert r(0.05, 0.7).params["semitones"] == pytest.approx(-0.7)
    assert r(0.15, 0.2).params["rate"] == 1.1  # max(1.1, 1 + 0.1 p) is always 1.1
    assert r(0.15, 0.8).params["rate"] == pytest.approx(0.92)
    assert r(0.15, 0.0).params["rate"] == 1.0  # p == 0 falls into the "slower" branch
    low = r(0.25, 0.3)
    assert (
        low.name == "tone"
        and low.params["freq_hz"] == pytest.approx(14.0)
        and low.params["level_dbfs"] == -20
    )
    high = r(0.25, 0.8)  # official 36 kHz is above Nyquist: placed at 0.85-0.95 x Nyquist instead
    assert high.params["freq_hz"] is None and high.params["band"] == "near_nyquist"
    assert get("tone").frequency(SR, "near_nyquist", high.params["position"], None) < SR / 2
    assert r(0.25, 0.8, sr=96000).params["freq_hz"] == pytest.approx(36000.0)  # representable: kept
    d = r(0.35, 0.4)
    assert d.name == "dropout" and d.params == {"start": 0.4, "duration_ms": 40.0, "mode": "remove"}
    rain = r(0.45, 0.8)
    assert rain.params["gain_db"] == pytest.approx(-7 - 8 * (1 - 0.72)) and rain.params["filter"] == "lowpass"
    assert rain.params["cutoff_hz"] == 2000 and r(0.45, 0.5).params["filter"] == "highpass"
    f = r(0.55, 0.5)
    assert f.params["in_ms"] == f.params["out_ms"] == 1000.0
    assert r(0.55, 0.5, n=SR * 3) is None  # clips up to 4 s are not faded
    cry = r(0.65, 0.9)
    assert cry.params["gain_db"] == pytest.approx(-9 - 10 * (1 - 0.72))
    assert cry.params["segments"][0][0] == pytest.approx(5 * 0.9 * 0.5, abs=1e-3)
    horn = r(0.75, 0.9)
    assert len(horn.params["segments"]) == 2 + int(0.9 * 2)
    assert r(0.75, 0.3).params["segments"][0][0] == pytest.approx(1.5, abs=1e-3)
    music = [r(0.85, p).params["filter"] for p in (0.8, 0.5, 0.2)]
    assert music == ["lowpass", "none", "highpass"]
    assert r(0.95, 0.2).params["gain_db"] == pytest.approx(0.95)  # magnitude from way, not p
    assert r(0.95, 0.7).params["gain_db"] == pytest.approx(-0.8 * 0.95)
    assert r(0.0, 0.5) is None  # way == 0 applies nothing


def test_caps_and_fall_through():
    caps = AJailBenchCaps()
    ups = [r(0.05, 0.2, caps).params["semitones"] for _ in range(4)]
    assert ups[:3] == [0.2] * 3 and ups[3] == -0.2  # up capped at 3: falls through to "down" with -p
    for _ in range(3):
        r(0.05, 0.2, caps)
    assert r(0.05, 0.2, caps) is None  # down capped at 4 too
    caps = AJailBenchCaps()
    assert r(0.45, 0.5, caps) is not None and r(0.45, 0.5, caps) is None  # rain at most once
    assert CAPS["volume_up"] == 6 and CAPS["stretch_slower"] == 6


def test_rounding_and_the_preset_applies_the_resolved_perturbation(speech16k):
    x, sr = speech16k
    assert r(0.0999, 0.5).name == "time_stretch"  # rounded to 0.1, as the official code does
    chain = preset("ajailbench")
    for seed in range(6):
        res = chain(x, sr, rng=seed)
        rec = res.records[0]
        assert rec.params["way"] == round(rec.params["way"], 3)
        resolved = rec.info["resolved"]
        if resolved is None:
            assert torch.equal(res.wav, x)
            continue
        direct = get(resolved["name"])().apply(x, sr, **resolved["params"])
        peak = float(direct.abs().max())
        expect = direct * (0.999 / peak) if peak > 0.999 else direct
        assert torch.allclose(res.wav, expect, atol=1e-6)
