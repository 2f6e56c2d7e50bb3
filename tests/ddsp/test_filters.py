"""FIR design and FFT convolution (ddsp.md §1.6, §3.1 items 6-8)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from audiokit.ddsp import filters
from audiokit.ddsp.synths import FilteredNoise


def test_all_ones_magnitudes_give_a_unit_impulse():
    for n_bins, window in ((65, 0), (1025, 257), (129, 64)):
        ir = filters.frequency_impulse_response(torch.ones(n_bins), window)
        assert ir.shape[-1] % 2 == 1
        h = (ir.shape[-1] - 1) // 2
        expect = np.zeros(ir.shape[-1])
        expect[h] = 1.0
        np.testing.assert_allclose(ir.numpy(), expect, atol=1e-6)
        assert float(ir.sum()) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    "n_bins,window,compat,taps,delay",
    [
        (65, 0, None, 127, 0),
        (65, 0, "magenta", 128, 2),  # magenta's 2-sample lag of the default noise filter
        (129, 0, "magenta", 256, 2),
        (1025, 257, "magenta", 257, 0),  # exact when windowing shortens the IR
        (65, 64, "magenta", 63, 0),  # an even window W gives W - 1 taps
        (1025, 257, None, 257, 0),
    ],
)
def test_filter_delay_and_magenta_quirk(n_bins, window, compat, taps, delay):
    ir = filters.frequency_impulse_response(torch.ones(1, n_bins), window, compat)
    assert ir.shape[-1] == taps
    x = torch.zeros(1, 600)
    x[0, 200] = 1.0
    y = filters.frequency_filter(x, torch.ones(1, n_bins), window, compat=compat)
    assert y.shape == x.shape
    assert int(y.abs().argmax()) - 200 == delay
    np.testing.assert_allclose(float(y.abs().max()), 1.0, atol=1e-4)  # magenta's window peak: 0.99996


def test_default_design_is_exactly_linear_phase_and_matches_magenta_taps():
    mags = torch.rand(3, 65)
    ours = filters.frequency_impulse_response(mags, 0)
    torch.testing.assert_close(ours, ours.flip(-1))  # symmetric taps
    theirs = filters.frequency_impulse_response(mags, 0, compat="magenta")
    assert float(theirs[..., 0].abs().max()) < 1e-7  # magenta's extra leading tap is zero
    torch.testing.assert_close(ours, theirs[..., 1:])  # same taps, the delay differs


@pytest.mark.parametrize("t,l", [(1000, 10), (10, 100)])
def test_fft_convolve_equals_direct_convolution(t, l):
    x, h = torch.ones(1, t), torch.ones(1, l)
    y = filters.fft_convolve(x, h, padding="valid", delay_compensation=0)
    assert np.abs(y[0].double().numpy() - scipy.signal.convolve(np.ones(t), np.ones(l))).max() < 1e-5 * l
    rnd = torch.randn(2, t)
    irs = torch.randn(2, l)
    y2 = filters.fft_convolve(rnd, irs, padding="valid", delay_compensation=0)
    for b in range(2):
        d = np.convolve(rnd[b].double().numpy(), irs[b].double().numpy())
        assert np.abs(y2[b].double().numpy() - d).max() < 1e-5 * max(1.0, np.abs(d).max())


def test_time_varying_convolution_is_framewise_overlap_add():
    b, t, f, l = 2, 1000, 10, 33
    x, ir = torch.randn(b, t), torch.randn(b, f, l)
    y = filters.fft_convolve(x, ir, padding="valid", delay_compensation=0)
    hop = t // f
    expect = np.zeros((b, t + l - 1))
    for i in range(b):
        for j in range(f):
            seg = x[i, j * hop : (j + 1) * hop].double().numpy()
            expect[i, j * hop : j * hop + hop + l - 1] += np.convolve(seg, ir[i, j].double().numpy())
    assert np.abs(y.double().numpy() - expect).max() < 1e-4
    with pytest.raises(ValueError, match="frames"):
        filters.fft_convolve(torch.randn(1, 1000), torch.randn(1, 300, 5))  # ceil(1000 / 4) = 250 != 300


def test_crossfade_equals_plain_convolution_for_a_constant_filter():
    x = torch.randn(2, 1600)
    ir = torch.randn(2, 1, 40)
    plain = filters.fft_convolve(x, ir[:, 0], padding="valid", delay_compensation=0)
    xfade = filters.fft_convolve(
        x, ir.expand(2, 25, 40), padding="valid", delay_compensation=0, crossfade=True
    )
    assert float((plain - xfade).abs().max()) < 1e-4


def test_crossfade_removes_the_step_at_frame_edges():
    # a filter switching from pass to stop: the plain version jumps, the cross-fade ramps over a frame
    x = torch.ones(1, 640)
    mags = torch.cat([torch.ones(1, 5, 65), torch.zeros(1, 5, 65)], 1)
    hard = filters.frequency_filter(x, mags, 0)
    soft = filters.frequency_filter(x, mags, 0, crossfade=True)
    assert float(hard.diff().abs().max()) > 3 * float(soft.diff().abs().max())


def test_filtered_noise_flat_magnitude_is_scaled_noise():
    # §3.1 item 7: flat magnitude m -> exactly m * u, variance m^2 / 3
    synth = FilteredNoise(hop_length=64, scale_fn=None, generator=torch.Generator().manual_seed(0))
    noise = torch.rand(2, 64 * 100, generator=torch.Generator().manual_seed(1)) * 2 - 1
    y = synth.get_signal(torch.full((2, 100, 65), 0.3), noise=noise)
    torch.testing.assert_close(y, 0.3 * noise, atol=1e-6, rtol=1e-5)
    z = synth(torch.full((1, 1000, 65), 0.3))
    assert float(z.var()) == pytest.approx(0.09 / 3, rel=0.03)


def test_filtered_noise_spectrum_follows_the_magnitudes_without_comb_ripple():
    # band-limited magnitudes: the averaged noise PSD follows |H|^2 of the designed filter within 1 dB
    # at every bin (a block-wise port has a 100 Hz comb ripple, ~10 dB, here)
    n_frames, hop = 2000, 64
    freqs = np.linspace(0, 8000, 65)
    target = 0.2 + 0.8 * np.exp(-(((freqs - 3000) / 1500) ** 2))
    synth = FilteredNoise(
        hop_length=hop, scale_fn=None, window_size=0, generator=torch.Generator().manual_seed(0)
    )
    y = synth(torch.from_numpy(target).float()[None, None].expand(4, n_frames, 65))
    f, psd = scipy.signal.welch(y.double().numpy(), fs=16000, nperseg=256, axis=-1)
    psd = psd.mean(0)
    ir = filters.frequency_impulse_response(torch.from_numpy(target).double(), 0).numpy()
    h2 = np.abs(np.fft.rfft(ir, 256)) ** 2
    expect = h2 * (1 / 3) / 16000 * 2  # white U(-1, 1) noise: one-sided PSD var * 2 / fs
    sel = (f > 100) & (f < 7900)
    db = 10 * np.log10(psd[sel] / expect[sel])
    assert np.abs(db).max() < 1.0
    # and the designed response is close to the requested magnitudes (smooth curve)
    h_on_grid = np.abs(np.fft.rfft(ir, 128))
    assert np.abs(20 * np.log10(h_on_grid / target)).max() < 1.0


def test_sinc_filter_passes_and_stops():
    sr = 16000
    t = torch.arange(8000, dtype=torch.float64) / sr
    low = torch.sin(2 * np.pi * 500 * t).float()[None]
    high = torch.sin(2 * np.pi * 6000 * t).float()[None]
    lp = lambda x: filters.sinc_filter(x, 2000.0, 256, sample_rate=sr)  # noqa: E731
    hp = lambda x: filters.sinc_filter(x, 2000.0, 256, sample_rate=sr, high_pass=True)  # noqa: E731
    mid = slice(500, -500)
    assert float(lp(low)[0, mid].std() / low[0, mid].std()) == pytest.approx(1.0, abs=0.01)
    assert float(lp(high)[0, mid].std() / high[0, mid].std()) < 0.01
    assert float(hp(high)[0, mid].std() / high[0, mid].std()) == pytest.approx(1.0, abs=0.01)
    ir = filters.sinc_impulse_response(torch.full((2, 3, 1), 0.25), 64)
    assert ir.shape == (2, 3, 65) and float((ir.sum(-1) - 1).abs().max()) < 1e-5


def _blockwise_port(noise: np.ndarray, target: np.ndarray, block: int) -> np.ndarray:
    """A block-wise filter as in acids-ircam/ddsp_pytorch (rewritten here): each block is convolved
    circularly-then-truncated with the zero-phase-wrapped windowed IR, without carrying tails."""
    ir = np.fft.irfft(target)  # zero-phase form, 128 taps
    ir = np.roll(ir, ir.size // 2) * np.hanning(ir.size)
    ir = np.roll(ir, -ir.size // 2)
    frames = noise.reshape(-1, block)
    n = 2 * block
    xs = np.fft.rfft(np.pad(frames, ((0, 0), (0, block))), n)
    hs = np.fft.rfft(np.pad(ir[:block], (block, 0)) if ir.size >= block else np.pad(ir, (n - ir.size, 0)), n)
    return np.fft.irfft(xs * hs, n)[:, block:].reshape(-1)


def test_the_spectrum_check_catches_a_blockwise_port():
    freqs = np.linspace(0, 8000, 65)
    target = 0.2 + 0.8 * np.exp(-(((freqs - 3000) / 1500) ** 2))
    rng = np.random.default_rng(0)
    y = np.stack([_blockwise_port(rng.uniform(-1, 1, 160 * 800), target, 160) for _ in range(4)])
    f, psd = scipy.signal.welch(y, fs=16000, nperseg=256, axis=-1)
    ir = filters.frequency_impulse_response(torch.from_numpy(target), 0).numpy()
    expect = np.abs(np.fft.rfft(ir, 256)) ** 2 * (1 / 3) / 16000 * 2
    sel = (f > 100) & (f < 7900)
    assert np.abs(10 * np.log10(psd.mean(0)[sel] / expect[sel])).max() > 1.0
