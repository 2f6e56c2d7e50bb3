"""Streaming AP-BWE equals ``extend`` for any chunk sizes; the look-ahead formula bounds an
empirical probe."""

from __future__ import annotations

import itertools

import pytest
import torch

from audiokit.bwe import APBWE, APBWEConfig
from audiokit.io import resample


def snr_db(ref: torch.Tensor, y: torch.Tensor) -> float:
    return float(10 * torch.log10(ref.pow(2).sum() / (ref - y).pow(2).sum().clamp_min(1e-30)))


def stream(model, x: torch.Tensor, sr: int, chunks: list[int]) -> torch.Tensor:
    s = model.stream(sr=sr)
    outs, i = [], 0
    for c in itertools.cycle(chunks):
        if i >= x.shape[-1]:
            break
        outs.append(s.push(x[..., i : i + c]))
        i += c
    outs.append(s.flush())
    return torch.cat(outs, dim=-1)


@pytest.fixture(scope="module")
def tiny():
    return APBWE.from_pretrained("pretrained/ap_bwe_tiny_8k_16k")


@pytest.mark.parametrize("chunks", [[40], [333, 7, 1001], [5000]])
def test_stream_equals_extend_at_the_low_rate(tiny, speech16k, chunks):
    wav, sr = speech16k
    x = torch.as_tensor(resample(wav[None, :48001], sr, 8000)).float()
    ref = tiny.extend(x, 8000, chunk_frames=None)
    y = stream(tiny, x, 8000, chunks)
    assert y.shape == ref.shape
    # float32 convolutions round differently for different input lengths on some kernels (79 dB
    # with torch forced to AVX2, 140 dB with AMX), and the trained model reads the phase of
    # near-empty bins, which amplifies that; a misplaced frame or a lost sample gives < 30 dB
    assert snr_db(ref, y) >= 70


@pytest.mark.parametrize("preset", ["16k_48k", "8k_48k"])
def test_stream_equals_extend_48k_presets(speech48k, preset):
    model = APBWE(APBWEConfig.preset(preset).replace(channels=32, layers=2)).eval()
    wav, sr = speech48k
    lr = model.config.lr_sampling_rate
    x = torch.as_tensor(resample(wav[None, : sr * 2], sr, lr)).float()
    x = torch.cat((x, 0.5 * x.flip(-1)))  # a batch of two
    ref = model.extend(x, lr, chunk_frames=None)
    y = stream(model, x, lr, [lr // 100 + 3, 17])
    assert y.shape == ref.shape
    assert snr_db(ref, y) >= 100


def test_stream_fused_and_other_rates(tiny, speech16k):
    """The fused engine streams too. Input at the target (or another) rate goes through a float32
    downsampler whose rounding depends on the block: AP-BWE reads the phase of the then-empty upper
    band, so the output agrees to ~70-95 dB rather than to float rounding (see docs/deployment.md)."""
    wav, sr = speech16k
    x = wav[None, :24000]
    fused = tiny.fuse("fp32")
    x8 = torch.as_tensor(resample(x, sr, 8000)).float()
    assert snr_db(fused.extend(x8, 8000, chunk_frames=None), stream(fused, x8, 8000, [123])) >= 100
    for rate in (16000, 11025):
        xr = x if rate == sr else torch.as_tensor(resample(x, sr, rate)).float()
        ref = tiny.extend(xr, rate, chunk_frames=None)
        y = stream(tiny, xr, rate, [rate // 50 + 1])
        assert y.shape == ref.shape
        assert snr_db(ref, y) >= 60


def test_short_input_and_errors(tiny):
    x = 0.1 * torch.randn(1, 300)  # shorter than n_fft / 2 after upsampling: zero-padded as extend()
    ref = tiny.extend(x, 8000, chunk_frames=None)
    y = stream(tiny, x, 8000, [7])
    assert y.shape == ref.shape and snr_db(ref, y) >= 100
    s = tiny.stream()
    with pytest.raises(ValueError, match="no audio"):
        s.flush()
    with pytest.raises(ValueError, match="NaN"):
        tiny.stream().push(torch.tensor([[0.0, float("nan")]]))


@pytest.mark.parametrize("preset", ["8k_16k", "16k_48k"])
def test_lookahead_bounds_the_probe(preset):
    """Perturb one input sample and find the earliest output sample that changes: the largest such
    look-ahead over the positions within two hops is within one hop of the formula, never above it."""
    model = APBWE(APBWEConfig.preset(preset).replace(channels=16, layers=2)).eval()
    c = model.config
    lr, hr = c.lr_sampling_rate, c.hr_sampling_rate
    x = 0.1 * torch.randn(1, lr // 2)
    ref = model.extend(x, lr, chunk_frames=None)
    probe = 0.0
    for tau in range(2000, 2000 + 2 * c.hop_size * lr // hr):
        x2 = x.clone()
        x2[0, tau] += 0.5
        first = int((model.extend(x2, lr, chunk_frames=None) != ref).nonzero()[:, 1].min())
        probe = max(probe, tau / lr - first / hr)
    formula = model.stream().lookahead
    assert formula - c.hop_size / hr <= probe <= formula
