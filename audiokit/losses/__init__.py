"""Training losses of APNet, APNet2, AP-BWE and HiFi-GAN-style GAN vocoders.

Functional forms plus ``nn.Module`` wrappers where a module holds state (an STFT, a mel
filterbank). Definitions follow the official code exactly; :data:`LOSS_PRESETS` holds each paper's
forms and weights and :data:`PHASE_LOSS_STYLES` its phase-loss variant.

Shapes: spectra, amplitudes and phases are ``(B, F, N)`` (frequency on dim 1); waveforms ``(B, T)``.
"""

from audiokit.losses.adversarial import (
    FEATURE_MATCHING_SCALES,
    discriminator_adversarial_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)
from audiokit.losses.mel import MelL1Loss, mel_l1_loss
from audiokit.losses.multi_resolution import (
    PWG_RESOLUTIONS,
    MultiResolutionSTFTLoss,
    STFTLossTerms,
    log_magnitude_loss,
    spectral_convergence_loss,
    stft_magnitude,
)
from audiokit.losses.phase import (
    PHASE_LOSS_STYLES,
    PhaseLoss,
    PhaseLossTerms,
    amplitude_weight,
    anti_wrapping,
    group_delay_loss,
    instantaneous_phase_loss,
    phase_difference,
    phase_losses,
    phase_time_difference_loss,
)
from audiokit.losses.presets import LOSS_PRESETS, LossPreset
from audiokit.losses.spectral import (
    STFTConsistencyLoss,
    amplitude_loss,
    complex_mse_loss,
    real_imag_loss,
    stft_consistency_loss,
)

__all__ = [
    "FEATURE_MATCHING_SCALES",
    "LOSS_PRESETS",
    "PHASE_LOSS_STYLES",
    "PWG_RESOLUTIONS",
    "LossPreset",
    "MelL1Loss",
    "MultiResolutionSTFTLoss",
    "PhaseLoss",
    "PhaseLossTerms",
    "STFTConsistencyLoss",
    "STFTLossTerms",
    "amplitude_loss",
    "anti_wrapping",
    "complex_mse_loss",
    "discriminator_adversarial_loss",
    "feature_matching_loss",
    "generator_adversarial_loss",
    "group_delay_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "instantaneous_phase_loss",
    "log_magnitude_loss",
    "lsgan_discriminator_loss",
    "lsgan_generator_loss",
    "mel_l1_loss",
    "phase_difference",
    "amplitude_weight",
    "phase_losses",
    "phase_time_difference_loss",
    "real_imag_loss",
    "spectral_convergence_loss",
    "stft_consistency_loss",
    "stft_magnitude",
]
