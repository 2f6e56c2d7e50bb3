"""The torchaudio-identical sinc resampler: against a float64 evaluation of its formula, the kernel
table of the AP-BWE reference, and outputs of torchaudio's own code (committed fixture)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import i0

from audiokit.frontend import SincResample, sinc_resample, sinc_resample_kernel, sinc_resample_length
from tests.conftest import tone

FIXTURE = Path(__file__).resolve().parents[1] / "bwe" / "fixtures" / "sinc_resample_official.npz"


def direct_resample_f64(
    x: np.ndarray, orig: int, new: int, lpw: int = 6, rolloff: float = 0.99, window: str = "hann", beta=None
) -> np.ndarray:
    """y[j] = sum_i x[i] h(i / orig - j / new), evaluated from the formula in float64 (no polyphase,
    no convolution): h(tau) = sinc(pi base tau) w(base tau) base / orig, base tau clamped to +-lpw."""
    g = math.gcd(orig, new)
    orig, new = orig // g, new // g
    base = min(orig, new) * rolloff
    width = math.ceil(lpw * orig / base)
    n_out = -(-new * len(x) // orig)
    y = np.zeros(n_out)
    for j in range(n_out):
        b = j // new
        i = np.arange(b * orig - width, b * orig + width + orig)
        t = np.clip((i / orig - j / new) * base, -lpw, lpw)
        if window == "hann":
            w = np.cos(t * np.pi / lpw / 2) ** 2
        else:
            beta = 14.769656459379492 if beta is None else beta
            w = i0(beta * np.sqrt(1 - (t / lpw) ** 2)) / i0(beta)
        h = np.where(t == 0, 1.0, np.sin(np.pi * t) / np.where(t == 0, 1.0, np.pi * t)) * w * base / orig
        valid = (i >= 0) & (i < len(x))
        y[j] = np.sum(x[i[valid]] * h[valid])
    return y


# (hr, lr): reduced ratio, width and kernel shape for both directions (reference table, section 2.1)
KERNEL_TABLE = {
    (16000, 8000): (13, (1, 1, 28), 7, (2, 1, 15)),
    (16000, 4000): (25, (1, 1, 54), 7, (4, 1, 15)),
    (16000, 2000): (49, (1, 1, 106), 7, (8, 1, 15)),
    (48000, 24000): (13, (1, 1, 28), 7, (2, 1, 15)),
    (48000, 16000): (19, (1, 1, 41), 7, (3, 1, 15)),
    (48000, 12000): (25, (1, 1, 54), 7, (4, 1, 15)),
    (48000, 8000): (37, (1, 1, 80), 7, (6, 1, 15)),
}


@pytest.mark.parametrize("pair", list(KERNEL_TABLE))
def test_kernel_sizes_match_reference_table(pair):
    hr, lr = pair
    w_down, s_down, w_up, s_up = KERNEL_TABLE[pair]
    k, w = sinc_resample_kernel(hr, lr)
    assert (w, tuple(k.shape)) == (w_down, s_down)
    k, w = sinc_resample_kernel(lr, hr)
    assert (w, tuple(k.shape)) == (w_up, s_up)
    assert k.dtype == torch.float32


@pytest.mark.parametrize(
    "orig,new,window",
    [
        (16000, 8000, "hann"),
        (8000, 16000, "hann"),
        (48000, 8000, "hann"),
        (16000, 48000, "hann"),
        (44100, 16000, "hann"),
        (16000, 22050, "hann"),
        (48000, 12000, "kaiser"),
        (12000, 44100, "kaiser"),
    ],
)
def test_matches_float64_formula(orig, new, window):
    x = torch.randn(1203, dtype=torch.float64)
    ref = direct_resample_f64(x.numpy(), orig, new, window=window)
    y64 = sinc_resample(x, orig, new, window=window)
    y32 = sinc_resample(x.float(), orig, new, window=window)
    assert y64.shape[-1] == y32.shape[-1] == len(ref) == math.ceil(new * 1203 / orig)
    # torchaudio evaluates the Kaiser window with a float32 beta, so only the Hann kernel is exact in float64
    assert np.abs(y64.numpy() - ref).max() < (1e-12 if window == "hann" else 1e-6)
    # float32: the kernel is built in float32 (as torchaudio); its positions i / orig - j / new lose
    # precision when the reduced rates are large (441/160), so the tolerance grows with them
    g = math.gcd(orig, new)
    tol = 2e-6 if max(orig, new) // g <= 8 else 5e-5
    assert np.abs(y32.numpy() - ref).max() < tol * np.abs(ref).max()


def test_matches_torchaudio_outputs_fixture():
    f = np.load(FIXTURE)
    for key in f.files:
        if not key.startswith("lr_"):
            continue
        lr, hr = (int(v[:-1]) * 1000 for v in key[3:].split("_"))
        speech = torch.from_numpy(f[f"speech_{hr // 1000}k"])
        lo = sinc_resample(speech, hr, lr)
        assert lo.shape[-1] == f[key].shape[-1]
        assert np.abs(lo.numpy() - f[key]).max() <= 1e-6, key
        hi = sinc_resample(torch.from_numpy(f[key]), lr, hr)[: speech.numel()]
        assert np.abs(hi.numpy() - f[f"nb_{key[3:]}"]).max() <= 1e-6, key
    up = sinc_resample(torch.from_numpy(f["speech_16k"]), 16000, 44100)
    assert up.shape[-1] == f["speech_16k_to_44k1"].shape[-1]
    assert np.abs(up.numpy() - f["speech_16k_to_44k1"]).max() <= 1e-6


@pytest.mark.parametrize("length", [1, 2, 79, 80, 81, 16001])
@pytest.mark.parametrize("orig,new", [(48000, 16000), (16000, 48000), (44100, 16000), (22050, 48000)])
def test_output_length_is_ceil(length, orig, new):
    y = sinc_resample(torch.randn(2, 3, length), orig, new)
    assert (
        y.shape == (2, 3, math.ceil(new * length / orig)) == (2, 3, sinc_resample_length(length, orig, new))
    )


def test_lowpass_and_passband():
    sr = 16000
    low, high = tone(1000.0, sr, 1.0), tone(6000.0, sr, 1.0)
    nb_low = sinc_resample(sinc_resample(low, sr, 8000), 8000, sr)[: low.numel()]
    nb_high = sinc_resample(sinc_resample(high, sr, 8000), 8000, sr)[: high.numel()]
    mid = slice(1000, -1000)
    assert torch.allclose(nb_low[mid], low[mid], atol=2e-3)  # passband kept
    # Hann-windowed sinc of 6 zero crossings: a wide transition band (-7 dB at 3.8 kHz), > 50 dB at 6 kHz
    assert nb_high[mid].abs().max() < 10 ** (-50 / 20) * high.abs().max()


def test_identity_module_and_dtypes():
    x = torch.randn(2, 1000)
    assert sinc_resample(x, 16000, 16000) is x
    m = SincResample(48000, 16000)
    assert torch.equal(m(x), sinc_resample(x, 48000, 16000))
    x64 = x.double()
    assert m(x64).dtype == torch.float64
    assert torch.equal(m(x64), sinc_resample(x64, 48000, 16000))
    assert "48000 -> 16000" in repr(m)


@pytest.mark.parametrize(
    "args,match",
    [((16000, 0), "positive"), ((16000.5, 8000), "integers"), ((-1, 8000), "positive")],
)
def test_bad_rates(args, match):
    with pytest.raises(ValueError, match=match):
        sinc_resample(torch.randn(100), *args)


def test_bad_inputs():
    with pytest.raises(ValueError, match="floating point"):
        sinc_resample(torch.ones(10, dtype=torch.int16), 16000, 8000)
    with pytest.raises(ValueError, match="lowpass_filter_width"):
        sinc_resample_kernel(16000, 8000, lowpass_filter_width=0)
    with pytest.raises(ValueError, match="window"):
        sinc_resample_kernel(16000, 8000, window="blackman")  # type: ignore[arg-type]


def test_module_builds_a_kernel_once_per_input_dtype(monkeypatch):
    """A float64 (or bf16) input used to rebuild the kernel on every call; now it is cached."""
    import audiokit.frontend.resample as R

    calls = []
    real = R.sinc_resample_kernel

    def counting(*args, **kwargs):
        calls.append(kwargs.get("dtype"))
        return real(*args, **kwargs)

    monkeypatch.setattr(R, "sinc_resample_kernel", counting)
    module = R.SincResample(16000, 8000)
    assert calls == [torch.float32]
    x = torch.randn(2, 1600, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    outs = [module(x) for _ in range(3)]
    module(x.float())
    assert calls == [torch.float32, torch.float64]  # one float64 kernel for three calls, none for fp32
    for y in outs:
        torch.testing.assert_close(y, sinc_resample(x, 16000, 8000), rtol=0, atol=0)
