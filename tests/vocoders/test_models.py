"""Vocoder behaviour: shapes, head arithmetic, chunked synthesis, input validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from audiokit.vocoders import APNet, APNet2, APNet2Config, APNetConfig
from audiokit.vocoders.blocks import GRN, ResBlock1, WNConv1d

SMALL_APNET = APNetConfig(channels=16, resblock_kernel_sizes=(3, 7, 11), resblock_dilations=((1, 3, 5),) * 3)
SMALL_APNET2 = APNet2Config(dim=16, intermediate_dim=32, num_layers=2)


def _nondegenerate(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("gamma", "beta")) or (name.endswith("bias") and "norm" not in name):
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            elif "pwconv" in name and name.endswith("weight"):  # trained-like scale (init std is 0.02)
                p.mul_(10.0)
    return model


def _mel(n_frames: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 80, n_frames, generator=g) * 2 - 5).clamp(-11.5, 2.5)


def snr_db(ref: torch.Tensor, est: torch.Tensor) -> float:
    return float(20 * torch.log10(ref.double().norm() / (ref.double() - est.double()).norm()))


@pytest.mark.parametrize("cls,cfg", [(APNet, SMALL_APNET), (APNet2, SMALL_APNET2)])
def test_output_shapes_and_head_arithmetic(cls, cfg):
    model = _nondegenerate(cls(cfg)).eval()
    mel = _mel(37, batch=2)
    with torch.no_grad():
        out = model(mel)
        logamp, r, i = model.backbone(mel)
    assert out.log_amplitude.shape == out.phase.shape == out.real.shape == (2, 513, 37)
    assert out.audio.shape == (2, cfg.hop_length * 36)
    # phase = atan2(I, R) (numpy as the independent reference), spectrum = exp(logamp) e^{j phase}
    np.testing.assert_allclose(out.phase.numpy(), np.arctan2(i.numpy(), r.numpy()), atol=1e-6)
    spec = np.exp(logamp.double().numpy()) * np.exp(1j * np.arctan2(i.double().numpy(), r.double().numpy()))
    np.testing.assert_allclose(out.spectrum.numpy(), spec, atol=1e-4 * np.abs(spec).max())
    # the waveform is the centred ISTFT (librosa as the reference), length hop * (N - 1)
    import librosa

    ref = librosa.istft(
        spec[0], hop_length=cfg.hop_length, win_length=cfg.win_length, n_fft=cfg.n_fft, center=True
    )
    assert ref.shape[-1] == out.audio.shape[-1]
    np.testing.assert_allclose(out.audio[0].numpy(), ref, atol=1e-4 * np.abs(ref).max())
    # a 2-D mel is treated as one item
    with torch.no_grad():
        assert model(mel[0]).audio.shape == (1, cfg.hop_length * 36)


def test_apnet_chunked_synthesis_is_exact():
    model = _nondegenerate(APNet(SMALL_APNET)).eval()
    mel = _mel(301)
    whole = model.synthesize(mel)
    with torch.no_grad():
        assert torch.equal(whole, model(mel).audio)
    for chunk in (13, 120, 300):
        part = model.synthesize(mel, chunk_frames=chunk)
        assert part.shape == whole.shape
        assert snr_db(whole, part) > 100, chunk
        torch.testing.assert_close(part, whole, atol=1e-5 * float(whole.abs().max()), rtol=0)
    # too little context is visibly wrong: the receptive field is real
    short = model.synthesize(mel, chunk_frames=50, context_frames=10)
    assert snr_db(whole, short) < 60


def test_apnet2_chunking_changes_output_only_through_grn():
    model = _nondegenerate(APNet2(SMALL_APNET2)).eval()
    mel = _mel(301)
    mel[..., 150:] = mel[..., 150:] * 0.2 - 9  # speech-like: the statistics change over time
    whole = model.synthesize(mel)
    part = model.synthesize(mel, chunk_frames=100)
    assert part.shape == whole.shape
    assert snr_db(whole, part) < 80  # global GRN statistics differ per chunk
    # with GRN disabled (gamma = beta = 0: the identity) the convolutions alone are local and exact
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, GRN):
                m.gamma.zero_()
                m.beta.zero_()
    whole, part = model.synthesize(mel), model.synthesize(mel, chunk_frames=100)
    assert snr_db(whole, part) > 100


def test_receptive_field_is_measured_not_assumed():
    """Perturb one input frame; only frames within the stated radius change."""
    model = _nondegenerate(APNet(SMALL_APNET)).eval()
    mel = _mel(200)
    mel2 = mel.clone()
    mel2[..., 100] += 1.0
    with torch.no_grad():
        a, b = model.backbone(mel)[0], model.backbone(mel2)[0]
    changed = ((a - b).abs().amax(dim=1)[0] > 0).nonzero().flatten()
    assert int(changed.min()) == 100 - model.receptive_field
    assert int(changed.max()) == 100 + model.receptive_field


def test_resblock1_matches_its_definition():
    block = ResBlock1(8, 3, (1, 3), weight_norm=True)
    x = torch.randn(2, 8, 30)
    y = x.clone()
    for c1, c2 in zip(block.convs1, block.convs2):
        w1, w2 = c1.effective_weight(), c2.effective_weight()
        t = torch.nn.functional.leaky_relu(y, 0.1)
        t = torch.nn.functional.conv1d(t, w1, c1.bias, padding=c1.dilation[0], dilation=c1.dilation[0])
        t = torch.nn.functional.leaky_relu(t, 0.1)
        y = y + torch.nn.functional.conv1d(t, w2, c2.bias, padding=1)
    torch.testing.assert_close(block(x), y)


def test_grn_matches_numpy():
    grn = GRN(6)
    with torch.no_grad():
        grn.gamma.normal_()
        grn.beta.normal_()
    x = torch.randn(2, 11, 6)
    xn = x.double().numpy()
    g = np.sqrt((xn**2).sum(axis=1, keepdims=True))
    n = g / (g.mean(axis=-1, keepdims=True) + 1e-6)
    ref = grn.gamma.detach().double().numpy() * (xn * n) + grn.beta.detach().double().numpy() + xn
    np.testing.assert_allclose(grn(x).detach().numpy(), ref, rtol=1e-5, atol=1e-5)


def test_weight_norm_conv_fold_unfold_round_trip():
    conv = WNConv1d(4, 5, 3, padding=1, weight_norm=True)
    assert list(conv.state_dict()) == ["bias", "weight_g", "weight_v"]
    with torch.no_grad():
        conv.weight_g.uniform_(0.5, 1.0)
    x = torch.randn(1, 4, 9)
    y = conv(x)
    v = conv.weight_v.detach().double()
    w = conv.weight_g.detach().double() * v / v.norm(dim=(1, 2), keepdim=True)
    torch.testing.assert_close(conv.weight.double(), w)
    conv.fold()
    assert list(conv.state_dict()) == ["bias", "weight"]
    assert torch.equal(conv(x), y)
    conv.unfold()
    assert list(conv.state_dict()) == ["bias", "weight_g", "weight_v"]
    torch.testing.assert_close(conv(x), y, atol=1e-6, rtol=1e-5)


def test_mel_input_validation():
    model = APNet(SMALL_APNET)
    with pytest.raises(ValueError, match="mono"):
        model.mel(torch.zeros(2, 2, 1000))
    with pytest.raises(ValueError, match="NaN"):
        model.mel(torch.full((1000,), math.nan))
    with pytest.raises(ValueError, match="empty"):
        model.mel(torch.zeros(0))
    with pytest.raises(ValueError, match="too short"):
        model.mel(torch.zeros(400))
    with pytest.raises(ValueError, match=r"\(B, 80, N\)"):
        model(torch.zeros(1, 40, 10))
    with pytest.raises(ValueError, match="at least 2"):
        model(torch.zeros(1, 80, 1))
    with pytest.raises(ValueError, match="NaN"):
        model(torch.full((1, 80, 5), math.nan))
    mel = model.mel(torch.randn(16000) * 0.1)
    assert mel.shape == (1, 80, 201)


def test_from_speech_end_to_end(speech16k):
    """Real speech through an untrained model: shapes line up with the input audio."""
    wav, sr = speech16k
    model = APNet(SMALL_APNET).eval()
    mel = model.mel(wav)
    audio = model.synthesize(mel, chunk_frames=400)
    assert audio.shape == (1, 80 * (mel.shape[-1] - 1))
    assert audio.shape[-1] <= wav.shape[-1] < audio.shape[-1] + 80
    assert torch.isfinite(audio).all()
