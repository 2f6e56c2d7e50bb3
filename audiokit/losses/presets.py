"""Each paper's training objective as data: loss forms and weights of the official training scripts.

Generator objective (terms from :mod:`audiokit.losses`; ``k`` runs over discriminator families)::

    L_G = amplitude * L_A + phase * (L_IP + L_GD + L_PTD) + real_imag * (L_R + L_I)
          + complex * L_C + consistency * L_S + mel * L_Mel
          + sum_k disc_weights[k] * (L_adv,k + fm_scale * L_FM,k)
    L_D = sum_k disc_weights[k] * L_D,k

APNet's ``20 * (L_C + 2.25 (L_R + L_I))`` appears here as ``consistency=20``, ``real_imag=45``
(equal up to float rounding).

This table is the one statement of each paper's objective: :func:`audiokit.train.gan.gan_preset`
(what training uses) is derived from it and from :mod:`audiokit.discriminators.presets`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audiokit.frontend.stft import APBWE_LOG_EPS, APNET_LOG_EPS

__all__ = ["LossPreset", "LOSS_PRESETS"]


@dataclass(frozen=True)
class LossPreset:
    """Loss forms and weights of one paper's official training script.

    Attributes:
        stft: ``(n_fft, hop_length, win_length)`` of the targets, the consistency loss and the ISTFT.
        log_eps: additive floor of the log-amplitude targets ``ln(|X| + log_eps)``.
        phase_form, phase_boundary: see :mod:`audiokit.losses.phase`.
        consistency_form: see :func:`audiokit.losses.stft_consistency_loss`.
        adversarial: ``"lsgan"`` or ``"hinge"``.
        fm_scale: factor inside the feature-matching loss (APNet 2, others 1).
        amplitude, phase, real_imag, complex, consistency, mel: generator weights (0 = term unused).
        mel_f_max: upper edge of the mel-loss filterbank (``None`` = Nyquist). APNet's 8000 makes the
            target its generator's input mel; APNet2 compares full-band mels.
        disc_weights: weight of each discriminator family's adversarial + feature-matching terms
            (keys as the official checkpoint entries, see :mod:`audiokit.discriminators.presets`).
        grad_clip: L2 max-norm of the generator's and of each discriminator family's gradients
            (AP-BWE 10; ``None``: no clipping).
    """

    stft: tuple[int, int, int]
    log_eps: float
    phase_form: str
    phase_boundary: str
    consistency_form: str
    adversarial: str
    fm_scale: float
    amplitude: float
    phase: float
    real_imag: float
    complex: float
    consistency: float
    mel: float
    mel_f_max: float | None
    disc_weights: dict[str, float] = field(default_factory=dict)
    grad_clip: float | None = None


LOSS_PRESETS: dict[str, LossPreset] = {
    "apnet": LossPreset(
        stft=(1024, 80, 320),
        log_eps=APNET_LOG_EPS,
        phase_form="cos",
        phase_boundary="zero",
        consistency_form="apnet",
        adversarial="lsgan",
        fm_scale=2.0,
        amplitude=45.0,
        phase=100.0,
        real_imag=45.0,
        complex=0.0,
        consistency=20.0,
        mel=45.0,
        mel_f_max=8000.0,
        disc_weights={"mpd": 1.0, "msd": 1.0},
    ),
    "apnet2": LossPreset(
        stft=(1024, 256, 1024),
        log_eps=APNET_LOG_EPS,
        phase_form="abs",
        phase_boundary="zero",
        consistency_form="apnet",
        adversarial="hinge",
        fm_scale=1.0,
        amplitude=45.0,
        phase=100.0,
        real_imag=45.0,
        complex=0.0,
        consistency=20.0,
        mel=45.0,
        mel_f_max=None,
        disc_weights={"mpd": 1.0, "mrd": 0.1},
    ),
    "ap_bwe": LossPreset(
        stft=(1024, 80, 320),
        log_eps=APBWE_LOG_EPS,
        phase_form="abs",
        phase_boundary="none",
        consistency_form="ap_bwe",
        adversarial="hinge",
        fm_scale=1.0,
        amplitude=45.0,
        phase=100.0,
        real_imag=0.0,
        complex=90.0,
        consistency=90.0,
        mel=0.0,
        mel_f_max=None,
        disc_weights={"mpd": 1.0, "mrad": 0.1, "mrpd": 0.1},
        grad_clip=10.0,
    ),
}
