"""Synths, effects and the ProcessorGroup DAG (ddsp.md §1.5, §1.7-1.10, §3.1 items 9, 12, 13)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from audiokit import ddsp
from audiokit.ddsp import effects, processors, synths


def test_harmonic_processor_scales_and_normalises():
    h = synths.Harmonic(16000, hop_length=64)
    c = h.get_controls(torch.zeros(1, 5, 1), torch.zeros(1, 5, 60), torch.full((1, 5, 1), 440.0))
    assert float(c["amplitudes"][0, 0]) == pytest.approx(0.4054, abs=1e-4)
    hd = c["harmonic_distribution"][0, 0]
    assert int((hd > 0).sum()) == 18 and float(hd.sum()) == pytest.approx(1.0, abs=1e-6)
    audio = h(torch.zeros(1, 5, 1), torch.zeros(1, 5, 60), torch.full((1, 5, 1), 440.0))
    assert audio.shape == (1, 320)
    fixed = synths.Harmonic(16000, n_samples=500, amp_resample_method="linear")
    assert fixed(torch.zeros(1, 5), torch.zeros(1, 5, 4), torch.full((1, 5), 100.0)).shape == (1, 500)


def test_reverb_dry_and_delta_identities():
    # §3.1 item 9
    x = torch.randn(2, 400)
    rev = effects.Reverb(trainable=True, reverb_length=100)
    with torch.no_grad():
        rev.ir.zero_()
    torch.testing.assert_close(rev(x), x)
    ir = torch.zeros(2, 100)
    ir[:, 7] = 1.0
    net = effects.Reverb(trainable=False, reverb_length=100)
    expect = x.clone()
    expect[:, 7:] += x[:, :-7]
    torch.testing.assert_close(net(x, ir), expect, atol=1e-5, rtol=1e-5)
    ir1 = torch.zeros(2, 100)
    ir1[:, 0] = 5.0  # the dry tap is masked
    ir1[:, 1] = 1.0
    wet = effects.Reverb(trainable=False, add_dry=False)(x, ir1)
    torch.testing.assert_close(wet[:, 1:], x[:, :-1], atol=1e-5, rtol=1e-5)
    assert float(wet[:, 0].abs().max()) < 1e-5
    with pytest.raises(ValueError, match="impulse response"):
        effects.Reverb(trainable=False)(x)


def test_exp_decay_reverb_envelope():
    rev = effects.ExpDecayReverb(trainable=True, reverb_length=16000, fixed_noise=True)
    ir = rev.get_controls(torch.zeros(1, 10))["ir"][0]
    t = torch.linspace(0, 1, 16000)
    env = ir.abs() / rev.noise.abs().clamp(min=1e-9)
    expect = ddsp.exp_sigmoid(torch.tensor(2.0)) * torch.exp(-(2 + math.exp(4.0)) * t)
    torch.testing.assert_close(env, expect, atol=1e-5, rtol=1e-4)
    a = rev(torch.randn(2, 3000))
    assert a.shape == (2, 3000)


def test_filtered_noise_reverb_shapes():
    rev = effects.FilteredNoiseReverb(trainable=True, reverb_length=4000, n_frames=100, n_filter_banks=16)
    ir = rev.get_controls(torch.zeros(3, 500))["ir"]
    assert ir.shape == (3, 4000)
    assert rev(torch.randn(3, 500)).shape == (3, 500)
    with pytest.raises(ValueError):
        effects.FilteredNoiseReverb(reverb_length=1001, n_frames=100)


def test_fir_filter_processor():
    fir = effects.FIRFilter(window_size=0, scale_fn=None)
    x = torch.randn(2, 640)
    torch.testing.assert_close(fir(x, torch.ones(2, 10, 65)), x, atol=1e-5, rtol=1e-5)
    assert float(fir(x, torch.zeros(2, 10, 65)).abs().max()) < 1e-6


def test_mod_delay_range():
    # §3.1 item 13: phase 0 -> 15 ms (240 samples), phase 1 -> 25 ms (400 samples) at 16 kHz
    x = torch.zeros(1, 1000)
    x[0, 100] = 1.0
    md = effects.ModDelay(sample_rate=16000, gain_scale_fn=None, phase_scale_fn=None, add_dry=False)
    for phase, delay in ((0.0, 240), (1.0, 400), (0.5, 320)):
        y = md(x, torch.ones(1, 1000), torch.full((1, 1000), phase))
        assert int(y.argmax()) - 100 == delay and float(y.max()) == pytest.approx(1.0, abs=1e-6)
    frac = effects.variable_length_delay(torch.arange(10.0)[None], torch.full((1, 10), 2.5))
    np.testing.assert_allclose(frac[0, 3:].numpy(), np.arange(3, 10) - 2.5, atol=1e-6)


def test_wavetable_and_sinusoidal_processors():
    wt = synths.Wavetable(16000, hop_length=64, scale_fn=None, wavetable_scale_fn=None)
    table = torch.sin(2 * math.pi * torch.arange(64) / 64)[None]
    y = wt(torch.ones(1, 10), table, torch.full((1, 10), 250.0))
    expect = np.sin(2 * np.pi * 250 * np.arange(640) / 16000)
    assert np.abs(y[0].double().numpy() - expect).max() < 5e-3  # linear interpolation of 64 points
    sin = synths.Sinusoidal(16000, hop_length=64, amp_scale_fn=None, freq_scale_fn=None)
    y2 = sin(torch.ones(1, 10, 2) * 0.5, torch.tensor([[[1000.0, 9000.0]]]).expand(1, 10, 2))
    spec = np.abs(np.fft.rfft(y2[0].double().numpy()))
    assert np.argmax(spec) == 40  # 1000 Hz at 25 Hz bins; the 9 kHz oscillator is removed
    assert spec[270:290].max() < 1e-3 * spec.max()  # no alias of 9 kHz at 7 kHz


def test_processor_group_dag():
    group = processors.ProcessorGroup(
        [
            (synths.Harmonic(16000, hop_length=64), ["amps", "harmonic_distribution", "f0_hz"]),
            (
                synths.FilteredNoise(hop_length=64, generator=torch.Generator().manual_seed(0)),
                ["noise_magnitudes"],
            ),
            (processors.Add(), ["filtered_noise/signal", "harmonic/signal"]),
            (effects.Reverb(trainable=True, reverb_length=256), ["add/signal"]),
        ]
    )
    inputs = {
        "amps": torch.zeros(2, 8, 1),
        "harmonic_distribution": torch.zeros(2, 8, 20),
        "f0_hz": torch.full((2, 8, 1), 220.0),
        "noise_magnitudes": torch.zeros(2, 8, 65),
    }
    out = group(inputs, return_outputs_dict=True)
    ctl = out["controls"]
    assert out["signal"].shape == (2, 512)
    torch.testing.assert_close(
        ctl["add"]["signal"], ctl["harmonic"]["signal"] + ctl["filtered_noise"]["signal"]
    )
    assert ctl["out"] is ctl["reverb"] and "inputs" in ctl
    assert set(dict(group.named_parameters())) == {"modules_by_name.reverb.ir"}
    with pytest.raises(KeyError, match="nope"):
        processors.ProcessorGroup([(processors.Add(), ["nope", "amps"])])(inputs)
    with pytest.raises(ValueError, match="duplicate"):
        processors.ProcessorGroup([(processors.Add(), ["a", "b"]), (processors.Add(), ["a", "b"])])


def test_mix_is_constant_power_and_crop():
    one, two = torch.ones(1, 100), torch.ones(1, 100)
    mix = processors.Mix()
    for level in (-3.0, 0.0, 2.0):
        c = mix.get_controls(one, two, torch.full((1, 4, 1), level))
        g1, g2 = torch.sqrt(c["mix_level"]), torch.sqrt(1 - c["mix_level"])
        torch.testing.assert_close(g1**2 + g2**2, torch.ones(1, 100))
    assert processors.Crop(64, "back")(torch.zeros(1, 1000)).shape == (1, 936)
    assert processors.Crop(64, "center")(torch.arange(100.0)[None])[0, 0] == 32


def _grad_ok(*tensors):
    return all(
        t.grad is not None and bool(torch.isfinite(t.grad).all()) and bool(t.grad.abs().sum() > 0)
        for t in tensors
    )


def test_gradients_flow_to_every_control():
    torch.manual_seed(0)
    b, f = 2, 10
    # Harmonic: amplitudes, distribution, f0
    amps, hd = torch.randn(b, f, 1, requires_grad=True), torch.randn(b, f, 12, requires_grad=True)
    f0 = torch.full((b, f, 1), 330.0, requires_grad=True)
    synths.Harmonic(16000, hop_length=32)(amps, hd, f0).square().sum().backward()
    assert _grad_ok(amps, hd, f0)
    # FilteredNoise magnitudes
    mags = torch.randn(b, f, 65, requires_grad=True)
    synths.FilteredNoise(hop_length=32)(mags).square().sum().backward()
    assert _grad_ok(mags)
    # Sinusoidal amplitudes and frequencies
    sa, sf = torch.randn(b, f, 3, requires_grad=True), torch.randn(b, f, 3, requires_grad=True)
    synths.Sinusoidal(16000, hop_length=32)(sa, sf).square().sum().backward()
    assert _grad_ok(sa, sf)
    # Wavetable amplitudes, tables, f0
    wa, wt, wf = (
        torch.randn(b, f, requires_grad=True),
        torch.randn(b, f, 64, requires_grad=True),
        torch.full((b, f), 200.0, requires_grad=True),
    )
    synths.Wavetable(16000, hop_length=32)(wa, wt, wf).square().sum().backward()
    assert _grad_ok(wa, wt, wf)
    # Reverbs, FIR, ModDelay
    x = torch.randn(b, f * 32, requires_grad=True)
    rev = effects.Reverb(trainable=True, reverb_length=64)
    rev(x).square().sum().backward()
    assert _grad_ok(x, rev.ir)
    ed = effects.ExpDecayReverb(trainable=True, reverb_length=64)
    ed(torch.randn(b, 320)).square().sum().backward()
    assert _grad_ok(ed.gain, ed.decay)
    fnr = effects.FilteredNoiseReverb(trainable=True, reverb_length=640, n_frames=10)
    fnr(torch.randn(b, 320)).square().sum().backward()
    assert _grad_ok(fnr.magnitudes)
    fm = torch.randn(b, f, 65, requires_grad=True)
    effects.FIRFilter()(torch.randn(b, 320), fm).square().sum().backward()
    assert _grad_ok(fm)
    x2 = torch.randn(b, 1600, requires_grad=True)  # longer than the 15-25 ms delay
    gain, phase = torch.randn(b, f, requires_grad=True), torch.randn(b, f, requires_grad=True)
    effects.ModDelay()(x2, gain, phase).square().sum().backward()
    assert _grad_ok(x2, gain, phase)
