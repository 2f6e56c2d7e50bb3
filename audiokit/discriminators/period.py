"""HiFi-GAN's multi-period discriminator (MPD), as used by APNet, APNet2 and AP-BWE."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.discriminators.base import MultiDiscriminator
from audiokit.discriminators.norm import WNConv2d

__all__ = ["PeriodDiscriminator", "MultiPeriodDiscriminator", "LRELU_SLOPE"]

#: Negative slope of every LeakyReLU in the discriminators.
LRELU_SLOPE = 0.1


class PeriodDiscriminator(nn.Module):
    """One MPD branch (``DiscriminatorP``): the waveform folded into ``(T / p, p)`` and scored by 2-D
    convolutions with ``(k, 1)`` kernels.

    Args:
        period: fold period ``p``; the waveform is reflect-padded on the right to a multiple of it.
        kernel_size, stride: of the first four convolutions along time (official 5 and 3).
        channels: output channels of the five convolutions (official ``(32, 128, 512, 1024, 1024)``).
        include_first_fmap: whether the first convolution's activation is a feature map.
            ``True`` for HiFi-GAN, APNet and APNet2 (6 maps per branch); ``False`` for AP-BWE, whose
            ``DiscriminatorP`` only records ``convs[1:]`` and ``conv_post`` (5 maps).

    Shape:
        ``(B, 1, T)`` -> logits ``(B, H * p)`` and a list of feature maps ``(B, C, H_l, p)``.
    """

    def __init__(
        self,
        period: int,
        kernel_size: int = 5,
        stride: int = 3,
        channels: Sequence[int] = (32, 128, 512, 1024, 1024),
        include_first_fmap: bool = True,
    ):
        super().__init__()
        if period < 1:
            raise ValueError(f"period must be >= 1, got {period}")
        self.period = period
        self.include_first_fmap = include_first_fmap
        # As the official code, the padding uses get_padding(5, 1) = 2 whatever kernel_size is.
        chans = [1, *channels]
        self.convs = nn.ModuleList(
            [
                WNConv2d(chans[i], chans[i + 1], (kernel_size, 1), (stride, 1), padding=(2, 0))
                for i in range(len(channels) - 1)
            ]
            + [WNConv2d(chans[-2], chans[-1], (kernel_size, 1), 1, padding=(2, 0))]
        )
        self.conv_post = WNConv2d(chans[-1], 1, (3, 1), 1, padding=(1, 0))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, c, t = x.shape
        if t % self.period:
            n_pad = self.period - t % self.period
            if n_pad >= t:
                raise ValueError(f"waveform of {t} samples is too short for period {self.period}")
            x = F.pad(x, (0, n_pad), "reflect")
            t += n_pad
        x = x.view(b, c, t // self.period, self.period)
        fmap = []
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            if i > 0 or self.include_first_fmap:
                fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap

    def extra_repr(self) -> str:
        return f"period={self.period}, include_first_fmap={self.include_first_fmap}"


class MultiPeriodDiscriminator(MultiDiscriminator):
    """Multi-period discriminator: one :class:`PeriodDiscriminator` per period.

    Defaults match the official ``mpd`` entries of APNet/APNet2/AP-BWE ``do_*`` checkpoints
    (41,105,770 parameters, 90 state-dict keys ``discriminators.{0..4}.convs.{0..4}`` /
    ``conv_post`` with ``bias, weight_g, weight_v``).

    Args:
        periods: fold periods (official ``(2, 3, 5, 7, 11)``).
        include_first_fmap: see :class:`PeriodDiscriminator`; pass ``False`` to reproduce AP-BWE's
            feature matching.
        **kwargs: passed to every :class:`PeriodDiscriminator`.

    Shape:
        ``forward(y, y_hat)`` with waveforms ``(B, T)``/``(B, 1, T)`` ->
        :class:`~audiokit.discriminators.base.DiscriminatorOutput`.
    """

    def __init__(self, periods: Sequence[int] = (2, 3, 5, 7, 11), include_first_fmap: bool = True, **kwargs):
        super().__init__()
        self.discriminators = nn.ModuleList(
            [PeriodDiscriminator(p, include_first_fmap=include_first_fmap, **kwargs) for p in periods]
        )
