"""Block-by-block DDSP rendering (issue 14 row 10): every streamed stage equals its one-pass
counterpart (independent references: numpy/scipy convolution, the model's own forward on the whole
sequence), and timbre transfer streamed from blocks equals the whole-file transfer."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from audiokit.assets import speech_files
from audiokit.ddsp.filters import frequency_filter
from audiokit.ddsp.model import DDSPAutoencoder, DDSPConfig, DecoderConfig
from audiokit.ddsp.streaming import (
    DDSPStream,
    FrameFilterStream,
    OverlapAddStream,
    ReverbStream,
    render_blocks,
)
from audiokit.io import load, resample


def _pieces(n: int, sizes=(1, 5, 17, 64, 3)) -> list[tuple[int, int]]:
    out, i, k = [], 0, 0
    while i < n:
        out.append((i, min(n, i + sizes[k % len(sizes)])))
        i, k = out[-1][1], k + 1
    return out


def test_overlap_add_stream_equals_numpy_convolution():
    rng = np.random.default_rng(0)
    x, h = rng.standard_normal(1000), rng.standard_normal(37)
    oa, out = OverlapAddStream(delay=18), []
    for a, b in _pieces(x.size, (100, 7, 1, 250)):
        out.append(oa.push(torch.from_numpy(np.convolve(x[a:b], h))[None], b - a))
    y = torch.cat([*out, oa.flush(x.size)], -1)[0].numpy()
    ref = np.convolve(x, h)[18 : 18 + x.size]  # "same" with the group delay removed
    np.testing.assert_allclose(y, ref, atol=1e-10)


def test_frame_filter_stream_equals_frequency_filter():
    torch.manual_seed(0)
    hop, n_frames = 64, 90
    mags = torch.rand(2, n_frames, 65)
    noise = torch.rand(2, n_frames * hop) * 2 - 1
    ref = frequency_filter(noise, mags, 0, "same")
    s, out = FrameFilterStream(hop), []
    for a, b in _pieces(n_frames, (1, 13, 40)):
        out.append(s.push(noise[:, a * hop : b * hop], mags[:, a:b]))
    y = torch.cat([*out, s.flush()], -1)
    assert y.shape == ref.shape
    assert float((y - ref).abs().max()) < 1e-5 * float(ref.abs().max())


def test_reverb_stream_equals_scipy_convolution():
    rng = np.random.default_rng(1)
    x, ir = rng.standard_normal(5000).astype(np.float32), rng.standard_normal(1200).astype(np.float32)
    ir_used = ir.copy()
    ir_used[0] = 0.0  # Reverb zeroes the first tap: the dry path is the explicit add
    ref = x + scipy.signal.fftconvolve(x, ir_used)[: x.size]
    s = ReverbStream(torch.from_numpy(ir))
    parts = [s.push(torch.from_numpy(x[a:b])[None]) for a, b in _pieces(x.size, (700, 1, 1999))]
    y = torch.cat([*parts, s.flush()], -1)[0].numpy()
    np.testing.assert_allclose(y, ref, atol=2e-4)


@pytest.mark.parametrize("reverb", [True, False])
def test_ddsp_stream_equals_one_pass_forward(reverb):
    torch.manual_seed(0)
    cfg = DDSPConfig(
        decoder=DecoderConfig(rnn_channels=32, ch=16, layers_per_stack=2), reverb=reverb, reverb_length=3000
    )
    model = DDSPAutoencoder(cfg).eval()
    with torch.no_grad():
        model.decoder.dense_out.bias[1 + cfg.n_harmonics :] = 5.0  # audible noise (-94 dB at init)
        if reverb:
            model.processor_group.modules_by_name["reverb"].ir.normal_(0, 0.02)
    t = torch.arange(777) / 250
    f0 = (220 * 2 ** torch.sin(2 * np.pi * 0.3 * t)).float()[None]
    ld = (-30 + 20 * torch.sin(2 * np.pi * 0.5 * t)).float()[None]
    noise = model.processor_group.modules_by_name["filtered_noise"]
    noise.generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        ref = model(f0, ld)["audio"]
    for block in (1, 50, 2000):
        out = torch.cat(list(render_blocks(model, f0, ld, block, torch.Generator().manual_seed(3))), -1)
        assert out.shape == ref.shape == (1, 777 * 64)
        assert float((out - ref).abs().max()) < 1e-4 * float(ref.abs().max()), block
    # another seed gives other noise: the comparison above is sensitive to the noise sequence
    other = torch.cat(list(render_blocks(model, f0, ld, 50, torch.Generator().manual_seed(4))), -1)
    assert float((other - ref).abs().max()) > 0.05 * float(ref.abs().max())


def test_ddsp_stream_refuses_a_z_encoder():
    with torch.device("meta"):
        model = DDSPAutoencoder(DDSPConfig(use_z=True, reverb=False))
    with pytest.raises(ValueError, match="z encoder"):
        DDSPStream(model)
    with pytest.raises(ValueError, match="z encoder"):
        next(model.timbre_transfer_blocks([torch.zeros(100)], 16000))


def test_timbre_transfer_blocks_equals_timbre_transfer():
    """Speech at 22.05 kHz, pushed in 0.3 s blocks: soxr's streaming resampler, streaming pYIN and
    loudness and block rendering give the whole-file transfer."""
    torch.manual_seed(0)
    cfg = DDSPConfig(
        decoder=DecoderConfig(rnn_channels=32, ch=16, layers_per_stack=1), reverb_length=2000, f0_max=800.0
    )
    model = DDSPAutoencoder(cfg).eval()
    model.set_data_statistics(-20.0, 57.0)
    speech = load(speech_files(16000)[0], sr=16000, mono=True)[0]
    x = resample(speech, 16000, 22050)[0, : 22050 * 3]
    ref = model.timbre_transfer(x, 22050, pitch_shift=3.0, seed=7)
    blocks = (x[a:b] for a, b in _pieces(x.numel(), (6615, 1, 4000)))
    out = torch.cat(
        list(model.timbre_transfer_blocks(blocks, 22050, pitch_shift=3.0, seed=7, block_frames=97))
    )
    assert out.shape == ref.shape
    assert float(ref.abs().max()) > 1e-3
    assert float((out - ref).abs().max()) < 1e-4 * float(ref.abs().max())
    with pytest.raises(ValueError, match="mono"):
        next(model.timbre_transfer_blocks([torch.zeros(2, 100)], 16000))


def test_synthesize_blocks_equals_the_one_pass_harmonic_and_noise():
    """Independent reference: the controls of ``synthesize`` put through ``harmonic_synthesis`` and
    ``frequency_filter`` on the whole sequence."""
    from audiokit.ddsp.api import (
        default_harmonic_distribution,
        loudness_to_amplitude,
        notes_to_controls,
        synthesize_blocks,
    )
    from audiokit.ddsp.oscillators import harmonic_synthesis, normalize_harmonics

    f0, ld = notes_to_controls(
        [220.0, 330.0, 7900.0], [0.5, 0.3, 0.2], [-20.0, -30.0, -25.0], vibrato_cents=30
    )
    f0, ld = f0[None], ld[None]
    n = f0.shape[1]
    hd = normalize_harmonics(default_harmonic_distribution()[None, None].expand(1, n, -1), f0, 16000)
    mags = torch.rand(1, n, 33, generator=torch.Generator().manual_seed(0)) * 0.1
    white = torch.rand(1, n * 64, generator=torch.Generator().manual_seed(5)) * 2 - 1
    ref = harmonic_synthesis(f0, loudness_to_amplitude(ld, hd, f0), hd, n * 64) + frequency_filter(
        white, mags
    )
    for block in (1, 9, 10_000):
        gen = torch.Generator().manual_seed(5)
        y = torch.cat(
            list(synthesize_blocks(f0, ld, noise_magnitudes=mags, generator=gen, block_frames=block)), -1
        )
        assert y.shape == ref.shape
        assert float((y - ref).abs().max()) < 1e-5 * float(ref.abs().max()), block


def test_timbre_transfer_of_a_long_array_renders_in_blocks(monkeypatch):
    """Above TRANSFER_BLOCKS_ABOVE_SECONDS the in-memory API takes the block path: same result."""
    import audiokit.ddsp.model as model_module

    torch.manual_seed(0)
    cfg = DDSPConfig(decoder=DecoderConfig(rnn_channels=16, ch=8, layers_per_stack=1), reverb_length=500)
    model = DDSPAutoencoder(cfg).eval()
    x = load(speech_files(16000)[0], sr=16000, mono=True)[0][0, : 16000 * 2]
    ref = model.timbre_transfer(x, 16000, seed=3)  # short: the one-pass forward
    calls = []
    real = DDSPAutoencoder.timbre_transfer_blocks

    def spy(self, blocks, *args, **kwargs):
        calls.append(1)
        return real(self, blocks, *args, **kwargs)

    monkeypatch.setattr(model_module, "TRANSFER_BLOCKS_ABOVE_SECONDS", 1.0)
    monkeypatch.setattr(DDSPAutoencoder, "timbre_transfer_blocks", spy)
    out = model.timbre_transfer(x, 16000, seed=3)
    assert calls == [1] and out.shape == ref.shape
    assert float((out - ref).abs().max()) < 1e-4 * float(ref.abs().max())


def test_model_stream_equals_forward_with_the_same_seed():
    torch.manual_seed(1)
    model = DDSPAutoencoder(
        DDSPConfig(decoder=DecoderConfig(rnn_channels=16, ch=8, layers_per_stack=1))
    ).eval()
    with torch.no_grad():
        model.decoder.dense_out.bias[1 + model.config.n_harmonics :] = 5.0  # audible noise
    f0 = torch.linspace(200.0, 400.0, 300)[None]
    ld = torch.full((1, 300), -25.0)
    s = model.stream(seed=9)
    out = torch.cat([s.push(f0[:, i : i + 7], ld[:, i : i + 7]) for i in range(0, 300, 7)] + [s.flush()], -1)
    model.processor_group.modules_by_name["filtered_noise"].generator = torch.Generator().manual_seed(9)
    with torch.no_grad():
        ref = model(f0, ld)["audio"]
    assert out.shape == ref.shape
    assert float((out - ref).abs().max()) < 1e-4 * float(ref.abs().max())
