"""GAN discriminators of HiFi-GAN, APNet, APNet2 and AP-BWE, state-dict compatible with the
official checkpoints.

Every multi-discriminator is called as ``out = D(y, y_hat)`` on real and generated waveforms
(``(B, T)`` or ``(B, 1, T)``) and returns a :class:`DiscriminatorOutput`
``(real_logits, fake_logits, real_fmaps, fake_fmaps)`` (the official tuple order); ``D.score(x)``
scores a single batch. Feed the logits to :mod:`audiokit.losses.adversarial` and the feature maps to
:func:`audiokit.losses.feature_matching_loss`.

=========================================  =========  ======================================
class                                      official   used by
=========================================  =========  ======================================
:class:`MultiPeriodDiscriminator`          ``mpd``    HiFi-GAN, APNet, APNet2, AP-BWE
:class:`MultiScaleDiscriminator`           ``msd``    HiFi-GAN, APNet
:class:`MultiResolutionDiscriminator`      ``mrd``    APNet2
:class:`MultiResolutionAmplitudeDiscriminator`  ``mrad``  AP-BWE
:class:`MultiResolutionPhaseDiscriminator` ``mrpd``   AP-BWE
=========================================  =========  ======================================
"""

from audiokit.discriminators.base import DiscriminatorOutput, MultiDiscriminator
from audiokit.discriminators.norm import (
    SNConv1d,
    WNConv1d,
    WNConv2d,
    load_state_dict_compat,
    to_legacy_keys,
    to_parametrization_keys,
)
from audiokit.discriminators.period import MultiPeriodDiscriminator, PeriodDiscriminator
from audiokit.discriminators.presets import (
    DISCRIMINATOR_OPTIONS,
    DISCRIMINATOR_PRESETS,
    DISCRIMINATORS,
    OPTIMIZER_ORDER,
    build_discriminator,
    build_discriminators,
    load_discriminators,
)
from audiokit.discriminators.resolution import (
    APBWE_RESOLUTIONS,
    APNET2_RESOLUTIONS,
    MultiResolutionAmplitudeDiscriminator,
    MultiResolutionDiscriminator,
    MultiResolutionPhaseDiscriminator,
    ResolutionDiscriminator,
)
from audiokit.discriminators.scale import MultiScaleDiscriminator, ScaleDiscriminator

__all__ = [
    "APBWE_RESOLUTIONS",
    "APNET2_RESOLUTIONS",
    "DISCRIMINATOR_OPTIONS",
    "DISCRIMINATOR_PRESETS",
    "DISCRIMINATORS",
    "OPTIMIZER_ORDER",
    "build_discriminator",
    "DiscriminatorOutput",
    "MultiDiscriminator",
    "MultiPeriodDiscriminator",
    "MultiResolutionAmplitudeDiscriminator",
    "MultiResolutionDiscriminator",
    "MultiResolutionPhaseDiscriminator",
    "MultiScaleDiscriminator",
    "PeriodDiscriminator",
    "ResolutionDiscriminator",
    "SNConv1d",
    "ScaleDiscriminator",
    "WNConv1d",
    "WNConv2d",
    "build_discriminators",
    "load_discriminators",
    "load_state_dict_compat",
    "to_legacy_keys",
    "to_parametrization_keys",
]
