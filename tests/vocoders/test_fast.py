"""Inference engines (channels-last fp32 and bf16) against the reference networks."""

from __future__ import annotations

import pytest
import torch

from audiokit.vocoders import APNet, APNet2, APNet2Config, APNetConfig

CONFIGS = [
    (APNet, APNetConfig(channels=32, resblock_kernel_sizes=(3, 7), resblock_dilations=((1, 3, 5),) * 2)),
    (APNet2, APNet2Config(dim=32, intermediate_dim=64, num_layers=3)),
]


def _model(cls, cfg):
    model = cls(cfg)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("gamma", "beta")) or (name.endswith("bias") and "norm" not in name):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("weight_g"):
                p.uniform_(0.5, 1.0, generator=g)
    return model.fold_weight_norm().eval()


def _mel(n: int, batch: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return (torch.randn(batch, 80, n, generator=g) * 2 - 5).clamp(-11.5, 2.5)


def snr_db(ref, est) -> float:
    return float(20 * torch.log10(ref.double().norm() / (ref.double() - est.double()).norm()))


@pytest.mark.parametrize("cls,cfg", CONFIGS)
def test_fp32_engine_equals_reference(cls, cfg):
    model = _model(cls, cfg)
    mel = _mel(150, batch=2)
    with torch.inference_mode():
        ref = model.backbone(mel)
        fast = model.fast_backbone(torch.float32)(mel)
    for r, f in zip(ref, fast):
        assert f.dtype == torch.float32 and f.shape == r.shape
        torch.testing.assert_close(f, r, atol=1e-4 * float(r.abs().max()), rtol=1e-4)
    a, b = model.synthesize(mel), model.synthesize(mel, dtype=torch.float32)
    assert snr_db(a, b) > 90


@pytest.mark.parametrize("cls,cfg", CONFIGS)
def test_bf16_engine_is_close(cls, cfg):
    model = _model(cls, cfg)
    mel = _mel(150)
    ref = model.synthesize(mel)
    out = model.synthesize(mel, dtype=torch.bfloat16)
    assert out.dtype == torch.float32 and out.shape == ref.shape
    assert 25 < snr_db(ref, out) < 80  # really bf16 (not silently fp32), and close


@pytest.mark.parametrize("cls,cfg", CONFIGS)
def test_engine_runs_outside_inference_mode(cls, cfg):
    """Engines hold frozen buffers only, so they also run outside ``inference_mode`` (an inference
    tensor never meets a grad-tracked parameter of the model)."""
    model = _model(cls, cfg)
    mel = _mel(40)
    for dtype in (torch.float32, torch.bfloat16):
        engine = model.fast_backbone(dtype, min_snr_db=0.0)
        assert not any(True for _ in engine.parameters())
        out = engine(mel)
        assert all(o.shape == (1, cfg.n_bins, 40) and not o.requires_grad for o in out)


def test_engine_cache_follows_weights():
    cls, cfg = CONFIGS[0]
    model = _model(cls, cfg)
    e1 = model.fast_backbone(torch.float32)
    assert model.fast_backbone(torch.float32) is e1
    mel = _mel(40)
    before = model.synthesize(mel, dtype=torch.float32)
    with torch.no_grad():
        model.ASP_output_conv.bias.add_(1.0)  # in-place update (as an optimizer step)
    after = model.synthesize(mel, dtype=torch.float32)
    assert model.fast_backbone(torch.float32) is not e1
    torch.testing.assert_close(after, model.synthesize(mel), atol=1e-4, rtol=1e-4)
    assert not torch.allclose(before, after)
    with pytest.raises(ValueError, match="unsupported inference dtype"):
        model.synthesize(mel, dtype=torch.float16)


def test_chunked_engine_matches_whole():
    cls, cfg = CONFIGS[0]
    model = _model(cls, cfg)
    mel = _mel(260)
    whole = model.synthesize(mel, dtype=torch.float32)
    chunked = model.synthesize(mel, dtype=torch.float32, chunk_frames=64)
    assert snr_db(whole, chunked) > 90


def test_weight_normed_model_engine():
    """Engines read the effective weights, so a weight-normalised (training) model works too."""
    cls, cfg = CONFIGS[0]
    model = _model(cls, cfg).apply_weight_norm()
    mel = _mel(50)
    assert snr_db(model.synthesize(mel), model.synthesize(mel, dtype=torch.float32)) > 90


def test_bf16_calibration_moves_sensitive_blocks_to_fp32():
    """Calibration on the bundled tiny APNet with a bar that plain bf16 misses (3 dB above what every
    block in bf16 gives on the calibration clip): it keeps the most sensitive blocks in fp32, one at
    a time, until the bar is met, and the engine it builds is also better on another clip."""
    from audiokit.assets import PRETRAINED_DIR, speech_path
    from audiokit.io import load
    from audiokit.vocoders import SpectralVocoder
    from audiokit.vocoders.fast import calibration_mel

    model = SpectralVocoder.from_pretrained(PRETRAINED_DIR / "apnet_tiny")
    cal = calibration_mel(model)
    cal_ref = model.synthesize(cal)
    plain = model.fast_backbone(torch.bfloat16, min_snr_db=0.0)
    assert plain.precision["fp32_units"] == []
    plain_cal = snr_db(cal_ref, model.head(*plain(cal)).audio)
    assert 20 < plain_cal < 80  # really bf16
    bar = plain_cal + 3.0
    calibrated = model.fast_backbone(torch.bfloat16, min_snr_db=bar)
    kept = calibrated.precision["fp32_units"]
    assert 0 < len(kept) < len(calibrated.units)
    trace = calibrated.precision["snr_trace"]
    assert len(trace) == len(kept) + 1 and trace[-1] >= bar - 0.05 and all(v < bar + 0.05 for v in trace[:-1])
    assert snr_db(cal_ref, model.head(*calibrated(cal)).audio) >= bar - 0.1

    wav, _ = load(speech_path("kal_16k.wav"), mono=True)  # not the calibration clip
    mel = model.mel(wav[0, :32000])
    ref = model.synthesize(mel)
    assert snr_db(ref, model.head(*calibrated(mel)).audio) > snr_db(ref, model.head(*plain(mel)).audio)
    assert snr_db(ref, model.synthesize(mel, dtype=torch.bfloat16)) > 35  # the default engine
