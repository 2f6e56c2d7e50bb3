"""HiFi-GAN generator (Kong et al. 2020), config V1 by default: the speed baseline of the APNet papers.

Benchmark-only module (not part of the package). Same layer layout and key names as
``jik876/hifi-gan`` ``models.Generator`` with ResBlock1 (``conv_pre``, ``ups.*``, ``resblocks.*``,
``conv_post``; old-style weight norm), so official checkpoints load with ``load_state_dict``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.vocoders.blocks import LRELU_SLOPE, ResBlock1, WNConv1d, fold_weight_norm


class WNConvTranspose1d(nn.ConvTranspose1d):
    """``ConvTranspose1d`` with old-style weight norm over dim 0 (``weight_g`` ``(C_in, 1, 1)``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        w = self._parameters.pop("weight").detach()
        self.weight_g = nn.Parameter(torch.norm_except_dim(w, 2, 0).clone())
        self.weight_v = nn.Parameter(w.clone())

    def fold(self) -> None:
        if "weight_v" in self._parameters:
            w = torch._weight_norm(self.weight_v, self.weight_g, 0).detach().clone()
            del self._parameters["weight_g"], self._parameters["weight_v"]
            self.weight = nn.Parameter(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = (
            torch._weight_norm(self.weight_v, self.weight_g, 0)
            if "weight_v" in self._parameters
            else self.weight
        )
        return F.conv_transpose1d(x, w, self.bias, self.stride, self.padding, self.output_padding)


class HiFiGANGenerator(nn.Module):
    """HiFi-GAN generator (ResBlock1): log-mel ``(B, n_mels, N)`` -> ``(B, hop * N)``, hop = prod(rates).

    Defaults are config V1 (22.05 kHz, hop 256): rates (8, 8, 2, 2), kernels (16, 16, 4, 4), 512 channels.
    """

    def __init__(
        self,
        n_mels: int = 80,
        upsample_rates: Sequence[int] = (8, 8, 2, 2),
        upsample_kernel_sizes: Sequence[int] = (16, 16, 4, 4),
        upsample_initial_channel: int = 512,
        resblock_kernel_sizes: Sequence[int] = (3, 7, 11),
        resblock_dilations: Sequence[Sequence[int]] = ((1, 3, 5), (1, 3, 5), (1, 3, 5)),
    ):
        super().__init__()
        self.num_kernels = len(resblock_kernel_sizes)
        self.conv_pre = WNConv1d(n_mels, upsample_initial_channel, 7, padding=3, weight_norm=True)
        self.ups = nn.ModuleList()
        ch = upsample_initial_channel
        for u, k in zip(upsample_rates, upsample_kernel_sizes):
            self.ups.append(WNConvTranspose1d(ch, ch // 2, k, u, padding=(k - u) // 2))
            ch //= 2
        self.resblocks = nn.ModuleList()
        ch = upsample_initial_channel
        for _ in upsample_rates:
            ch //= 2
            for k, d in zip(resblock_kernel_sizes, resblock_dilations):
                self.resblocks.append(ResBlock1(ch, k, d, weight_norm=True))
        self.conv_post = WNConv1d(ch, 1, 7, padding=3, weight_norm=True)

    def fold_weight_norm(self) -> HiFiGANGenerator:
        fold_weight_norm(self)
        for up in self.ups:
            up.fold()
        return self

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(mel)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            xs = None
            for j in range(self.num_kernels):
                y = self.resblocks[i * self.num_kernels + j](x)
                xs = y if xs is None else xs + y
            x = xs / self.num_kernels
        x = self.conv_post(F.leaky_relu(x))
        return torch.tanh(x)[:, 0]
