"""Streaming vocoding: APNet equals the offline output; APNet2's running GRN is measured; the
look-ahead formula matches an empirical probe."""

from __future__ import annotations

import itertools

import pytest
import torch

from audiokit.io import resample
from audiokit.vocoders import APNet, APNet2, APNet2Config, APNetConfig, SpectralVocoder
from audiokit.vocoders.streaming import lookahead_samples


def snr_db(ref: torch.Tensor, y: torch.Tensor) -> float:
    return float(10 * torch.log10(ref.pow(2).sum() / (ref - y).pow(2).sum().clamp_min(1e-30)))


def stream(model, mel: torch.Tensor, chunks: list[int], **kwargs) -> torch.Tensor:
    s = model.stream(**kwargs)
    outs, i = [], 0
    for c in itertools.cycle(chunks):
        if i >= mel.shape[-1]:
            break
        outs.append(s.push(mel[..., i : i + c]))
        i += c
    outs.append(s.flush())
    return torch.cat(outs, dim=-1)


@pytest.fixture(scope="module")
def apnet_tiny():
    return SpectralVocoder.from_pretrained("pretrained/apnet_tiny").fold_weight_norm()


@pytest.mark.parametrize("chunks,seconds", [([1], 1.0), ([7], None), ([13, 1, 50, 333], None)])
def test_apnet_stream_equals_offline(apnet_tiny, speech16k, chunks, seconds):
    wav, sr = speech16k
    if seconds:
        wav = wav[: int(seconds * sr)]
    mel = apnet_tiny.mel(wav, sample_rate=sr)
    with torch.inference_mode():
        ref = apnet_tiny(mel).audio
    y = stream(apnet_tiny, mel, chunks)
    assert y.shape == ref.shape
    assert snr_db(ref, y) >= 100


def test_apnet_stream_fp32_engine_and_batch(apnet_tiny, speech16k):
    wav, sr = speech16k
    mel = apnet_tiny.mel(torch.stack((wav[:24000], wav[8000:32000])), sample_rate=sr)
    ref = apnet_tiny.synthesize(mel, dtype=torch.float32)
    y = stream(apnet_tiny, mel, [9, 40], dtype=torch.float32)
    assert y.shape == ref.shape == (2, 80 * (mel.shape[-1] - 1))
    assert snr_db(ref, y) >= 100


def _random_apnet2(sample_rate=22050, hop=256, win=1024) -> APNet2:
    cfg = APNet2Config(
        sample_rate=sample_rate, hop_length=hop, win_length=win, dim=32, intermediate_dim=64, num_layers=3
    )
    model = APNet2(cfg).eval()
    with torch.no_grad():  # a GRN that matters (the official init has gamma = beta = 0)
        for name, p in model.named_parameters():
            if name.endswith(("grn.gamma", "grn.beta")):
                p.normal_(0, 0.5)
    return model


def test_apnet2_running_grn_approximation(speech16k):
    wav, sr = speech16k
    model = _random_apnet2()
    x = torch.as_tensor(resample(wav[None], sr, 22050)).float()[0]
    mel = model.mel(x, sample_rate=22050)
    with torch.inference_mode():
        ref = model(mel).audio
    running = snr_db(ref, stream(model, mel, [8]))
    per_chunk = snr_db(ref, stream(model, mel, [8], grn="chunk"))
    # measured on this clip (5.8 s): running statistics about 30 dB, per-call statistics about 10 dB
    assert running > 20.0
    assert running > per_chunk + 5.0
    # without GRN (gamma = beta = 0, the official initialisation) streaming is exact
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("grn.gamma", "grn.beta")):
                p.zero_()
        ref0 = model(mel).audio
    assert snr_db(ref0, stream(model, mel, [8])) >= 100


def _small_apnet() -> APNet:
    cfg = APNetConfig(channels=8, resblock_kernel_sizes=(3, 5), resblock_dilations=((1, 2), (1, 3)))
    return APNet(cfg).eval()


@pytest.mark.parametrize("make", [_small_apnet, lambda: _random_apnet2(16000, 80, 320)])
def test_lookahead_matches_probe_and_stream(make):
    """The look-ahead formula (receptive field and window) equals the earliest output sample that a
    perturbed mel frame changes, and the streamer returns exactly the samples no future frame changes."""
    model = make()
    hop = model.hop_length
    mel = torch.randn(1, model.n_mels, 120) - 4
    with torch.inference_mode():
        ref = model(mel).audio
        m = 80
        mel2 = mel.clone()
        mel2[..., m] += 1.0
        if model.global_context:  # GRN: every sample changes; probe the local path through the streamer
            ref, y = stream(model, mel, [1]), stream(model, mel2, [1])
        else:
            y = model(mel2).audio
    first = int((y != ref).nonzero()[:, 1].min())
    assert lookahead_samples(model) == model.lookahead_samples
    # the outermost window samples weigh ~1e-4 (Hann), so a change there can round away in float32
    assert 0 <= lookahead_samples(model) - (m * hop - first) <= 4
    # the streamer is as early as the model allows: after frame k it has returned every sample
    # before the first one that frame k + 1 can change
    s = model.stream()
    returned = 0
    for k in range(mel.shape[-1] - 1):
        returned += s.push(mel[..., k : k + 1]).shape[-1]
        assert returned == max(0, (k + 1) * hop - lookahead_samples(model))


def test_official_presets_lookahead():
    assert APNet(APNetConfig()).lookahead_samples == 66 * 80 + 159  # 339.9 ms at 16 kHz
    assert APNet2(APNet2Config()).lookahead_samples == 30 * 256 + 511  # 371.5 ms at 22.05 kHz


def test_stream_errors(apnet_tiny):
    s = apnet_tiny.stream()
    with pytest.raises(ValueError, match="log-mel of shape"):
        s.push(torch.randn(1, 79, 4))
    with pytest.raises(ValueError, match="at least 2 mel frames"):
        s.flush()
    with pytest.raises(ValueError, match="float32 only"):
        _random_apnet2().stream(dtype=torch.bfloat16)


@pytest.mark.parametrize("chunks", [[1], [37, 150, 3, 400]])
def test_refining_stream_equals_chunked_synthesis(apnet_tiny, speech16k, chunks):
    """With phase refinement the stream is the chunked synthesis, run as frames arrive; its buffer
    stays bounded by the chunk and its context."""
    from audiokit.vocoders.streaming import RefiningStreamer

    wav, sr = speech16k
    mel = apnet_tiny.mel(wav[: 3 * sr])
    ref = apnet_tiny.synthesize(mel, chunk_frames=100, phase_refine_iters=4)
    s = RefiningStreamer(apnet_tiny, phase_refine_iters=4, chunk_frames=100)
    outs, i, longest = [], 0, 0
    for c in itertools.cycle(chunks):
        if i >= mel.shape[-1]:
            break
        outs.append(s.push(mel[..., i : i + c]))
        longest = max(longest, s.buf.shape[-1])
        i += c
    outs.append(s.flush())
    y = torch.cat(outs, dim=-1)
    assert y.shape == ref.shape
    assert (y - ref).abs().max() <= 1e-5 * ref.abs().max()
    assert longest <= 100 + 2 * (s.margin + s.ctx) + 1 + max(chunks)
    # refinement changes the output (the test would not notice a streamer that skipped it)
    assert snr_db(ref, apnet_tiny.synthesize(mel, chunk_frames=100)) < 20
    with pytest.raises(ValueError, match="at least 2 mel frames"):
        RefiningStreamer(apnet_tiny, phase_refine_iters=4).flush()
