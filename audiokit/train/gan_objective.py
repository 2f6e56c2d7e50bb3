"""The amplitude/phase GAN objective (the loss computation of :mod:`audiokit.train.gan`).

:class:`GeneratorOutput` is what a generator hands to the losses; :class:`AmplitudePhaseObjective`
owns the STFT and mel front-ends and computes the targets, the spectral terms, their weighted sum
(term names and weights in one table, :data:`TERM_WEIGHTS`), ``L_G`` and ``L_D``. The objective is
stated in :mod:`audiokit.train.gan`'s docstring.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch
from torch import nn

from audiokit.frontend import STFT, MelSpectrogram, amplitude_phase, spectrum_from_amplitude_phase
from audiokit.losses import (
    amplitude_loss,
    amplitude_weight,
    complex_mse_loss,
    discriminator_adversarial_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    mel_l1_loss,
    phase_losses,
    real_imag_loss,
    stft_consistency_loss,
)
from audiokit.train.gan_config import DiscriminatorConfig, GANLossConfig, SpectrumConfig

__all__ = ["GeneratorOutput", "AmplitudePhaseObjective", "TERM_WEIGHTS", "frozen", "match_length"]

#: spectral term -> the :class:`GANLossConfig` field that weighs it (read by the computation and the sum)
TERM_WEIGHTS: dict[str, str] = {
    "amplitude": "amplitude",
    "phase_ip": "phase",
    "phase_gd": "phase",
    "phase_ptd": "phase",
    "real": "real_imag",
    "imag": "real_imag",
    "complex": "complex",
    "consistency": "consistency",
    "mel": "mel",
}


@dataclass
class GeneratorOutput:
    """What a generator produces, in the frontend's conventions (frequency on dim 1).

    Attributes:
        log_amplitude: ``(B, F, N)`` predicted ``ln(|S| + eps)`` (compared with the target's).
        phase: ``(B, F, N)`` predicted phase in radians (wrapped or not: the losses anti-wrap).
        spectrum: complex ``(B, F, N)`` spectrum that is inverted to audio (APNet's ``rea + j imag``,
            AP-BWE's ``com``); ``None``: ``exp(log_amplitude) e^{j phase}``.
        audio: ``(B, T)`` waveform; ``None``: the centred ISTFT of ``spectrum`` (``hop * (N - 1)``
            samples, as the official code).
    """

    log_amplitude: torch.Tensor
    phase: torch.Tensor
    spectrum: torch.Tensor | None = None
    audio: torch.Tensor | None = None

    def complete(self, stft: STFT) -> GeneratorOutput:
        """A float32 copy with ``spectrum`` and ``audio`` filled in; checks the shapes."""
        log_amp, phase = self.log_amplitude.float(), self.phase.float()
        if log_amp.dim() != 3 or log_amp.shape != phase.shape:
            raise ValueError(
                f"generator output: log_amplitude {tuple(log_amp.shape)} and phase {tuple(phase.shape)} "
                "must both be (B, F, N)"
            )
        if log_amp.shape[1] != stft.n_bins:
            raise ValueError(
                f"generator output has {log_amp.shape[1]} frequency bins; stft.n_fft={stft.n_fft} "
                f"gives {stft.n_bins}"
            )
        spec = self.spectrum
        if spec is None:
            spec = spectrum_from_amplitude_phase(log_amp, phase)
        elif not torch.is_complex(spec) or spec.shape != log_amp.shape:
            raise ValueError(f"generator output: spectrum must be complex {tuple(log_amp.shape)}")
        spec = spec.to(torch.complex64) if spec.dtype != torch.complex128 else spec
        audio = self.audio.float() if self.audio is not None else stft.inverse(spec)
        if audio.dim() != 2 or audio.shape[0] != log_amp.shape[0]:
            raise ValueError(f"generator output: audio must be (B, T), got {tuple(audio.shape)}")
        return GeneratorOutput(log_amp, phase, spec, audio)


@contextlib.contextmanager
def frozen(modules: list[nn.Module]) -> Iterator[None]:
    """Turn off ``requires_grad`` of the modules' trainable parameters inside the block."""
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def match_length(audio: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Trim or zero-pad target audio ``(B, T)`` to the generated length (the centred ISTFT gives
    ``hop * (N - 1)`` samples)."""
    t = like.shape[-1]
    if audio.shape[-1] >= t:
        return audio[..., :t]
    return torch.nn.functional.pad(audio, (0, t - audio.shape[-1]))


class AmplitudePhaseObjective:
    """The spectral and adversarial losses of an amplitude/phase generator.

    Args:
        stft: the generator's STFT and log-amplitude floor.
        loss: weights and forms of the terms.
        sample_rate: rate of the target audio (for the mel loss).
        no_autocast: returns the context in which the spectral terms are computed (the task's
            ``autocast(enabled=False)``); default: no context.

    Raises:
        ValueError: the mel settings do not fit ``sample_rate`` (names the config keys).
    """

    def __init__(
        self,
        stft: SpectrumConfig,
        loss: GANLossConfig,
        sample_rate: int,
        no_autocast: Callable[[], AbstractContextManager] = contextlib.nullcontext,
    ):
        self.spectrum = stft
        self.loss = loss
        self.no_autocast = no_autocast
        self.stft = STFT(stft.n_fft, stft.hop_length, stft.win_length)
        self.mel: MelSpectrogram | None = None
        if loss.mel:
            try:
                self.mel = MelSpectrogram(
                    sample_rate,
                    stft.n_fft,
                    stft.hop_length,
                    stft.win_length,
                    n_mels=loss.mel_n_mels,
                    f_min=loss.mel_f_min,
                    f_max=loss.mel_f_max,
                )
            except ValueError as e:
                raise ValueError(f"config keys 'loss.mel_*' / 'data.sample_rate': {e}") from None

    def to(self, device: torch.device) -> None:
        """Move the front-ends to ``device`` (a no-op when they are there)."""
        if self.stft.window.device != device:
            self.stft.to(device)
            if self.mel is not None:
                self.mel.to(device)

    def targets(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        """Target spectra of waveforms ``(B, T)``: ``spectrum`` (raw STFT), ``log_amplitude``,
        ``phase`` and ``complex`` (``exp(log_amplitude) e^{j phase}``), each ``(B, F, N)``."""
        self.to(audio.device)
        with torch.no_grad():
            spec = self.stft(audio.float())
            log_amp, phase = amplitude_phase(spec, self.spectrum.log_eps)
            return {
                "spectrum": spec,
                "log_amplitude": log_amp,
                "phase": phase,
                "complex": spectrum_from_amplitude_phase(log_amp, phase),
            }

    def spectral_terms(
        self, out: GeneratorOutput, target: Mapping[str, torch.Tensor], audio: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The weighted sum's spectral terms (unweighted), in float32, for a completed output and the
        :meth:`targets` of the target waveform ``audio`` (same length as ``out.audio``)."""
        loss = self.loss
        self.to(out.audio.device)
        terms: dict[str, torch.Tensor] = {}
        if out.log_amplitude.shape != target["log_amplitude"].shape:
            raise ValueError(
                f"generator output spectra {tuple(out.log_amplitude.shape)} do not match the target's "
                f"{tuple(target['log_amplitude'].shape)} (check stft.hop_length and the input frames)"
            )
        with self.no_autocast():
            if loss.amplitude:
                terms["amplitude"] = amplitude_loss(out.log_amplitude, target["log_amplitude"])
            if loss.phase:
                terms.update(self._phase_terms(out, target))
            if loss.real_imag:
                terms["real"], terms["imag"] = real_imag_loss(out.spectrum, target["spectrum"])
            if loss.complex:
                terms["complex"] = complex_mse_loss(out.spectrum, target["complex"])
            if loss.consistency:
                terms["consistency"] = self._consistency_term(out)
            if loss.mel and self.mel is not None:
                with torch.no_grad():
                    target_mel = self.mel(audio.float())
                terms["mel"] = mel_l1_loss(self.mel(out.audio), target_mel)
        return terms

    def _phase_terms(
        self, out: GeneratorOutput, target: Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        loss = self.loss
        weight = None
        if loss.phase_weighting == "amplitude":
            weight = amplitude_weight(target["spectrum"].abs())
        elif loss.phase_weighting != "none":
            raise ValueError(
                f"config key 'loss.phase_weighting': {loss.phase_weighting!r}; use 'none' or 'amplitude'"
            )
        p = phase_losses(out.phase, target["phase"], loss.phase_form, loss.phase_boundary, weight)
        return {"phase_ip": p.ip, "phase_gd": p.gd, "phase_ptd": p.ptd}

    def _consistency_term(self, out: GeneratorOutput) -> torch.Tensor:
        re = self.stft(out.audio)
        if self.loss.consistency_form == "ap_bwe":
            re = spectrum_from_amplitude_phase(*amplitude_phase(re, self.spectrum.log_eps))
        if re.shape != out.spectrum.shape:
            raise ValueError(
                f"the STFT of the generated audio has {re.shape[-1]} frames, the predicted spectrum "
                f"{out.spectrum.shape[-1]}: audio must be the centred ISTFT of the spectrum"
            )
        return stft_consistency_loss(out.spectrum, re, self.loss.consistency_form)

    def weighted_sum(self, terms: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``sum`` of the spectral terms with the config's weights (:data:`TERM_WEIGHTS`)."""
        total = None
        for k, v in terms.items():
            w = getattr(self.loss, TERM_WEIGHTS[k])
            total = w * v if total is None else total + w * v
        if total is None:
            raise ValueError("config key 'loss': every spectral weight is 0 and no term is computed")
        return total

    def generator_loss(
        self,
        out: GeneratorOutput,
        audio: torch.Tensor,
        discriminators: Mapping[str, tuple[nn.Module, DiscriminatorConfig]],
        target: Mapping[str, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(L_G, logged terms)`` for a completed output and target waveform ``audio`` ``(B, T)``.

        ``discriminators`` maps each family to ``(module, config)``; the modules are frozen during
        the call (no weight gradients).
        """
        audio = match_length(audio, out.audio)
        target = self.targets(audio) if target is None else target
        terms = self.spectral_terms(out, target, audio)
        total = self.weighted_sum(terms)
        logged = {k: v.detach() for k, v in terms.items()}
        with frozen([d for d, _ in discriminators.values()]):
            for name, (d, cfg) in discriminators.items():
                o = d(audio, out.audio)
                adv, _ = generator_adversarial_loss(o.fake_logits, self.loss.adversarial)
                fm = feature_matching_loss(o.fake_fmaps, o.real_fmaps, 1.0)
                total = total + cfg.weight * adv + cfg.fm_weight * fm
                logged[f"adv/{name}"] = adv.detach()
                logged[f"fm/{name}"] = fm.detach()
        logged["loss_g"] = total.detach()
        return total, logged

    def discriminator_loss(
        self,
        audio: torch.Tensor,
        generated: torch.Tensor,
        discriminators: Mapping[str, tuple[nn.Module, DiscriminatorConfig]],
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(L_D, logged terms)`` on real ``audio`` and detached ``generated`` waveforms ``(B, T)``."""
        audio = match_length(audio, generated)
        total = None
        logged: dict[str, torch.Tensor] = {}
        for name, (d, cfg) in discriminators.items():
            o = d(audio, generated.detach())
            loss, _, _ = discriminator_adversarial_loss(o.fake_logits, o.real_logits, self.loss.adversarial)
            total = cfg.weight * loss if total is None else total + cfg.weight * loss
            logged[f"d/{name}"] = loss.detach()
        if total is None:
            raise ValueError("config key 'discriminators': at least one discriminator family is required")
        logged["loss_d"] = total.detach()
        return total, logged
