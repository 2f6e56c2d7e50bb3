"""The mel-inversion amplitude prior (``amplitude_prior="mel_nnls"``): what it adds, checked against
librosa's NNLS inversion; the same output on every inference path; no new parameters."""

from __future__ import annotations

import dataclasses

import librosa
import numpy as np
import pytest
import torch

from audiokit.vocoders import APNet, APNet2, APNet2Config, APNetConfig, SpectralVocoder

SMALL = dict(channels=16, resblock_kernel_sizes=(3, 5), resblock_dilations=((1, 2), (1, 3)))


def _with_prior(model_cls, cfg):
    torch.manual_seed(0)
    plain = model_cls(cfg).eval()
    prior = model_cls(dataclasses.replace(cfg, amplitude_prior="mel_nnls")).eval()
    prior.load_state_dict(plain.state_dict())  # no new parameters or persistent buffers
    return plain, prior


def test_prior_config_validated_and_round_trips(tmp_path):
    with pytest.raises(ValueError, match="amplitude_prior"):
        APNetConfig(amplitude_prior="pinv_magic")
    cfg = APNetConfig(**SMALL, amplitude_prior="mel_nnls")
    assert APNetConfig.from_dict(cfg.to_dict()) == cfg
    model = APNet(cfg)
    model.save_pretrained(tmp_path / "m")
    again = SpectralVocoder.from_pretrained(tmp_path / "m")
    assert again.config.amplitude_prior == "mel_nnls" and again.amplitude_prior is not None


def test_prior_is_librosa_nnls_of_the_mel(speech16k):
    """With the amplitude branch's output at zero the model's amplitude is the NNLS inversion of the
    input mel, computed independently by librosa (compared in the linear domain)."""
    wav, sr = speech16k
    cfg = APNetConfig(**SMALL, amplitude_prior="mel_nnls", weight_norm=False)
    model = APNet(cfg).eval()
    with torch.no_grad():
        model.ASP_output_conv.weight.zero_()
        model.ASP_output_conv.bias.zero_()
    mel = model.mel(wav[:sr])
    with torch.inference_mode():
        amp = model(mel).log_amplitude.exp()[0].double().numpy()
    ref = librosa.feature.inverse.mel_to_stft(
        np.exp(mel[0].double().numpy()), sr=sr, n_fft=cfg.n_fft, power=1.0, fmax=cfg.f_max
    )
    ref = np.maximum(ref, 1e-5)
    assert np.linalg.norm(amp - ref) / np.linalg.norm(ref) < 0.02


@pytest.mark.parametrize(
    "model_cls,cfg",
    [(APNet, APNetConfig(**SMALL)), (APNet2, APNet2Config(dim=8, intermediate_dim=16, num_layers=2))],
)
def test_prior_adds_to_the_log_amplitude(model_cls, cfg, speech16k):
    wav, sr = speech16k
    plain, prior = _with_prior(model_cls, cfg)
    mel = plain.mel(wav[: sr // 2])
    with torch.inference_mode():
        a0, r0, i0 = plain.backbone(mel)
        a1, r1, i1 = prior.backbone(mel)
        expected = librosa.feature.inverse.mel_to_stft(
            np.exp(mel[0].double().numpy()), sr=cfg.sample_rate, n_fft=cfg.n_fft, power=1.0, fmax=cfg.f_max
        )
    torch.testing.assert_close(r1, r0)
    torch.testing.assert_close(i1, i0)
    added = (a1 - a0)[0].exp().double().numpy()
    # the added amplitude is an NNLS solution as consistent with the mel as librosa's (L-BFGS-B)
    basis, target = prior.mel_extractor.mel_basis.double().numpy(), np.exp(mel[0].double().numpy())
    expected = np.maximum(expected, 1e-5)
    residual = lambda x: np.linalg.norm(basis @ x - target) / np.linalg.norm(target)  # noqa: E731
    assert residual(added) <= 1.05 * residual(expected) + 1e-4
    assert np.linalg.norm(added - expected) / np.linalg.norm(expected) < 0.1


def test_prior_same_on_every_inference_path(speech16k):
    """Frame-local, so chunked, streamed and fast-engine outputs equal the whole-input reference."""
    wav, sr = speech16k
    _, model = _with_prior(APNet, APNetConfig(**SMALL))
    mel = model.mel(wav[:sr])
    ref = model.synthesize(mel)
    tol = 1e-4 * ref.abs().max()
    assert (model.synthesize(mel, chunk_frames=37) - ref).abs().max() <= tol
    assert (model.synthesize(mel, dtype=torch.float32) - ref).abs().max() <= tol
    s = model.stream()
    streamed = torch.cat([s.push(mel[..., :50]), s.push(mel[..., 50:]), s.flush()], dim=-1)
    assert (streamed - ref).abs().max() <= tol
    with torch.inference_mode():
        assert (model(mel).audio - ref).abs().max() <= tol
