"""Building blocks shared by the vocoders: a weight-normalised Conv1d with the official key names,
HiFi-GAN's ``ResBlock1`` (APNet, HiFi-GAN) and the ConvNeXt-v2 block with GRN (APNet2, Vocos-style).

Module and parameter names follow the official code so that official state dicts load key for key.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "LRELU_SLOPE",
    "get_padding",
    "WNConv1d",
    "ResBlock1",
    "GRN",
    "ConvNeXtV2Block",
    "fold_weight_norm",
    "apply_weight_norm",
    "has_weight_norm",
]

#: LeakyReLU slope inside HiFi-GAN/APNet residual blocks (the official ``LRELU_SLOPE``).
LRELU_SLOPE = 0.1


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    """ "Same" padding of a stride-1 convolution: ``(k * d - d) // 2`` (the official ``get_padding``)."""
    return (kernel_size * dilation - dilation) // 2


class WNConv1d(nn.Conv1d):
    """``nn.Conv1d`` with optional old-style weight normalisation (Salimans & Kingma 2016).

    With ``weight_norm=True`` the parameters are ``bias``, ``weight_g`` ``(C_out, 1, 1)`` and
    ``weight_v`` ``(C_out, C_in, k)`` in this order, exactly as ``torch.nn.utils.weight_norm``
    leaves them (the key names and order of the official APNet/HiFi-GAN checkpoints), and the effective
    weight ``g * v / ||v||`` (norm over dims 1, 2) is recomputed on every forward with the same
    kernel as torch's weight norm. :meth:`fold` replaces ``g, v`` by a plain ``weight`` (keys
    ``bias``, ``weight``, as ``remove_weight_norm``); :meth:`unfold` goes back (``g = ||w||``, ``v = w``).

    Shape: ``(B, C_in, N) -> (B, C_out, N)`` (with "same" padding when built through the blocks).
    """

    def __init__(self, *args, weight_norm: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if weight_norm:
            self.unfold()
        else:  # key order ``bias, weight`` as the official checkpoints after ``remove_weight_norm``
            self._parameters["weight"] = self._parameters.pop("weight")

    @property
    def weight_normed(self) -> bool:
        return "weight_v" in self._parameters

    def effective_weight(self) -> torch.Tensor:
        """The convolution kernel ``(C_out, C_in, k)`` (``g * v / ||v||`` when weight-normalised)."""
        if self.weight_normed:
            return torch._weight_norm(self.weight_v, self.weight_g, 0)
        return self.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.effective_weight(), self.bias)

    @torch.no_grad()
    def fold(self) -> None:
        """Replace ``weight_g``/``weight_v`` by the equivalent plain ``weight`` (no-op if folded)."""
        if not self.weight_normed:
            return
        w = self.effective_weight().detach().clone()
        del self._parameters["weight_g"], self._parameters["weight_v"]
        self.weight = nn.Parameter(w, requires_grad=True)

    @torch.no_grad()
    def unfold(self) -> None:
        """Reparametrise ``weight`` as ``g * v / ||v||`` (no-op if already weight-normalised)."""
        if self.weight_normed:
            return
        w = self._parameters.pop("weight").detach()
        self.weight_g = nn.Parameter(torch.norm_except_dim(w, 2, 0).clone())
        self.weight_v = nn.Parameter(w.clone())

    def __getattr__(self, name: str):
        # ``self.weight`` of a weight-normalised conv is the derived kernel (read-only), as torch's
        # weight norm exposes it.
        if name == "weight" and "weight_v" in self.__dict__.get("_parameters", {}):
            return self.effective_weight()
        return super().__getattr__(name)


def fold_weight_norm(module: nn.Module) -> nn.Module:
    """Fold the weight norm of every :class:`WNConv1d` in ``module`` (in place; returns ``module``)."""
    for m in module.modules():
        if isinstance(m, WNConv1d):
            m.fold()
    return module


def apply_weight_norm(module: nn.Module) -> nn.Module:
    """Weight-normalise every :class:`WNConv1d` in ``module`` (in place; returns ``module``)."""
    for m in module.modules():
        if isinstance(m, WNConv1d):
            m.unfold()
    return module


def has_weight_norm(module: nn.Module) -> bool:
    """True if any :class:`WNConv1d` in ``module`` is weight-normalised."""
    return any(isinstance(m, WNConv1d) and m.weight_normed for m in module.modules())


class ResBlock1(nn.Module):
    """HiFi-GAN's residual block "1" (also APNet's ``ASPResBlock``/``PSPResBlock``).

    For each dilation ``d_i``: ``x = x + convs2[i](lrelu(convs1[i](lrelu(x))))`` with LeakyReLU slope
    0.1, ``convs1[i]`` dilated by ``d_i`` and ``convs2[i]`` undilated, all "same"-padded.

    Shape: ``(B, C, N) -> (B, C, N)``.
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int = 3,
        dilations: Sequence[int] = (1, 3, 5),
        weight_norm: bool = True,
    ):
        super().__init__()
        self.kernel_size = kernel_size
        self.dilations = tuple(dilations)
        self.convs1 = nn.ModuleList(
            WNConv1d(
                channels,
                channels,
                kernel_size,
                dilation=d,
                padding=get_padding(kernel_size, d),
                weight_norm=weight_norm,
            )
            for d in self.dilations
        )
        self.convs2 = nn.ModuleList(
            WNConv1d(
                channels, channels, kernel_size, padding=get_padding(kernel_size), weight_norm=weight_norm
            )
            for _ in self.dilations
        )

    @property
    def receptive_radius(self) -> int:
        """Frames on each side that influence one output frame."""
        return sum(get_padding(self.kernel_size, d) + get_padding(self.kernel_size) for d in self.dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            xt = c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
            x = xt + x
        return x


class GRN(nn.Module):
    """Global response normalisation of ConvNeXt-v2, as in the official APNet2 code.

    ``G = ||x||_2`` over the **time** axis per item and channel, ``N = G / (mean_c G + eps)``,
    ``y = gamma * (x * N) + beta + x``. Because ``G`` pools over the whole sequence, every output frame
    depends on the entire input (and on any zero padding in a batch).

    Shape: ``(B, N, C) -> (B, N, C)`` (channels last).
    """

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.zeros(1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = torch.norm(x, p=2, dim=1, keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + self.eps)
        return self.gamma * (x * nx) + self.beta + x


class ConvNeXtV2Block(nn.Module):
    """ConvNeXt-v2 block over time (APNet2's ``ConvNeXtBlock``; no layer scale, no drop path).

    ``x + pwconv2(GRN(GELU(pwconv1(LayerNorm(dwconv(x))))))`` where ``dwconv`` is a depthwise Conv1d
    and ``pwconv*`` are ``nn.Linear`` layers on channels-last activations.

    Shape: ``(B, C, N) -> (B, C, N)``.
    """

    def __init__(self, dim: int, intermediate_dim: int, kernel_size: int = 7, layer_norm_eps: float = 1e-6):
        super().__init__()
        self.kernel_size = kernel_size
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=get_padding(kernel_size), groups=dim)
        self.norm = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.grn = GRN(intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dwconv(x).transpose(1, 2)
        h = self.pwconv2(self.grn(self.act(self.pwconv1(self.norm(h)))))
        return x + h.transpose(1, 2)
