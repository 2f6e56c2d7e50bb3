"""HiFi-GAN's multi-scale discriminator (MSD), as used by APNet."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.discriminators.base import MultiDiscriminator
from audiokit.discriminators.norm import SNConv1d, WNConv1d
from audiokit.discriminators.period import LRELU_SLOPE

__all__ = ["ScaleDiscriminator", "MultiScaleDiscriminator"]

# (in, out, kernel, stride, groups, padding) of the official DiscriminatorS convolutions.
_LAYERS = (
    (1, 128, 15, 1, 1, 7),
    (128, 128, 41, 2, 4, 20),
    (128, 256, 41, 2, 16, 20),
    (256, 512, 41, 4, 16, 20),
    (512, 1024, 41, 4, 16, 20),
    (1024, 1024, 41, 1, 16, 20),
    (1024, 1024, 5, 1, 1, 2),
)


class ScaleDiscriminator(nn.Module):
    """One MSD branch (``DiscriminatorS``): strided, grouped 1-D convolutions on the waveform.

    Args:
        use_spectral_norm: spectral norm (legacy ``weight_orig/weight_u/weight_v`` keys, one power
            iteration per training forward) instead of weight norm; the official MSD uses it for
            its first (full-rate) branch only.
        layers: ``(in, out, kernel, stride, groups, padding)`` per convolution (official default).

    Shape:
        ``(B, 1, T)`` -> logits ``(B, T')`` and 8 feature maps ``(B, C, T_l)``.
    """

    def __init__(
        self,
        use_spectral_norm: bool = False,
        layers: Sequence[tuple[int, int, int, int, int, int]] = _LAYERS,
    ):
        super().__init__()
        conv = SNConv1d if use_spectral_norm else WNConv1d
        self.convs = nn.ModuleList([conv(i, o, k, s, groups=g, padding=p) for i, o, k, s, g, p in layers])
        self.conv_post = conv(layers[-1][1], 1, 3, 1, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        fmap = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap


class MultiScaleDiscriminator(MultiDiscriminator):
    """Multi-scale discriminator: :class:`ScaleDiscriminator` on the waveform and on 2x, 4x
    average-pooled copies (``AvgPool1d(4, 2, padding=2)`` between scales).

    Defaults match the official APNet ``msd`` entry (29,618,821 parameters, 80 keys; branch 0 with
    spectral norm, branches 1-2 with weight norm).

    Args:
        num_scales: number of branches (official 3).

    Shape:
        ``forward(y, y_hat)`` with waveforms ``(B, T)``/``(B, 1, T)`` ->
        :class:`~audiokit.discriminators.base.DiscriminatorOutput`.
    """

    def __init__(self, num_scales: int = 3):
        super().__init__()
        self.discriminators = nn.ModuleList(
            [ScaleDiscriminator(use_spectral_norm=i == 0) for i in range(num_scales)]
        )
        self.meanpools = nn.ModuleList([nn.AvgPool1d(4, 2, padding=2) for _ in range(num_scales - 1)])

    def sub_inputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        inputs = [x]
        for pool in self.meanpools:
            inputs.append(pool(inputs[-1]))
        return inputs
