"""The fused inference path computes the model's function: fp32 to float rounding, bf16 closely."""

from __future__ import annotations

import pytest
import torch

from audiokit.bwe import APBWE, APBWEConfig
from audiokit.bwe.fused import FusedAPBWE

pytestmark = pytest.mark.usefixtures("one_thread")


def trained_like(seed: int = 0, **kw) -> APBWE:
    """A small model with non-trivial norms, scales and biases (everything the folding touches)."""
    torch.manual_seed(seed)
    model = APBWE(APBWEConfig.preset("16k_48k").replace(channels=32, layers=3, **kw)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma") or "norm" in name or name.endswith("bias"):
                p.add_(0.2 * torch.randn_like(p))
    return model


def spectra(n: int = 70):
    return torch.randn(2, 513, n) - 3, torch.rand(2, 513, n) * 6.28 - 3.14


def test_fp32_equals_model():
    model = trained_like()
    fused = model.fuse("fp32")
    assert isinstance(fused, FusedAPBWE) and not any(p.requires_grad for p in fused.parameters())
    mag, pha = spectra()
    with torch.inference_mode():
        a, b = model(mag, pha), fused(mag, pha)
    torch.testing.assert_close(b.log_amplitude, a.log_amplitude, atol=2e-5, rtol=0)
    w = a.log_amplitude.exp()
    d = b.phase - a.phase
    aw = (d - 2 * torch.pi * torch.round(d / (2 * torch.pi))).abs()
    assert (aw * w).sum() / w.sum() < 1e-5


def test_fp32_extend_equals_model_and_chunks():
    model = trained_like()
    fused = model.fuse("fp32", chunk_frames=40)
    x = torch.randn(2, 16000 + 33)
    with torch.inference_mode():
        ref = model.extend(x, 16000, chunk_frames=None)
        y = fused.extend(x, 16000)  # its own chunk size
        whole = fused.extend(x, 16000, chunk_frames=None)
    assert y.shape == ref.shape == (2, 3 * (16000 + 33))
    assert (y - ref).abs().max() <= 1e-5 * ref.abs().max()
    assert (whole - ref).abs().max() <= 1e-5 * ref.abs().max()


def test_bf16_is_close():
    model = trained_like()
    fused = model.fuse("bf16")
    x = torch.randn(1, 8000)
    with torch.inference_mode():
        ref = model.extend(x, 16000)
        y = fused.extend(x, 16000)
    snr = 20 * torch.log10(ref.norm() / (y - ref).norm())
    assert 20 < snr < 80  # really bfloat16, still close


def test_masked_fixed_shape_equals_unpadded():
    """The compiled path pads chunks to one shape and masks the padding before every convolution:
    the valid frames must equal the unpadded computation (this checks the masking, eagerly)."""
    fused = trained_like().fuse("fp32")
    mag, pha = spectra(50)
    fixed = 64
    mask = torch.zeros(2, fixed, 1)
    mask[:, :50] = 1
    pad = (0, fixed - 50)
    with torch.inference_mode():
        a_mag, a_pha = fused._network(mag, pha)
        b_mag, b_pha = fused._network(
            torch.nn.functional.pad(mag, pad, value=7.0), torch.nn.functional.pad(pha, pad, value=1.0), mask
        )
    torch.testing.assert_close(b_mag[:, :50], a_mag, atol=2e-5, rtol=0)
    assert (b_pha[:, :50] - a_pha).abs().max() < 1e-3


def test_bad_precision():
    with pytest.raises(ValueError, match="precision"):
        trained_like().fuse("fp16")


def test_concurrent_chunks_give_the_same_result_and_restore_threads():
    model = trained_like()
    x = torch.randn(2, 16000)
    with torch.inference_mode():
        seq = model.fuse("fp32", chunk_frames=30, workers=1).extend(x, 16000)
        par = model.fuse("fp32", chunk_frames=30, workers=3).extend(x, 16000)
    assert torch.get_num_threads() == 1  # the module fixture's setting is back
    assert (par - seq).abs().max() <= 1e-6 * seq.abs().max()
    with pytest.raises(ValueError, match="workers"):
        model.fuse("fp32", workers=0)
