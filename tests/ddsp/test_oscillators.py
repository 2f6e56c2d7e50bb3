"""Oscillator banks and phase accumulation (ddsp.md §1.4, §3.1 items 2-4 and 14, §4.4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from audiokit import ddsp
from audiokit.ddsp import oscillators as osc
from tests.ddsp import reference as ref


def _controls(b=2, f=40, h=24, seed=0, lo=150.0, hi=700.0):
    g = torch.Generator().manual_seed(seed)
    f0 = lo + (hi - lo) * torch.rand(b, f, generator=g, dtype=torch.float64)
    amps = torch.rand(b, f, generator=g, dtype=torch.float64)
    hd = torch.rand(b, f, h, generator=g, dtype=torch.float64)
    return f0, amps, hd


@pytest.mark.parametrize("method", ["window", "linear"])
def test_harmonic_synthesis_matches_float64_reference(method):
    f0, amps, hd = _controls()
    n, sr = 40 * 64, 16000
    y = osc.harmonic_synthesis(f0.float(), amps.float(), hd.float(), n, sr, method)
    for b in range(2):
        r = ref.harmonic_synthesis(f0[b].numpy(), amps[b].numpy(), hd[b].numpy(), n, sr, method)
        assert np.abs(y[b].double().numpy() - r).max() < 1e-4 * max(1.0, np.abs(r).max())


def test_single_harmonic_closed_form():
    # §3.1 item 2: y[n] = A sin(2 pi 440 (n + 1) / 16000), inclusive phase
    sr, n_frames, a = 16000, 250, 0.8
    hd = torch.zeros(1, n_frames, 10)
    hd[..., 0] = 1.0
    expect = a * np.sin(2 * np.pi * 440 * np.arange(1, sr + 1) / sr)
    for method in ("window", "linear"):
        y = ddsp.harmonic(
            torch.full((1, n_frames), 440.0),
            torch.full((1, n_frames), a),
            hd,
            sr,
            sr,
            amp_resample_method=method,
        )
        assert np.abs(y[0].double().numpy() - expect).max() < 1e-4
        assert float(y.square().mean().sqrt()) == pytest.approx(a / math.sqrt(2), rel=1e-3)
        spec = np.abs(np.fft.rfft(y[0].double().numpy()))
        assert np.argmax(spec) == 440  # 1 Hz bins over 1 s


def test_nyquist_removal_and_renormalisation():
    # §3.1 item 3
    hd = ddsp.exp_sigmoid(torch.zeros(1, 4, 5))
    out = osc.normalize_harmonics(hd, torch.full((1, 4), 3000.0), 16000)
    np.testing.assert_allclose(out[0, 0].numpy(), [0.5, 0.5, 0, 0, 0], atol=1e-7)
    exact = osc.normalize_harmonics(
        torch.ones(1, 1, 3), torch.full((1, 1), 4000.0), 16000
    )  # 8000 Hz = Nyquist
    np.testing.assert_allclose(exact[0, 0].numpy(), [1.0, 0.0, 0.0])
    h440 = osc.normalize_harmonics(torch.rand(1, 3, 60) + 0.1, torch.full((1, 3), 440.0), 16000)
    assert int((h440[0, 0] > 0).sum()) == 18
    assert float((h440.sum(-1) - 1).abs().max()) < 1e-6
    # without frame-level normalisation, the sample-wise mask still zeroes above-Nyquist partials:
    # 3 kHz with 5 equal harmonics -> only 3 and 6 kHz sound (no aliases at 7, 4 or 1 kHz)
    sr = 16000
    y = osc.harmonic_synthesis(
        torch.full((1, 250), 3000.0), torch.ones(1, 250), torch.full((1, 250, 5), 0.2), sr, sr
    )
    spec = np.abs(np.fft.rfft(y[0].double().numpy()))
    peaks = set(np.nonzero(spec > 1e-3 * spec.max())[0])
    assert peaks == {3000, 6000}


def test_nyquist_mask_inside_a_frame_for_a_glide():
    # f0 rises through the point where harmonic 3 crosses Nyquist inside a frame: the sample-wise
    # hard cut of magenta (freq >= sr/2) must be reproduced, not the frame-level decision only
    sr, n = 16000, 16 * 64
    f0 = torch.linspace(2500.0, 2900.0, 16, dtype=torch.float64)[None]
    amps = torch.ones(1, 16, dtype=torch.float64)
    hd = torch.ones(1, 16, 4, dtype=torch.float64)  # deliberately not normalised
    y = osc.harmonic_synthesis(f0.float(), amps.float(), hd.float(), n, sr)
    r = ref.harmonic_synthesis(f0[0].numpy(), amps[0].numpy(), hd[0].numpy(), n, sr)
    assert np.abs(y[0].double().numpy() - r).max() < 2e-4


def test_streaming_two_halves_equal_one_call():
    # §3.1 item 4: carry final_phase across blocks (constant controls)
    sr, n_frames, h = 16000, 100, 8
    f0 = torch.full((1, n_frames), 311.0)
    amps = torch.full((1, n_frames), 0.5)
    hd = osc.normalize_harmonics(torch.rand(1, n_frames, h))
    hd = hd[:, :1].expand(1, n_frames, h)
    full = osc.harmonic_synthesis(f0, amps, hd, n_frames * 64, sr)
    first, phase = osc.harmonic_synthesis(
        f0[:, :50], amps[:, :50], hd[:, :50], 50 * 64, sr, return_final_phase=True
    )
    second = osc.harmonic_synthesis(f0[:, 50:], amps[:, 50:], hd[:, 50:], 50 * 64, sr, initial_phase=phase)
    assert float((torch.cat([first, second], 1) - full).abs().max()) < 1e-5


def test_streaming_segments_with_glide_are_exact():
    # harmonic_segments over consecutive control frames carries phase and the held frame exactly
    sr, hop = 16000, 64
    f0 = torch.linspace(100.0, 1000.0, 41, dtype=torch.float32)[None]
    amps = torch.rand(1, 41, 6)
    full, _ = osc.harmonic_segments(f0, amps, hop, sr)
    a, ph = osc.harmonic_segments(f0[:, :21], amps[:, :21], hop, sr)
    b, _ = osc.harmonic_segments(f0[:, 20:], amps[:, 20:], hop, sr, initial_phase=ph)
    assert float((torch.cat([a, b], 1) - full).abs().max()) < 1e-5


def test_instantaneous_frequency_of_glide_equals_upsampled_f0():
    sr, n_frames, hop = 16000, 200, 64
    f0 = torch.linspace(100.0, 1000.0, n_frames, dtype=torch.float64)[None]
    phase, _ = osc.segment_phase(torch.cat([f0, f0[:, -1:]], 1)[..., None], hop, sr, dtype=torch.float64)
    inst = (np.diff(phase[0, :, 0].numpy()) % 1.0) * sr  # Hz, from consecutive wrapped phases
    up = ref.linear_resample(f0[0].numpy()[:, None], n_frames * hop)[1:, 0]
    assert np.abs(inst - up).max() < 1e-6


def test_cumulative_phase_matches_exact_integer_phase():
    sr, n = 48000, 300_000
    f = torch.full((1, n), 440.0)
    phase = osc.cumulative_phase(f, sr, block=4096)[0].numpy()
    exact = ((440 * np.arange(1, n + 1, dtype=np.int64)) % sr) / sr
    d = (phase - exact + 0.5) % 1.0 - 0.5
    assert np.abs(d).max() < 1e-10
    ex = osc.cumulative_phase(f, sr, inclusive=False)[0].numpy()
    assert abs(ex[0]) < 1e-15 and abs(ex[1] - 440 / sr) < 1e-15


def _max_phase_error(phase32: torch.Tensor, k: int, f: int, sr: int) -> float:
    n = np.arange(1, phase32.numel() + 1, dtype=np.int64)
    exact = ((k * f * n) % sr) / sr
    got = osc.harmonic_phase(phase32, k).double().numpy() / (2 * np.pi)
    return float(np.abs((got - exact + 0.5) % 1.0 - 0.5).max() * 2 * np.pi)


def test_phase_precision_60s_48k():
    # §3.1 item 14 / §4.4: < 1e-3 rad at k=1 and < 0.05 rad at k=60 for a 60 s 440 Hz tone at 48 kHz,
    # measured on the float32 phase the harmonic bank uses
    sr, frame_rate, secs = 48000, 250, 60
    hop, n_frames = sr // frame_rate, secs * frame_rate
    f0 = torch.full((1, n_frames + 1, 1), 440.0)
    phase, _ = osc.segment_phase(f0, hop, sr, dtype=torch.float64)
    phase32 = phase[0, :, 0].float()
    assert _max_phase_error(phase32, 1, 440, sr) < 1e-5  # target 1e-3
    assert _max_phase_error(phase32, 60, 440, sr) < 1e-3  # target 0.05
    # a float32 running sum of each harmonic's increments (the ports) misses the k = 60 target
    n = np.arange(1, n_frames * hop + 1, dtype=np.int64)
    naive = torch.cumsum(torch.full((n.size,), 2 * math.pi * 60 * 440 / sr), 0).double().numpy()
    exact = 2 * np.pi * ((60 * 440 * n) % sr) / sr
    assert np.abs((naive - exact + np.pi) % (2 * np.pi) - np.pi).max() > 0.05


def test_long_render_output_precision_and_no_detuning():
    # the rendered samples themselves: harmonic 60 of 100 Hz (6 kHz) for 60 s at 48 kHz
    sr, n_frames = 48000, 60 * 250
    n = n_frames * 192
    # the harmonic bank's kernel with the one oscillator of ratio 60 (what harmonic_synthesis runs with
    # a one-hot distribution on k = 60, without the 59 silent columns)
    with torch.no_grad():
        y, _ = osc.harmonic_segments(
            torch.full((1, n_frames + 1), 100.0),
            torch.ones(1, n_frames + 1, 1),
            192,
            sr,
            ratios=torch.tensor([60.0]),
        )
    idx = np.arange(1, n + 1, dtype=np.int64)
    exact = np.sin(2 * np.pi * ((6000 * idx) % sr) / sr)
    err = np.abs(y[0].double().numpy() - exact)
    assert err.max() < 1e-3
    # no detuning: the error of the last second is no larger than that of the first
    assert err[-sr:].max() < 2 * err[:sr].max() + 1e-5


def test_sinusoidal_synthesis_matches_reference():
    g = torch.Generator().manual_seed(3)
    freqs = 100 + 7000 * torch.rand(2, 20, 5, generator=g, dtype=torch.float64)
    amps = torch.rand(2, 20, 5, generator=g, dtype=torch.float64)
    n, sr = 20 * 64, 16000
    y = osc.sinusoidal_synthesis(freqs.float(), amps.float(), n, sr)
    for b in range(2):
        fe = ref.linear_resample(freqs[b].numpy(), n)
        ae = np.where(fe >= sr / 2, 0.0, ref.window_resample(amps[b].numpy(), n))
        r = (ae * np.sin(np.cumsum(2 * np.pi * fe / sr, 0))).sum(1)
        assert np.abs(y[b].double().numpy() - r).max() < 2e-4
    # the sample-wise bank gives the same for the same envelopes
    fe = torch.from_numpy(ref.linear_resample(freqs[0].numpy(), n))[None].float()
    ae = torch.from_numpy(ref.window_resample(amps[0].numpy(), n))[None].float()
    assert float((osc.oscillator_bank(fe, ae, sr) - y[:1]).abs().max()) < 2e-4


def test_harmonic_shifts_and_any_length_paths():
    f0, amps, hd = _controls(b=1, f=10, h=6)
    sr, n = 16000, 10 * 64
    base = osc.harmonic_synthesis(f0.float(), amps.float(), hd.float(), n, sr)
    zero_shift = osc.harmonic_synthesis(
        f0.float(), amps.float(), hd.float(), n, sr, harmonic_shifts=torch.zeros(1, 10, 6)
    )
    assert float((base - zero_shift).abs().max()) < 2e-4
    # a length that is not a multiple of the frame count uses sample-wise linear envelopes
    m = 10 * 64 + 13
    y = osc.harmonic_synthesis(f0.float(), amps.float(), hd.float(), m, sr, "linear")
    r = ref.harmonic_synthesis(f0[0].numpy(), amps[0].numpy(), hd[0].numpy(), m, sr, "linear")
    assert y.shape == (1, m) and np.abs(y[0].double().numpy() - r).max() < 1e-4


def test_gradients_flow_to_every_control_and_match_autograd_reference():
    f0, amps, hd = _controls(b=2, f=12, h=10, lo=300, hi=900)
    n, sr = 12 * 32, 16000
    g = torch.randn(2, n, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    leaves32 = [t.float().clone().requires_grad_() for t in (f0, amps, hd)]
    (osc.harmonic_synthesis(*leaves32, n, sr) * g.float()).sum().backward()
    leaves64 = [t.clone().requires_grad_() for t in (f0, amps, hd)]
    f, a, h = leaves64
    k = torch.arange(1, 11, dtype=torch.float64)
    fe = ddsp.resample(f[..., None] * k, n, "linear")
    ae = ddsp.resample(a[..., None] * h, n, "window")
    ae = torch.where(fe >= sr / 2, torch.zeros_like(ae), ae)
    y = (ae * torch.sin(torch.cumsum(2 * math.pi * fe / sr, 1))).sum(-1)
    (y * g).sum().backward()
    for x32, x64 in zip(leaves32, leaves64):
        assert x32.grad is not None and bool(x32.grad.abs().sum() > 0)
        rel = (x32.grad.double() - x64.grad).abs().max() / x64.grad.abs().max()
        assert rel < 1e-3


def test_gradient_reaches_zero_amplitudes_below_nyquist():
    # harmonics with zero amplitude are still audible in the gradient (d y / d A_k = sin(k phi))
    amps = torch.zeros(1, 4, 3, requires_grad=True)
    y, _ = osc.harmonic_segments(torch.full((1, 4), 200.0), amps, 32, 16000)
    y.sum().backward()
    assert bool((amps.grad[0, :, :].abs().sum(0) > 0).all())


def test_wavetable_from_harmonics_and_lookup():
    # §3.1 item 12
    hd = torch.zeros(1, 1, 10)
    hd[..., 0] = 1.0
    table = osc.harmonic_distribution_to_wavetable(hd, 2048)[0, 0]
    assert float(table[0]) == pytest.approx(1.0, abs=1e-6)
    assert int(torch.argmin(table)) == 1024
    sine = torch.sin(2 * math.pi * torch.arange(2048) / 2048)[None]
    assert float(osc.wavetable_lookup(torch.tensor([[0.25]]), sine)) == pytest.approx(1.0, abs=1e-6)


def test_wavetable_synthesis_renders_the_table():
    sr, n_frames = 16000, 250
    table = osc.harmonic_distribution_to_wavetable(torch.tensor([[0.0, 1.0]]), 2048)  # 2nd harmonic cosine
    y = osc.wavetable_synthesis(torch.full((1, n_frames), 250.0), torch.ones(1, n_frames), table, sr, sr)
    n = np.arange(sr)
    expect = np.cos(2 * np.pi * 2 * 250 * n / sr)  # exclusive phase: phi[0] = 0
    assert np.abs(y[0].double().numpy() - expect).max() < 1e-3
    # frame-wise tables are cross-faded: two constant tables blend linearly
    tabs = torch.stack([torch.full((16,), 1.0), torch.full((16,), 3.0)])[None]  # (1, 2, 16)
    z = osc.wavetable_synthesis(torch.full((1, 2), 100.0), torch.ones(1, 2), tabs, 128, sr)
    np.testing.assert_allclose(z[0, :64].numpy(), 1.0 + 2.0 * np.arange(64) / 64, atol=1e-5)


def test_harmonic_stream_blocks_equal_one_render():
    g = torch.Generator().manual_seed(5)
    f0 = 200 + 600 * torch.rand(2, 37, generator=g)
    amps = torch.rand(2, 37, generator=g)
    hd = osc.normalize_harmonics(torch.rand(2, 37, 12, generator=g), f0, 16000)
    full = osc.harmonic_synthesis(f0, amps, hd, 37 * 64, 16000)
    stream = osc.HarmonicStream(16000, 64)
    blocks, i = [], 0
    for size in (1, 5, 13, 8, 10):
        blocks.append(stream.process(f0[:, i : i + size], amps[:, i : i + size], hd[:, i : i + size]))
        i += size
    assert blocks[0].shape == (2, 0) and blocks[1].shape == (2, 5 * 64)
    out = torch.cat([*blocks, stream.flush()], dim=1)
    assert out.shape == full.shape and float((out - full).abs().max()) < 1e-4
    with pytest.raises(ValueError):
        stream.flush()


def test_harmonic_shifts_keep_the_initial_phase_and_the_phase_shape():
    """With ``harmonic_shifts`` the caller's ``initial_phase`` is used (harmonic k starts at k phi) and
    the returned phase stays ``(B,)``: zero shifts render what the harmonic bank renders."""
    f0, amps, hd = _controls(b=2, f=10, h=6)
    f0, amps, hd = f0.float(), amps.float(), hd.float()
    sr, n = 16000, 10 * 64
    phi0 = torch.tensor([0.3, 0.85], dtype=torch.float64)
    base, final = osc.harmonic_synthesis(f0, amps, hd, n, sr, initial_phase=phi0, return_final_phase=True)
    zero = torch.zeros(2, 10, 6)
    shifted, final_s = osc.harmonic_synthesis(
        f0, amps, hd, n, sr, harmonic_shifts=zero, initial_phase=phi0, return_final_phase=True
    )
    assert final_s.shape == final.shape == (2,)
    d = (final_s - final).abs()
    assert float(torch.minimum(d, 1 - d).max()) < 1e-6
    assert float((shifted - base).abs().max()) < 2e-4
    unshifted_start = osc.harmonic_synthesis(f0, amps, hd, n, sr, harmonic_shifts=torch.zeros(2, 10, 6))
    assert float((shifted - unshifted_start).abs().max()) > 0.1  # the initial phase matters


def test_harmonic_distribution_shape_is_checked_before_use():
    f0, amps = torch.full((2, 10), 220.0), torch.ones(2, 10)
    for bad in (torch.ones(2, 9, 5), torch.ones(1, 10, 5), torch.ones(2, 10)):
        with pytest.raises(ValueError, match="harmonic_distribution .* does not match f0_hz"):
            osc.harmonic_synthesis(f0, amps, bad, 640)
        with pytest.raises(ValueError, match="harmonic_distribution .* does not match f0_hz"):
            osc.HarmonicStream(16000, 64).process(f0, amps, bad)


def test_frame_wise_wavetables_go_through_the_one_lookup():
    """``wavetable_synthesis`` with frame-wise tables is the cross-fade of two
    :func:`wavetable_lookup` calls that pick each sample's table by index."""
    g = torch.Generator().manual_seed(4)
    b, n_frames, n_tab, n = 2, 5, 32, 5 * 40
    tables = torch.randn(b, n_frames, n_tab, generator=g)
    f0 = 100 + 300 * torch.rand(b, n_frames, generator=g)
    y = osc.wavetable_synthesis(f0, torch.ones(b, n_frames), tables, n, 8000)
    f_ext = torch.cat([f0, f0[:, -1:]], dim=1)[..., None]
    phase = osc.segment_phase(f_ext, n // n_frames, 8000, inclusive=False, dtype=torch.float64)[0][..., 0]
    pos = torch.arange(n, dtype=torch.float64) * (n_frames / n)
    j0 = pos.floor().long().clamp(max=n_frames - 1)
    j1 = (j0 + 1).clamp(max=n_frames - 1)
    a = (pos - j0).float()
    v0 = osc.wavetable_lookup(phase.float(), tables, j0)
    v1 = osc.wavetable_lookup(phase.float(), tables, j1)
    torch.testing.assert_close(y, v0 + (v1 - v0) * a, rtol=0, atol=0)
    # the index picks rows: a lookup into table j equals a lookup into that table alone
    solo = osc.wavetable_lookup(phase.float(), tables[:, 3], None)
    torch.testing.assert_close(osc.wavetable_lookup(phase.float(), tables, torch.full((n,), 3)), solo)
    with pytest.raises(ValueError, match="frame-wise tables"):
        osc.wavetable_lookup(phase.float(), tables[:, 0], j0)
