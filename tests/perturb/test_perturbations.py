"""Perturbations against closed forms and independent implementations (numpy/scipy/librosa)."""

import json
import math

import numpy as np
import pytest
import torch
from scipy import signal

from audiokit.perturb import Chain, PerturbationRecord, available, create, get, preset, replay
from audiokit.perturb.dsp import colored_noise, one_pole_highpass, one_pole_lowpass
from tests.conftest import tone

SR = 16000


def _peak_freq(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    k = int(np.argmax(spec))
    a, b, c = np.log(spec[k - 1 : k + 2] + 1e-12)  # parabolic interpolation
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / x.size


def test_registry_covers_the_issue_list_and_domains():
    names = set(available())
    need = {
        "time_stretch", "speed", "time_shift", "dropout", "fade", "reverse_segment",
        "pitch_shift", "peaking_eq", "lowpass", "highpass", "bandpass", "tone",
        "gain", "noise", "background", "clipping", "compression", "reverb", "mp3", "ajailbench",
    }  # fmt: skip
    assert need <= names
    for n in names:
        assert get(n).domain in ("time", "frequency", "amplitude", "mixed")
    assert set(available("time")) >= {"time_stretch", "dropout"}


def test_pitch_shift_ratio_and_length():
    x = tone(440.0, SR, 1.0)
    for n in (-3.0, 2.0):
        y = get("pitch_shift")().apply(x, SR, semitones=n)
        assert y.shape == x.shape
        f = _peak_freq(y.numpy()[4000:12000], SR)
        assert f / 440.0 == pytest.approx(2 ** (n / 12), rel=0.01)


def test_time_stretch_and_speed_lengths():
    x = torch.randn(SR)
    for rate in (0.9, 1.1, 1.25):
        y = get("time_stretch")().apply(x, SR, rate=rate)
        assert y.shape[-1] == round(SR / rate)  # librosa: round(T / rate)
    y = get("time_stretch")().apply(x, SR, rate=1.2, keep_length=True)
    assert y.shape == x.shape
    y = get("speed")().apply(tone(500.0, SR, 1.0), SR, factor=1.1)
    assert abs(y.shape[-1] - SR / 1.1) <= 1
    assert _peak_freq(y.numpy(), SR) == pytest.approx(550.0, rel=0.005)  # pitch follows speed


def test_noise_snr_is_exact_and_colors_have_their_slopes():
    x = tone(300.0, SR, 1.0)
    for color in ("white", "pink", "brown"):
        y = get("noise")().apply(x, SR, color=color, snr_db=12.5, seed=3)
        n = (y - x).double()
        snr = 10 * math.log10(float((x.double() ** 2).mean()) / float((n**2).mean()))
        assert snr == pytest.approx(12.5, abs=0.01)
    rng = np.random.default_rng(0)
    for color, beta in (("white", 0), ("pink", 1), ("brown", 2)):
        w = colored_noise((1, 2**16), color, rng)[0]
        f, p = signal.welch(w, fs=SR, nperseg=4096)
        sel = (f > 100) & (f < 4000)
        slope = np.polyfit(np.log10(f[sel]), np.log10(p[sel]), 1)[0]
        assert slope == pytest.approx(-beta, abs=0.15)


def test_gain_exact_and_peak_policy():
    x = tone(200.0, SR, 0.5, amp=0.5)
    y = get("gain")().apply(x, SR, gain_db=-6.0)
    assert torch.allclose(y, x * 10 ** (-6 / 20), atol=1e-7)
    res = Chain([{"name": "gain", "gain_db": 12.0}])(x, SR, rng=0)  # 0.5 * 3.98 -> limited
    assert float(res.wav.abs().max()) <= 0.999 + 1e-6
    assert res.peak["peak"] == pytest.approx(0.5 * 10 ** (12 / 20), rel=1e-4)
    assert res.peak["peak_gain_db"] < 0
    clipped = Chain([{"name": "gain", "gain_db": 12.0}], peak="clip")(x, SR, rng=0)
    assert clipped.peak["clipped_samples"] > 0 and float(clipped.wav.abs().max()) <= 0.999 + 1e-6


def test_filters_attenuate_as_specified():
    x = torch.randn(4 * SR, generator=torch.Generator().manual_seed(0))

    def gain_at(y, f):
        fr, px = signal.welch(x.numpy(), fs=SR, nperseg=2048)
        _, py = signal.welch(y.numpy(), fs=SR, nperseg=2048)
        return 10 * np.log10(np.interp(f, fr, py) / np.interp(f, fr, px))

    fc = 1000.0
    for order in (1, 2):
        lp = get("lowpass")().apply(x, SR, cutoff_hz=fc, order=order)
        assert gain_at(lp, fc) == pytest.approx(-6.0, abs=1.0)  # zero-phase: -6 dB at the cutoff
        assert gain_at(lp, 2 * fc) <= -(12 * order - 3) + 3
        hp = get("highpass")().apply(x, SR, cutoff_hz=fc, order=order)
        assert gain_at(hp, fc / 2) <= -(12 * order - 3) + 3
    bp = get("bandpass")().apply(x, SR, center_hz=1000.0, bandwidth=2.0, order=2)
    assert gain_at(bp, 1000.0) > -1.0 and gain_at(bp, 4000.0) < -20 and gain_at(bp, 250.0) < -20
    eq = get("peaking_eq")().apply(x, SR, freq_hz=1000.0, gain_db=9.0, q=1.0)
    assert gain_at(eq, 1000.0) == pytest.approx(9.0, abs=0.7) and abs(gain_at(eq, 6000.0)) < 1.0
    with pytest.raises(ValueError, match="Nyquist"):
        get("lowpass")().apply(x, SR, cutoff_hz=9000.0, order=1)


def test_pydub_style_one_pole_filters_match_the_loop():
    x = np.random.default_rng(1).standard_normal((1, 2000)).astype(np.float32)

    def lp_loop(v, sr, fc):
        rc, dt = 1 / (fc * 2 * math.pi), 1 / sr
        a, y = dt / (rc + dt), np.empty_like(v)
        y[0] = v[0]
        for i in range(1, v.size):
            y[i] = y[i - 1] + a * (v[i] - y[i - 1])
        return y

    def hp_loop(v, sr, fc):
        rc, dt = 1 / (fc * 2 * math.pi), 1 / sr
        a, y = rc / (rc + dt), np.empty_like(v)
        y[0] = v[0]
        for i in range(1, v.size):
            y[i] = a * (y[i - 1] + v[i] - v[i - 1])
        return y

    np.testing.assert_allclose(
        one_pole_lowpass(x, SR, 2000.0)[0], lp_loop(x[0].astype(float), SR, 2000.0), atol=1e-5
    )
    np.testing.assert_allclose(
        one_pole_highpass(x, SR, 1000.0)[0], hp_loop(x[0].astype(float), SR, 1000.0), atol=1e-5
    )


def test_dropout_fade_shift_reverse_exact():
    x = torch.linspace(0.1, 0.9, SR)
    d = get("dropout")()
    y = d.apply(x, SR, start=0.25, duration_ms=100.0, mode="silence")
    assert y.shape == x.shape and int((y == 0).sum()) == 1600 and float(y[4000]) == 0 and float(y[3999]) != 0
    y = d.apply(x, SR, start=0.25, duration_ms=100.0, mode="remove")
    assert y.shape[-1] == SR - 1600 and torch.equal(y[4000], x[5600])
    f = get("fade")().apply(torch.ones(SR), SR, in_ms=100.0, out_ms=50.0, shape="linear")
    assert float(f[0]) == 0.0 and float(f[-1]) == 0.0 and float(f[-800]) == pytest.approx(799 / 800)
    assert float(f[1600]) == 1.0 and float(f[800]) == pytest.approx(0.5)
    s = get("time_shift")().apply(x, SR, shift=0.25, rollover=True)
    assert torch.equal(s, torch.roll(x, 4000))
    s = get("time_shift")().apply(x, SR, shift=-0.25, rollover=False)
    assert torch.equal(s[:12000], x[4000:]) and float(s[12000:].abs().sum()) == 0
    r = get("reverse_segment")().apply(x, SR, start=0.5, duration_ms=10.0)
    assert torch.equal(r[8000:8160], x[8000:8160].flip(0)) and torch.equal(r[:8000], x[:8000])


def test_tone_bands_and_nyquist_guard():
    x = torch.zeros(SR)
    t = get("tone")()
    y = t.apply(x, SR, band="near_nyquist", position=0.5, level_dbfs=-20.0, freq_hz=None)
    assert _peak_freq(y.numpy(), SR) == pytest.approx(0.9 * SR / 2, rel=1e-3)
    assert float(y.abs().max()) == pytest.approx(0.1, rel=1e-3)
    y = t.apply(torch.zeros(4 * SR), SR, band="sub", position=0.0, level_dbfs=-20.0, freq_hz=None)
    assert _peak_freq(y.numpy(), SR) == pytest.approx(10.0, rel=0.02)
    with pytest.raises(ValueError, match="Nyquist"):  # AJailBench's 30-40 kHz tone is refused, not aliased
        t.apply(x, 22050, band="near_nyquist", position=0.0, level_dbfs=-20.0, freq_hz=30000.0)


def test_clipping_compression_reverb_background_mp3(speech16k):
    x, sr = speech16k
    c = get("clipping")().apply(x, sr, percentile=10.0)
    level = np.percentile(np.abs(x.numpy()), 90)
    assert float(c.abs().max()) == pytest.approx(level, rel=1e-6)
    assert torch.equal(get("clipping")().apply(x, sr, percentile=0.0), x)
    # compressor on a steady tone 20 dB over the threshold, ratio 4: -15 dB steady-state gain
    s = tone(1000.0, sr, 1.0, amp=math.sqrt(2) * 10 ** (-10 / 20))  # RMS -10 dBFS
    y = get("compression")().apply(
        s, sr, threshold_db=-30.0, ratio=4.0, attack_ms=5.0, release_ms=50.0, makeup_db=0
    )
    rms = 20 * np.log10(np.sqrt(np.mean(y.numpy()[8000:] ** 2)))
    assert rms == pytest.approx(-10 - 20 * (1 - 1 / 4), abs=0.3)
    # reverb: the impulse response decays by 60 dB in rt60 (Schroeder backward integration)
    rv = get("reverb")()
    h = rv.impulse_response(sr, rt60_s=0.5, drr_db=5.0, predelay_ms=5.0, seed=0)
    tail = h[1 + 80 :]
    edc = 10 * np.log10(np.cumsum(tail[::-1] ** 2)[::-1] / np.sum(tail**2))
    t5, t25 = np.argmax(edc < -5), np.argmax(edc < -25)
    assert 3 * (t25 - t5) / sr == pytest.approx(0.5, rel=0.1)
    assert 10 * np.log10(h[0] ** 2 / np.sum(tail**2)) == pytest.approx(5.0, abs=1e-6)
    yr = rv.apply(x, sr, rt60_s=0.5, drr_db=5.0, predelay_ms=5.0, seed=0)
    assert yr.shape == x.shape and float((yr**2).mean()) == pytest.approx(float((x**2).mean()), rel=1e-4)
    # background at an exact SNR, looping a bundled bed
    b = get("background")().apply(x, sr, bed="rain", snr_db=6.0, offset=0.3)
    n = (b - x).double()
    assert 10 * math.log10(float((x.double() ** 2).mean()) / float((n**2).mean())) == pytest.approx(
        6.0, abs=0.01
    )
    # mp3: aligned, same length, a lossy but faithful copy
    m = get("mp3")().apply(x, sr, bitrate_kbps=32)
    assert m.shape == x.shape
    err = 10 * math.log10(float((x**2).sum()) / float(((m - x) ** 2).sum()))
    assert 10 < err < 40


def test_background_folder_and_segments(tmp_path):
    from audiokit.io import save

    save(tmp_path / "beds" / "hum.wav", tone(100.0, 8000, 0.5), 8000)
    bg = create({"name": "background", "folder": str(tmp_path / "beds")})
    assert bg.space["bed"].options == (str(tmp_path / "beds" / "hum.wav"),)
    assert bg.config()["folder"] == str(tmp_path / "beds")
    x = torch.zeros(SR)
    y = bg.apply(x, SR, bed=str(tmp_path / "beds" / "hum.wav"), snr_db=0, offset=0, gain_db=0.0, loop=False,
                 segments=[[0.25, 0.1]], filter="none", cutoff_hz=None)  # fmt: skip
    nz = np.nonzero(y.numpy())[0]
    assert nz.min() >= 4000 and nz.max() < 4000 + 1600
    with pytest.raises(ValueError, match="neither a bundled bed"):
        get("background")().apply(x, SR, bed="no_such_bed", snr_db=10.0, offset=0.0)


def test_identity_points_determinism_and_bit_exact_replay(speech16k):
    x, sr = speech16k
    assert torch.equal(get("gain")().apply(x, sr, gain_db=0.0), x)
    assert torch.equal(get("dropout")().apply(x, sr, start=0.5, duration_ms=0.0, mode="silence"), x)
    assert torch.equal(get("pitch_shift")().apply(x, sr, semitones=0.0), x)
    chain = preset("all")
    for seed in range(4):
        a, b = chain(x, sr, rng=seed), chain(x, sr, rng=seed)
        assert torch.equal(a.wav, b.wav)
        recs = json.loads(json.dumps(a.to_dicts()))  # through JSON, as in the manifest
        again = Chain([get(r["name"])() for r in recs]).apply(x, sr, recs)
        assert torch.equal(again.wav, a.wav)
    recs = [PerturbationRecord("noise", "amplitude", {"color": "pink", "snr_db": 20.0, "seed": 5})]
    assert torch.equal(replay(recs, x, sr), replay([r.to_dict() for r in recs], x, sr))


def test_multichannel_gets_the_same_parameters_and_any_rate(speech48k):
    x, sr = speech48k
    st = torch.stack([x, 0.5 * x])  # (2, T) at 48 kHz
    for name in ("pitch_shift", "lowpass", "dropout", "compression", "mp3", "reverb", "background", "tone"):
        p = get(name)()
        params = p.sample(np.random.default_rng(1))
        y = p.apply(st, sr, **params)
        assert y.shape[0] == 2 and torch.isfinite(y).all()
        if name in ("pitch_shift", "lowpass", "dropout", "reverb"):  # linear, same parameters per channel
            assert torch.allclose(y[1], 0.5 * y[0], atol=1e-5)
    y = get("mp3")().apply(torch.randn(3, 9600) * 0.1, 96000, bitrate_kbps=64)  # rate MP3 cannot carry
    assert y.shape == (3, 9600)


def test_bad_input_is_a_clear_value_error():
    p = get("gain")()
    with pytest.raises(ValueError, match="NaN"):
        p.apply(torch.tensor([0.0, float("nan")]), SR, gain_db=1.0)
    with pytest.raises(ValueError, match="empty"):
        p.apply(torch.zeros(0), SR, gain_db=1.0)
    with pytest.raises(ValueError, match=r"\(T, C\)"):
        p.apply(torch.zeros(1000, 2), SR, gain_db=1.0)
    with pytest.raises(ValueError, match="unknown parameter"):
        p.apply(torch.zeros(10), SR, volume=3)
    with pytest.raises(ValueError, match="unknown perturbation"):
        get("warp_drive")
    with pytest.raises(ValueError, match="unknown parameter"):
        create({"name": "noise", "snr": [1, 2]})
    with pytest.raises(ValueError, match="silent"):
        get("noise")().apply(torch.zeros(100), SR, color="white", snr_db=10.0, seed=0)


def test_space_overrides_and_config_round_trip():
    p = create({"name": "pitch_shift", "semitones": [-1, 1], "p": 0.5})
    assert p.space["semitones"].low == -1 and p.p == 0.5
    q = get("noise")(min_snr_db=20)
    assert q.space["snr_db"].low == 20 and q.space["snr_db"].high == 40
    assert create(p.config()).space == p.space
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert -1 <= p.sample(rng)["semitones"] <= 1
    c = Chain(["gain", {"name": "noise", "snr_db": 30}], choose=1)
    assert Chain.from_config(c.config()).config() == c.config()
    assert sum(r.applied for r in c.sample(0)) == 1
