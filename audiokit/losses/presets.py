"""Each paper's training objective as data: loss forms and weights of the official training scripts.

Generator objective (terms from :mod:`audiokit.losses`; ``k`` runs over discriminator families)::

    L_G = amplitude * L_A + phase * (L_IP + L_GD + L_PTD) + real_imag * (L_R + L_I)
          + complex * L_C + consistency * L_S + mel * L_Mel
          + sum_k disc_weights[k] * (L_adv,k + fm_scale * L_FM,k)
    L_D = sum_k disc_weights[k] * L_D,k

APNet's ``20 * (L_C + 2.25 (L_R + L_I))`` appears here as ``consistency=20``, ``real_imag=45``
(equal up to float rounding).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audiokit.frontend.stft import APBWE_LOG_EPS, APNET_LOG_EPS

__all__ = ["LossPreset", "LOSS_PRESETS"]


@dataclass(frozen=True)
class LossPreset:
    """Loss forms and weights of one paper's official training script.

    Attributes:
        log_eps: additive floor of the log-amplitude targets ``ln(|X| + log_eps)``.
        phase_form, phase_boundary: see :mod:`audiokit.losses.phase`.
        consistency_form: see :func:`audiokit.losses.stft_consistency_loss`.
        adversarial: ``"lsgan"`` or ``"hinge"``.
        fm_scale: factor inside the feature-matching loss (APNet 2, others 1).
        amplitude, phase, real_imag, complex, consistency, mel: generator weights (0 = term unused).
        mel_f_max: upper edge of the mel-loss filterbank (``None`` = Nyquist); ``"input"`` means the
            target is the generator's input mel (APNet).
        disc_weights: weight of each discriminator family's adversarial + feature-matching terms
            (keys as the official checkpoint entries, see :mod:`audiokit.discriminators.presets`).
    """

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
    mel_f_max: float | str | None
    disc_weights: dict[str, float] = field(default_factory=dict)


LOSS_PRESETS: dict[str, LossPreset] = {
    "apnet": LossPreset(
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
        mel_f_max="input",
        disc_weights={"mpd": 1.0, "msd": 1.0},
    ),
    "apnet2": LossPreset(
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
    ),
}
