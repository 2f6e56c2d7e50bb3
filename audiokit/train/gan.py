"""The shared amplitude/phase GAN training task of APNet, APNet2 and AP-BWE.

All three train a generator that predicts a log-amplitude and a phase spectrum (and the waveform
made from them) against several discriminator families with a weighted sum of spectral and
adversarial losses. :class:`AmplitudePhaseGANTask` implements that training once; a model adds only

* its generator (:meth:`~AmplitudePhaseGANTask.build_generator`),
* how a batch becomes a :class:`GeneratorOutput` (:meth:`~AmplitudePhaseGANTask.generate`: e.g.
  wav -> mel -> generator, or narrowband wav -> amplitude/phase -> generator),
* optionally the dataset hooks (:meth:`~AmplitudePhaseGANTask.input_simulation`,
  :meth:`~AmplitudePhaseGANTask.feature_transform`) and what to export,
* its weights and recipe: a config dataclass deriving from :class:`AmplitudePhaseGANConfig`
  (adding e.g. ``model``) whose ``loss``/``discriminators`` defaults come from :func:`gan_preset`.

Objective (``k`` runs over the discriminator families of ``config.discriminators``)::

    L_G = amplitude * MSE(A, A^) + phase * (L_IP + L_GD + L_PTD)
          + real_imag * (L1(Re S, Re S^) + L1(Im S, Im S^)) + complex * MSE([Re, Im] S~, [Re, Im] S^)
          + consistency * L_cons(S^, STFT(ISTFT(S^))) + mel * L1(mel(y), mel(y^))
          + sum_k (weight_k * L_adv,k + fm_weight_k * L_FM,k)
    L_D = sum_k weight_k * L_D,k          (L_adv/L_D: "lsgan" or "hinge")

An empty ``discriminators`` mapping trains the generator on the spectral terms alone (no
discriminator, no ``"discriminator"`` optimizer): a cheaper pre-training stage or a CPU-sized recipe.
``loss.phase_weighting: amplitude`` weights the three phase terms by the target amplitude
(:func:`audiokit.losses.amplitude_weight`; none of the papers does, see ``recipes/apnet_tiny``).

with ``A = ln(|S| + stft.log_eps)``, ``S = STFT(y)`` of the target, ``S~ = exp(A) e^{j angle S}``
(AP-BWE's complex target). Per step the discriminators are updated first on the detached output, then
the generator (the discriminators frozen during its backward, which changes nothing in the math
but saves their weight gradients). The published totals are :func:`gan_preset` ``"apnet"``,
``"apnet2"`` and ``"ap_bwe"`` (``apnet.md`` section 5, ``ap_bwe.md`` section 6):

* APNet: ``45 L_A + 100 L_P + 20 (L_C + 2.25 (L_R + L_I)) + 45 L_Mel + L_adv + 2 L_FM`` (MPD+MSD, LSGAN);
* APNet2: the same with hinge losses and MRD weighted 0.1 (``L_FM`` factor 1);
* AP-BWE: ``45 L_A + 100 L_P + 90 L_C + 90 L_S`` + hinge MPD + 0.1 (MRAD + MRPD), gradient clipping 10
  per discriminator family and for the generator.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from audiokit.data import AudioDataConfig, AudioDataset, Simulation, Transform
from audiokit.discriminators import DISCRIMINATOR_OPTIONS, DISCRIMINATORS, OPTIMIZER_ORDER
from audiokit.discriminators import build_discriminator as _build_family
from audiokit.frontend import STFT, MelSpectrogram, amplitude_phase, spectrum_from_amplitude_phase
from audiokit.losses import (
    LOSS_PRESETS,
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
from audiokit.train.config import to_dict
from audiokit.train.optim import build_optimizer
from audiokit.train.task import ExportBundle, TrainingTask, ValidationResult

__all__ = [
    "GeneratorOutput",
    "SpectrumConfig",
    "GANLossConfig",
    "DiscriminatorConfig",
    "AmplitudePhaseGANConfig",
    "AmplitudePhaseGANTask",
    "gan_preset",
    "build_discriminator",
]


# ----------------------------------------------------------------------------------------- contract
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


# ------------------------------------------------------------------------------------------ configs
@dataclass
class SpectrumConfig:
    """The generator's STFT (targets, consistency, ISTFT) and the log-amplitude floor of the targets.

    APNet: (1024, 80, 320) at 16 kHz, ``log_eps`` 1e-5; APNet2: (1024, 256, 1024) at 22.05 kHz, 1e-5;
    AP-BWE: (1024, 80, 320) at 16 or 48 kHz, 1e-4.
    """

    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    log_eps: float = 1e-5


@dataclass
class GANLossConfig:
    """Generator loss weights and forms (0 disables a term), adversarial form, gradient clipping.

    Attributes:
        adversarial: ``"lsgan"`` (APNet) or ``"hinge"`` (APNet2, AP-BWE).
        amplitude: weight of ``MSE(A, A^)``.
        phase: weight of ``L_IP + L_GD + L_PTD``; ``phase_form`` ``"cos"`` (APNet) or ``"abs"``
            (APNet2/AP-BWE), ``phase_boundary`` ``"zero"`` (APNet/APNet2) or ``"none"`` (AP-BWE);
            ``phase_weighting`` ``"none"`` (all papers: every bin counts alike) or ``"amplitude"``
            (bins weighted by the target amplitude, normalised per utterance).
        real_imag: weight of ``L1(Re) + L1(Im)`` against the raw target STFT (APNet: 20 * 2.25 = 45).
        complex: weight of AP-BWE's MSE over stacked real/imag against ``exp(A) e^{j phase}``.
        consistency: weight of the STFT consistency loss; ``consistency_form`` ``"apnet"``
            (``mean |dS|^2``) or ``"ap_bwe"`` (MSE of stacked real/imag after re-analysis).
        mel: weight of the log-mel L1 (``mel_n_mels``, ``mel_f_min``, ``mel_f_max``; the STFT of
            :class:`SpectrumConfig`). APNet: 80 mels up to 8 kHz (its input mel); APNet2: full band.
        generator_grad_clip: max L2 norm of the generator's gradients (AP-BWE 10; None: no clipping).
        discriminator_grad_clip: max L2 norm of each discriminator family's gradients, clipped
            separately (AP-BWE 10).
    """

    adversarial: Literal["lsgan", "hinge"] = "hinge"
    amplitude: float = 45.0
    phase: float = 100.0
    phase_form: Literal["cos", "abs"] = "abs"
    phase_boundary: Literal["zero", "none"] = "zero"
    phase_weighting: Literal["none", "amplitude"] = "none"
    real_imag: float = 45.0
    complex: float = 0.0
    consistency: float = 20.0
    consistency_form: Literal["apnet", "ap_bwe"] = "apnet"
    mel: float = 45.0
    mel_n_mels: int = 80
    mel_f_min: float = 0.0
    mel_f_max: float | None = None
    generator_grad_clip: float | None = None
    discriminator_grad_clip: float | None = None


@dataclass
class DiscriminatorConfig:
    """One discriminator family (the key in ``config.discriminators`` names the class:
    ``mpd``, ``msd``, ``mrd``, ``mrad``, ``mrpd``; see :data:`audiokit.discriminators.DISCRIMINATORS`).

    Attributes:
        weight: weight of its adversarial term in ``L_G`` and of its loss in ``L_D``.
        fm_weight: weight of its feature-matching term in ``L_G`` (APNet 2, else = ``weight``).
        options: constructor arguments (e.g. ``{periods: [2, 3], channels: [8, 16, 16, 16, 16]}`` for
            a small MPD, ``{include_first_fmap: false}`` for AP-BWE's MPD); empty = official size.
    """

    weight: float = 1.0
    fm_weight: float = 1.0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class AmplitudePhaseGANConfig:
    """Base config of an amplitude/phase GAN task; models derive from it and add e.g. ``model``.

    The defaults are APNet2's (:func:`gan_preset` ``"apnet2"``); a model's config sets its own with
    ``field(default_factory=...)`` so that a recipe YAML only lists what it changes.

    ``discriminators`` keeps its order: the discriminator optimizer chains the families in that order
    (the official order is :func:`gan_preset`'s, e.g. ``mrad, mrpd, mpd`` for AP-BWE, which matters
    only to load official optimizer states).
    """

    data: AudioDataConfig = field(default_factory=AudioDataConfig)
    stft: SpectrumConfig = field(default_factory=SpectrumConfig)
    loss: GANLossConfig = field(default_factory=GANLossConfig)
    discriminators: dict[str, DiscriminatorConfig] = field(
        default_factory=lambda: {"mrd": DiscriminatorConfig(0.1, 0.1), "mpd": DiscriminatorConfig()}
    )


def gan_preset(name: str) -> tuple[SpectrumConfig, GANLossConfig, dict[str, DiscriminatorConfig]]:
    """``(stft, loss, discriminators)`` of the official training script of ``"apnet"``, ``"apnet2"``
    or ``"ap_bwe"``, derived from :data:`audiokit.losses.LOSS_PRESETS` (forms, weights, STFT, clipping)
    and :mod:`audiokit.discriminators.presets` (families in the official optimizer order, their
    options); a family's feature-matching weight is its weight times the paper's ``fm_scale``."""
    if name not in LOSS_PRESETS:
        raise ValueError(f"unknown GAN preset {name!r}; use 'apnet', 'apnet2' or 'ap_bwe'")
    p = LOSS_PRESETS[name]
    stft = SpectrumConfig(*p.stft, p.log_eps)
    loss = GANLossConfig(
        adversarial=p.adversarial,  # type: ignore[arg-type]
        amplitude=p.amplitude,
        phase=p.phase,
        phase_form=p.phase_form,  # type: ignore[arg-type]
        phase_boundary=p.phase_boundary,  # type: ignore[arg-type]
        real_imag=p.real_imag,
        complex=p.complex,
        consistency=p.consistency,
        consistency_form=p.consistency_form,  # type: ignore[arg-type]
        mel=p.mel,
        mel_f_max=p.mel_f_max,
        generator_grad_clip=p.grad_clip,
        discriminator_grad_clip=p.grad_clip,
    )
    options = DISCRIMINATOR_OPTIONS.get(name, {})
    discs = {
        k: DiscriminatorConfig(p.disc_weights[k], p.disc_weights[k] * p.fm_scale, dict(options.get(k, {})))
        for k in OPTIMIZER_ORDER[name]
    }
    return stft, loss, discs


def build_discriminator(name: str, config: DiscriminatorConfig) -> nn.Module:
    """The discriminator family ``name`` built with ``config.options``
    (:func:`audiokit.discriminators.build_discriminator`).

    Raises:
        ValueError: unknown family or bad options (names ``discriminators.<name>``).
    """
    if name not in DISCRIMINATORS:
        raise ValueError(f"unknown config key 'discriminators.{name}': use one of {sorted(DISCRIMINATORS)}")
    try:
        return _build_family(name, **config.options)
    except ValueError as e:
        raise ValueError(f"config key 'discriminators.{name}.options': {e}") from None


@contextlib.contextmanager
def _frozen(modules: list[nn.Module]) -> Iterator[None]:
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


# --------------------------------------------------------------------------------------------- task
class AmplitudePhaseGANTask(TrainingTask):
    """Training of an amplitude/phase generator against discriminator families (see module docstring).

    Subclasses implement :meth:`build_generator` and :meth:`generate`, and set ``config_class`` to a
    dataclass deriving from :class:`AmplitudePhaseGANConfig`. Models: ``"generator"`` plus one per
    family (``"mpd"``, ``"mrd"``...); optimizers ``"generator"`` and ``"discriminator"`` (one over all
    families, as the official code), both from ``train.optimizer`` and decayed by ``train.lr_decay``.

    Batches are dicts from :class:`~audiokit.data.AudioDataset` (``"audio"`` is the target waveform);
    ``data.sample_rate`` is the rate of the target and of the mel loss.
    """

    config_class = AmplitudePhaseGANConfig

    def __init__(self, config: Any = None, train: Any = None):
        super().__init__(config, train)
        if not isinstance(self.config, AmplitudePhaseGANConfig):
            raise TypeError(f"{type(self).__name__}.config must derive from AmplitudePhaseGANConfig")
        s = self.config.stft
        self.stft = STFT(s.n_fft, s.hop_length, s.win_length)
        loss = self.config.loss
        self.mel = None
        if loss.mel:
            try:
                self.mel = MelSpectrogram(
                    self.config.data.sample_rate,
                    s.n_fft,
                    s.hop_length,
                    s.win_length,
                    n_mels=loss.mel_n_mels,
                    f_min=loss.mel_f_min,
                    f_max=loss.mel_f_max,
                )
            except ValueError as e:
                raise ValueError(f"config keys 'loss.mel_*' / 'data.sample_rate': {e}") from None
        self._datasets: tuple[AudioDataset, AudioDataset | None] | None = None

    def check_model_agrees(
        self,
        sample_rate: tuple[str, int],
        stft: tuple[str, tuple[int, int, int]],
        log_eps: tuple[str, float] | None = None,
    ) -> None:
        """Check the model's config against ``data``/``stft``: same sample rate, same
        ``(n_fft, hop, win)`` (the losses compare the generator's spectra with the target's), same
        log-amplitude floor if given, and crops a multiple of the hop. Each argument is
        ``(model key for the message, value)``, e.g. ``("model.sample_rate", 16000)``.

        Raises:
            ValueError: naming the disagreeing config keys and their values.
        """
        c = self.config
        (sr_key, sr), (stft_key, model_stft) = sample_rate, stft
        if c.data.sample_rate != sr:
            raise ValueError(
                f"config keys 'data.sample_rate' ({c.data.sample_rate}) and '{sr_key}' ({sr}) must agree"
            )
        loss_stft = (c.stft.n_fft, c.stft.hop_length, c.stft.win_length)
        if tuple(model_stft) != loss_stft:
            raise ValueError(
                f"config key 'stft' {loss_stft} must equal the model's {stft_key} {tuple(model_stft)}: "
                "the losses compare the generator's spectra with the target's"
            )
        if log_eps is not None and c.stft.log_eps != log_eps[1]:
            raise ValueError(
                f"config keys 'stft.log_eps' and '{log_eps[0]}' must agree ({c.stft.log_eps} vs {log_eps[1]})"
            )
        seg, hop = c.data.segment_length, model_stft[1]
        if seg is not None and seg % hop:
            raise ValueError(
                f"config key 'data.segment_length' ({seg}) must be a multiple of the model's hop ({hop}) "
                "so that the generated audio covers the crop"
            )

    # ----------------------------------------------------------------- what a model provides
    def build_generator(self) -> nn.Module:
        """The generator module (on CPU)."""
        raise NotImplementedError

    def generate(self, generator: nn.Module, batch: dict[str, Any]) -> GeneratorOutput:
        """Run ``generator`` on a batch: turn the batch into the generator's input (e.g.
        ``batch["mel"]``, or the amplitude/phase of ``batch["input"]``), call it, wrap its outputs.

        ``generator`` is ``self.models["generator"]`` in training (DDP-wrapped under torchrun) and the
        plain module in validation; call it, do not reach into it.
        """
        raise NotImplementedError

    def input_simulation(self) -> Simulation | None:
        """Dataset hook that derives inputs from each whole utterance before cropping (AP-BWE's
        narrowband ``"input"``); see :data:`audiokit.data.Simulation`. Default: none."""
        return None

    def feature_transform(self) -> Transform | None:
        """Dataset hook run on each cropped item (e.g. :class:`~audiokit.data.MelTransform` for a
        vocoder's input mel). Default: none."""
        return None

    # ----------------------------------------------------------------- TrainingTask
    def build_models(self) -> dict[str, nn.Module]:
        models: dict[str, nn.Module] = {"generator": self.build_generator()}
        for name, cfg in self.config.discriminators.items():
            if name == "generator":
                raise ValueError("config key 'discriminators.generator': reserved name")
            models[name] = build_discriminator(name, cfg)
        return models

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        g_params = self.model("generator").parameters()
        optimizers = {"generator": build_optimizer(g_params, self.train.optimizer)}
        if self.config.discriminators:
            d_params = [p for name in self.config.discriminators for p in self.model(name).parameters()]
            optimizers["discriminator"] = build_optimizer(d_params, self.train.optimizer)
        return optimizers

    def _data(self) -> tuple[AudioDataset, AudioDataset | None]:
        if self._datasets is None:
            self._datasets = self.config.data.datasets(
                seed=self.train.seed, simulate=self.input_simulation(), transform=self.feature_transform()
            )
        return self._datasets

    def _frontend_to(self, device: torch.device) -> None:
        if self.stft.window.device != device:
            self.stft.to(device)
            if self.mel is not None:
                self.mel.to(device)

    def train_dataset(self) -> AudioDataset:
        return self._data()[0]

    def val_dataset(self) -> AudioDataset | None:
        return self._data()[1]

    # ----------------------------------------------------------------- losses
    def targets(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        """Target spectra of waveforms ``(B, T)``: ``spectrum`` (raw STFT), ``log_amplitude``,
        ``phase`` and ``complex`` (``exp(log_amplitude) e^{j phase}``), each ``(B, F, N)``."""
        self._frontend_to(audio.device)
        with torch.no_grad():
            spec = self.stft(audio.float())
            log_amp, phase = amplitude_phase(spec, self.config.stft.log_eps)
            return {
                "spectrum": spec,
                "log_amplitude": log_amp,
                "phase": phase,
                "complex": spectrum_from_amplitude_phase(log_amp, phase),
            }

    def spectral_losses(
        self, out: GeneratorOutput, target: Mapping[str, torch.Tensor], audio: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The weighted-sum's spectral terms (unweighted), in float32, for a completed output and the
        :meth:`targets` of the target waveform ``audio`` (same length as ``out.audio``)."""
        loss = self.config.loss
        self._frontend_to(out.audio.device)
        terms: dict[str, torch.Tensor] = {}
        if out.log_amplitude.shape != target["log_amplitude"].shape:
            raise ValueError(
                f"generator output spectra {tuple(out.log_amplitude.shape)} do not match the target's "
                f"{tuple(target['log_amplitude'].shape)} (check stft.hop_length and the input frames)"
            )
        with self.autocast(enabled=False):
            if loss.amplitude:
                terms["amplitude"] = amplitude_loss(out.log_amplitude, target["log_amplitude"])
            if loss.phase:
                weight = None
                if loss.phase_weighting == "amplitude":
                    weight = amplitude_weight(target["spectrum"].abs())
                elif loss.phase_weighting != "none":
                    raise ValueError(
                        f"config key 'loss.phase_weighting': {loss.phase_weighting!r}; "
                        "use 'none' or 'amplitude'"
                    )
                p = phase_losses(out.phase, target["phase"], loss.phase_form, loss.phase_boundary, weight)
                terms.update(phase_ip=p.ip, phase_gd=p.gd, phase_ptd=p.ptd)
            if loss.real_imag:
                terms["real"], terms["imag"] = real_imag_loss(out.spectrum, target["spectrum"])
            if loss.complex:
                terms["complex"] = complex_mse_loss(out.spectrum, target["complex"])
            if loss.consistency:
                re = self.stft(out.audio)
                if loss.consistency_form == "ap_bwe":
                    re = spectrum_from_amplitude_phase(*amplitude_phase(re, self.config.stft.log_eps))
                if re.shape != out.spectrum.shape:
                    raise ValueError(
                        f"the STFT of the generated audio has {re.shape[-1]} frames, the predicted spectrum "
                        f"{out.spectrum.shape[-1]}: audio must be the centred ISTFT of the spectrum"
                    )
                terms["consistency"] = stft_consistency_loss(out.spectrum, re, loss.consistency_form)
            if loss.mel and self.mel is not None:
                with torch.no_grad():
                    target_mel = self.mel(audio.float())
                terms["mel"] = mel_l1_loss(self.mel(out.audio), target_mel)
        return terms

    def weighted_spectral_loss(self, terms: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``sum`` of the spectral terms with the config's weights."""
        loss = self.config.loss
        weights = {
            "amplitude": loss.amplitude,
            "phase_ip": loss.phase,
            "phase_gd": loss.phase,
            "phase_ptd": loss.phase,
            "real": loss.real_imag,
            "imag": loss.real_imag,
            "complex": loss.complex,
            "consistency": loss.consistency,
            "mel": loss.mel,
        }
        total = None
        for k, v in terms.items():
            total = weights[k] * v if total is None else total + weights[k] * v
        if total is None:
            raise ValueError("config key 'loss': every spectral weight is 0 and no term is computed")
        return total

    def generator_loss(
        self, out: GeneratorOutput, audio: torch.Tensor, target: Mapping[str, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(L_G, logged terms)`` for a completed output and target waveform ``audio`` ``(B, T)``.

        The discriminators are called unwrapped and frozen (no weight gradients).
        """
        audio = _match_length(audio, out.audio)
        target = self.targets(audio) if target is None else target
        terms = self.spectral_losses(out, target, audio)
        total = self.weighted_spectral_loss(terms)
        logged = {k: v.detach() for k, v in terms.items()}
        discs = {name: self.model(name) for name in self.config.discriminators}
        with _frozen(list(discs.values())):
            for name, d in discs.items():
                cfg = self.config.discriminators[name]
                o = d(audio, out.audio)
                adv, _ = generator_adversarial_loss(o.fake_logits, self.config.loss.adversarial)
                fm = feature_matching_loss(o.fake_fmaps, o.real_fmaps, 1.0)
                total = total + cfg.weight * adv + cfg.fm_weight * fm
                logged[f"adv/{name}"] = adv.detach()
                logged[f"fm/{name}"] = fm.detach()
        logged["loss_g"] = total.detach()
        return total, logged

    def discriminator_loss(
        self, audio: torch.Tensor, generated: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(L_D, logged terms)`` on real ``audio`` and detached ``generated`` waveforms ``(B, T)``,
        through ``self.models`` (DDP-wrapped under torchrun)."""
        audio = _match_length(audio, generated)
        total = None
        logged: dict[str, torch.Tensor] = {}
        for name, cfg in self.config.discriminators.items():
            o = self.models[name](audio, generated.detach())
            loss, _, _ = discriminator_adversarial_loss(
                o.fake_logits, o.real_logits, self.config.loss.adversarial
            )
            total = cfg.weight * loss if total is None else total + cfg.weight * loss
            logged[f"d/{name}"] = loss.detach()
        if total is None:
            raise ValueError("config key 'discriminators': at least one discriminator family is required")
        logged["loss_d"] = total.detach()
        return total, logged

    # ----------------------------------------------------------------- steps
    def training_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor | float]:
        loss_cfg = self.config.loss
        out = self.generate(self.models["generator"], batch).complete(self.stft)
        audio = _match_length(batch["audio"].float(), out.audio)
        target = self.targets(audio)
        logged_d: dict[str, torch.Tensor] = {}
        stats_d: dict[str, Any] = {}
        if self.config.discriminators:  # discriminators first, on the detached output
            loss_d, logged_d = self.discriminator_loss(audio, out.audio)
            families = {name: self.model(name) for name in self.config.discriminators}
            stats_d = self.step_optimizer(
                "discriminator", loss_d, max_norm=loss_cfg.discriminator_grad_clip, clip_groups=families
            )
        # then the generator
        loss_g, logged_g = self.generator_loss(out, audio, target)
        stats_g = self.step_optimizer(
            "generator",
            loss_g,
            max_norm=loss_cfg.generator_grad_clip,
            clip_groups={"generator": self.model("generator")},
        )
        return {**logged_d, **logged_g, **stats_d, **stats_g}

    def validation_step(self, batch: dict[str, Any], index: int) -> ValidationResult:
        """Spectral losses of the output plus ``train.val_metrics`` (PESQ/STOI/LSD...) against the
        target, per utterance; writes the generated, target and (if any) ``batch["input"]`` audio."""
        out = self.generate(self.model("generator"), batch).complete(self.stft)
        audio = _match_length(batch["audio"].float(), out.audio)
        terms = self.spectral_losses(out, self.targets(audio), audio)
        metrics = {f"loss/{k}": float(v) for k, v in terms.items()}
        metrics["loss/spectral_total"] = float(self.weighted_spectral_loss(terms))
        sr = self.config.data.sample_rate
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        for b in range(audio.shape[0]):
            n = audio.shape[-1]
            if "length" in batch:
                n = min(int(batch["length"][b]), n)  # leave out the zero padding of collate_padded
            for k, v in self.audio_metrics(audio[b, :n], out.audio[b, :n], sr).items():
                sums[k] = sums.get(k, 0.0) + v
                counts[k] = counts.get(k, 0) + 1
        metrics.update({k: sums[k] / counts[k] for k in sums})
        sounds = {"generated": out.audio[0], "target": audio[0]}
        if isinstance(batch.get("input"), torch.Tensor) and batch["input"].dim() == 2:
            sounds["input"] = batch["input"][0]
        return ValidationResult(metrics, sounds, sr)

    def export(self) -> ExportBundle:
        """The generator's weights; ``config`` is the task config without ``data``, ``loss`` and
        ``discriminators`` (e.g. ``{"stft": ..., "model": ...}``). Models override this to write
        their own pretrained format."""
        config = {
            k: v for k, v in to_dict(self.config).items() if k not in ("data", "loss", "discriminators")
        }
        return ExportBundle(dict(self.model("generator").state_dict()), config)


def _match_length(audio: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Trim or zero-pad target audio ``(B, T)`` to the generated length (the centred ISTFT gives
    ``hop * (N - 1)`` samples)."""
    t = like.shape[-1]
    if audio.shape[-1] >= t:
        return audio[..., :t]
    return torch.nn.functional.pad(audio, (0, t - audio.shape[-1]))
