"""Griffin-Lim phase refinement of a vocoder's output (``phase_refine_iters``)."""

from __future__ import annotations

import pytest
import torch

from audiokit.assets import PRETRAINED_DIR
from audiokit.frontend import STFT, griffin_lim
from audiokit.vocoders import APNet, APNetConfig


def _consistency_error(model: APNet, log_amplitude: torch.Tensor, audio: torch.Tensor) -> float:
    """Relative distance between the target amplitude and the STFT magnitude of the waveform."""
    target = torch.exp(log_amplitude)
    got = model.stft(audio).abs()[..., : target.shape[-1]]
    return float((got - target).norm() / target.norm())


@pytest.fixture(scope="module")
def model() -> APNet:
    torch.manual_seed(0)
    return APNet(APNetConfig(channels=16, resblock_kernel_sizes=(3,), resblock_dilations=((1,),))).eval()


def test_zero_iterations_is_the_network_output(model, speech16k):
    mel = model.mel(speech16k[0][:16000])
    with torch.inference_mode():
        out = model(mel)
    assert torch.equal(model.synthesize(mel, phase_refine_iters=0), out.audio)


def test_refinement_makes_the_spectrum_consistent(speech16k):
    """The refined waveform's magnitude is closer to the predicted amplitude (what Griffin-Lim
    minimises); a trained model, so that its amplitude is close to a consistent one."""
    from audiokit.vocoders import SpectralVocoder

    model = SpectralVocoder.from_pretrained(PRETRAINED_DIR / "apnet_tiny")
    mel = model.mel(speech16k[0][:16000])
    with torch.inference_mode():
        out = model(mel)
    raw = _consistency_error(model, out.log_amplitude, out.audio)
    refined = model.synthesize(mel, phase_refine_iters=16)
    assert refined.shape == out.audio.shape
    assert _consistency_error(model, out.log_amplitude, refined) < 0.7 * raw


def test_config_default_and_chunks_agree(speech16k):
    torch.manual_seed(1)
    cfg = APNetConfig(
        channels=16, resblock_kernel_sizes=(3,), resblock_dilations=((1,),), phase_refine_iters=8
    )
    model = APNet(cfg).eval()
    mel = model.mel(speech16k[0][:24000])
    whole = model.synthesize(mel)
    assert torch.allclose(whole, model.synthesize(mel, phase_refine_iters=8))
    chunked = model.synthesize(mel, chunk_frames=97)
    snr = 10 * torch.log10(whole.pow(2).sum() / (whole - chunked).pow(2).sum())
    assert snr > 40, f"chunked refinement differs from one pass: {snr:.1f} dB"
    with pytest.raises(ValueError, match="phase_refine_iters"):
        APNetConfig(phase_refine_iters=-1)


def test_griffin_lim_from_the_true_phase_is_a_fixed_point(speech16k):
    """A consistent spectrogram's own phase is a fixed point of Griffin-Lim (closed form)."""
    x = speech16k[0][None, :8000]
    stft = STFT(512, 128, 512)
    spec = stft(x)
    y = griffin_lim(spec.abs(), stft, n_iter=4, momentum=0.0, length=x.shape[-1], init=spec.angle())
    snr = 10 * torch.log10(x.pow(2).sum() / (x - y).pow(2).sum())
    assert snr > 60
    with pytest.raises(ValueError, match="init phase"):
        griffin_lim(spec.abs(), stft, init=spec)
