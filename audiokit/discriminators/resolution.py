"""Multi-resolution spectrogram discriminators: APNet2's MRD (magnitude) and AP-BWE's MRAD
(amplitude) and MRPD (phase), all adapted from Vocos' multi-resolution discriminator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.discriminators.base import MultiDiscriminator
from audiokit.discriminators.norm import WNConv2d
from audiokit.discriminators.period import LRELU_SLOPE
from audiokit.frontend.stft import STFT

__all__ = [
    "ResolutionDiscriminator",
    "MultiResolutionDiscriminator",
    "MultiResolutionAmplitudeDiscriminator",
    "MultiResolutionPhaseDiscriminator",
    "APNET2_RESOLUTIONS",
    "APBWE_RESOLUTIONS",
]

Feature = Literal["magnitude", "phase"]

#: (n_fft, hop, win) of APNet2's MRD, in its ``discriminators.{0,1,2}`` order.
APNET2_RESOLUTIONS = ((1024, 256, 1024), (2048, 512, 2048), (512, 128, 512))
#: (n_fft, hop, win) of AP-BWE's MRAD and MRPD.
APBWE_RESOLUTIONS = ((512, 128, 512), (1024, 256, 1024), (2048, 512, 2048))


class ResolutionDiscriminator(nn.Module):
    """2-D convolutions over one STFT resolution (``DiscriminatorR``/``DiscriminatorAR``/``PR``).

    The input spectrogram is the centred (reflect-padded) STFT with a **rectangular** window
    (the official ``torch.stft(..., window=None)``), taken as linear magnitude ``|X|`` or wrapped
    phase ``angle(X)``, laid out ``(B, 1, F, N)``.

    Args:
        resolution: ``(n_fft, hop_length, win_length)``.
        feature: ``"magnitude"`` (MRD, MRAD) or ``"phase"`` (MRPD).
        channels: channels of every hidden convolution (official 64).

    The official classes' optional band-conditioning embedding (``num_embeddings``) is unused by
    all three papers and not provided.

    Shape:
        ``(B, 1, T)`` -> logits ``(B, F' * N')`` and 6 feature maps ``(B, C, F_l, N_l)``.
    """

    def __init__(self, resolution: Sequence[int], feature: Feature = "magnitude", channels: int = 64):
        super().__init__()
        if feature not in ("magnitude", "phase"):
            raise ValueError(f"feature must be 'magnitude' or 'phase', got {feature!r}")
        n_fft, hop, win = resolution
        self.resolution = (int(n_fft), int(hop), int(win))
        self.feature = feature
        self.stft = STFT(n_fft, hop, win, window="rect")
        c = channels
        self.convs = nn.ModuleList(
            [
                WNConv2d(1, c, kernel_size=(7, 5), stride=(2, 2), padding=(3, 2)),
                WNConv2d(c, c, kernel_size=(5, 3), stride=(2, 1), padding=(2, 1)),
                WNConv2d(c, c, kernel_size=(5, 3), stride=(2, 2), padding=(2, 1)),
                WNConv2d(c, c, kernel_size=3, stride=(2, 1), padding=1),
                WNConv2d(c, c, kernel_size=3, stride=(2, 2), padding=1),
            ]
        )
        self.conv_post = WNConv2d(c, 1, (3, 3), padding=(1, 1))

    def spectrogram(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, T)`` or ``(B, T)`` -> real ``(B, F, N)`` magnitude or phase."""
        spec = self.stft(x.reshape(-1, x.shape[-1]))
        return spec.abs() if self.feature == "magnitude" else spec.angle()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.spectrogram(x).unsqueeze(1)
        fmap = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}, feature={self.feature!r}"


class MultiResolutionDiscriminator(MultiDiscriminator):
    """Multi-resolution discriminator: one :class:`ResolutionDiscriminator` per STFT resolution.

    Defaults are APNet2's MRD (magnitude, resolutions :data:`APNET2_RESOLUTIONS`; 600,198
    parameters, 54 keys ``discriminators.{0..2}.convs.{0..4}``/``conv_post`` with
    ``bias, weight_g, weight_v``), matching its official ``mrd`` checkpoint entry.

    Args:
        resolutions: ``(n_fft, hop, win)`` per branch.
        feature: ``"magnitude"`` or ``"phase"``.
        channels: hidden channels (official 64).

    Shape:
        ``forward(y, y_hat)`` with waveforms ``(B, T)``/``(B, 1, T)`` (``T > n_fft / 2`` of the
        largest resolution) -> :class:`~audiokit.discriminators.base.DiscriminatorOutput`.
    """

    def __init__(
        self,
        resolutions: Sequence[Sequence[int]] = APNET2_RESOLUTIONS,
        feature: Feature = "magnitude",
        channels: int = 64,
    ):
        super().__init__()
        self.discriminators = nn.ModuleList(
            [ResolutionDiscriminator(r, feature, channels) for r in resolutions]
        )


class MultiResolutionAmplitudeDiscriminator(MultiResolutionDiscriminator):
    """AP-BWE's MRAD: linear STFT magnitudes at :data:`APBWE_RESOLUTIONS` (official ``mrad``)."""

    def __init__(self, resolutions: Sequence[Sequence[int]] = APBWE_RESOLUTIONS, channels: int = 64):
        super().__init__(resolutions, "magnitude", channels)


class MultiResolutionPhaseDiscriminator(MultiResolutionDiscriminator):
    """AP-BWE's MRPD: wrapped STFT phases at :data:`APBWE_RESOLUTIONS` (official ``mrpd``)."""

    def __init__(self, resolutions: Sequence[Sequence[int]] = APBWE_RESOLUTIONS, channels: int = 64):
        super().__init__(resolutions, "phase", channels)
