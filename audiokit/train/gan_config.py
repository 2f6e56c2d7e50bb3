"""Configs of the amplitude/phase GAN training (:mod:`audiokit.train.gan`): the generator's STFT, the
loss weights and forms, the discriminator families, and the published presets (:func:`gan_preset`).

Every preset is derived from :data:`audiokit.losses.LOSS_PRESETS` and
:mod:`audiokit.discriminators.presets`; nothing is tabulated here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from audiokit.data import AudioDataConfig
from audiokit.discriminators import DISCRIMINATOR_OPTIONS, DISCRIMINATORS, OPTIMIZER_ORDER
from audiokit.discriminators import build_discriminator as build_family
from audiokit.losses import LOSS_PRESETS

__all__ = [
    "SpectrumConfig",
    "GANLossConfig",
    "DiscriminatorConfig",
    "AmplitudePhaseGANConfig",
    "gan_preset",
    "build_discriminator",
]


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
        return build_family(name, **config.options)
    except ValueError as e:
        raise ValueError(f"config key 'discriminators.{name}.options': {e}") from None
