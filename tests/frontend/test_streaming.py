"""Streaming frontend pieces equal their one-pass counterparts for any chunk sizes."""

from __future__ import annotations

import itertools

import pytest
import torch

from audiokit.frontend import STFT, sinc_resample
from audiokit.frontend.streaming import (
    FrameStreamer,
    StreamingISTFT,
    StreamingResample,
    StreamingSTFT,
    window_support,
)

CHUNKS = ([1], [7], [333, 1, 50, 2048])


def _stream(obj, x: torch.Tensor, chunks: list[int], flush_kwargs=None) -> torch.Tensor:
    outs, i = [], 0
    for c in itertools.cycle(chunks):
        if i >= x.shape[-1]:
            break
        outs.append(obj.push(x[..., i : i + c]))
        i += c
    outs.append(obj.flush(**(flush_kwargs or {})))
    return torch.cat(outs, dim=-1)


RATES = [(16000, 8000), (8000, 16000), (44100, 16000), (8000, 48000), (16000, 16000)]


@pytest.mark.parametrize("rates", RATES)
@pytest.mark.parametrize("chunks", CHUNKS[1:])
def test_resample_stream_equals_offline(rates, chunks):
    x = torch.randn(2, 4001)
    ref = sinc_resample(x, *rates)
    y = _stream(StreamingResample(*rates), x, chunks)
    assert y.shape == ref.shape
    torch.testing.assert_close(y, ref, atol=2e-6, rtol=0)


@pytest.mark.parametrize("n_fft,hop,win", [(1024, 80, 320), (512, 128, 512), (64, 16, 48)])
@pytest.mark.parametrize("chunks", CHUNKS)
def test_stft_stream_equals_offline(n_fft, hop, win, chunks):
    stft = STFT(n_fft, hop, win)
    x = torch.randn(2, 3 * n_fft + 37)
    ref = stft(x)
    y = _stream(StreamingSTFT(n_fft, hop, stft.window), x, chunks)
    assert y.shape == ref.shape
    torch.testing.assert_close(y, ref, atol=1e-4, rtol=1e-5)


def test_stft_stream_waits_only_for_the_window_support():
    n_fft, hop, win = 1024, 80, 320
    s = StreamingSTFT(n_fft, hop, torch.hann_window(win))
    assert window_support(torch.hann_window(win), n_fft) == (353, 672)
    # frame 0 (centre 0) needs samples up to win / 2 - 1 = 159, not n_fft / 2
    assert s.push(torch.randn(1, 513)).shape[-1] == 1 + (513 - 160) // hop
    assert s.lookahead == 159


@pytest.mark.parametrize("n_fft,hop,win", [(1024, 80, 320), (512, 128, 512), (64, 16, 48)])
@pytest.mark.parametrize("chunks", CHUNKS)
@pytest.mark.parametrize("length", [None, "signal"])
def test_istft_stream_equals_offline(n_fft, hop, win, chunks, length):
    stft = STFT(n_fft, hop, win)
    x = torch.randn(2, 5 * n_fft + 11)
    spec = stft(x)
    n = x.shape[-1] if length else None
    ref = stft.inverse(spec, length=n)
    y = _stream(StreamingISTFT(n_fft, hop, stft.window), spec, chunks, {"length": n})
    assert y.shape == ref.shape
    torch.testing.assert_close(y, ref, atol=2e-6, rtol=0)


def test_frame_streamer_matches_a_same_padded_conv_stack():
    convs = [torch.nn.Conv1d(3, 3, 5, padding=2), torch.nn.Conv1d(3, 3, 3, padding=3, dilation=3)]

    def net(x, start, stop):
        with torch.no_grad():
            return (convs[1](torch.tanh(convs[0](x))),)

    x = torch.randn(1, 3, 97)
    ref = net(x, 0, 0)[0]
    for chunks in CHUNKS:
        fs = FrameStreamer(net, radius=2 + 3, max_frames=16)
        outs, i = [], 0
        for c in itertools.cycle(chunks):
            if i >= x.shape[-1]:
                break
            out = fs.push(x[..., i : i + c])
            i += c
            if out is not None:
                outs.append(out[0])
        outs.append(fs.flush()[0])
        torch.testing.assert_close(torch.cat(outs, -1), ref, atol=1e-6, rtol=0)


def test_stream_errors():
    s = StreamingSTFT(1024, 80, torch.hann_window(320))
    s.push(torch.randn(1, 100))
    with pytest.raises(ValueError, match="too short"):
        s.flush()
    with pytest.raises(ValueError, match="after flush"):
        s.push(torch.randn(1, 100))
    with pytest.raises(ValueError, match="NaN"):
        StreamingResample(8000, 16000).push(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(ValueError, match="complex frames"):
        StreamingISTFT(64, 16, torch.hann_window(64)).push(torch.randn(1, 33, 4))
