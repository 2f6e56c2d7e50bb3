"""Building blocks of the AP-BWE generator (module and parameter names as the official code)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConvNeXtBlock", "ChannelLayerNorm", "init_convnext_weights"]


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of a ``(B, C, N)`` tensor (transposes around :class:`nn.LayerNorm`).

    Keeps the ``weight``/``bias`` keys of a plain LayerNorm, as the official ``norm_pre_*``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class ConvNeXtBlock(nn.Module):
    """1-D ConvNeXt block (Vocos/AP-BWE): depthwise conv -> LayerNorm -> MLP (GELU) -> layer scale,
    residual.

    Args:
        dim: channels.
        mlp_ratio: hidden width of the pointwise MLP as a multiple of ``dim`` (3 in AP-BWE).
        kernel_size: depthwise kernel (7).
        layer_scale: initial value of the per-channel scale ``gamma`` (``1 / layers`` in AP-BWE).
        eps: LayerNorm epsilon (1e-6).

    Shape:
        ``(B, dim, N)`` -> ``(B, dim, N)``.
    """

    def __init__(
        self,
        dim: int,
        mlp_ratio: int = 3,
        kernel_size: int = 7,
        layer_scale: float = 0.125,
        eps: float = 1e-6,
    ):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.pwconv1 = nn.Linear(dim, dim * mlp_ratio)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(dim * mlp_ratio, dim)
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The op sequence of the official block (transpose, LayerNorm, Linear), so fp32 results are
        # bit-identical to it on the same backend.
        y = self.dwconv(x).transpose(1, 2)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


def init_convnext_weights(module: nn.Module) -> None:
    """Official initialisation of conv/linear layers: truncated normal (std 0.02) weights, zero bias."""
    if isinstance(module, (nn.Conv1d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)
