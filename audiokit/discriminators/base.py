"""Shared container and output type of the multi-discriminators."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

__all__ = ["DiscriminatorOutput", "MultiDiscriminator", "as_waveform_batch"]


class DiscriminatorOutput(NamedTuple):
    """What a multi-discriminator returns for a (real, generated) pair.

    Unpacks like the official ``y_d_rs, y_d_gs, fmap_rs, fmap_gs`` tuple.

    Attributes:
        real_logits: one ``(B, L_k)`` tensor per sub-discriminator ``k`` (flattened score map).
        fake_logits: the same for the generated input.
        real_fmaps: per sub-discriminator, the list of its feature maps (intermediate activations
            and the final score map before flattening) for the real input.
        fake_fmaps: the same for the generated input.
    """

    real_logits: list[torch.Tensor]
    fake_logits: list[torch.Tensor]
    real_fmaps: list[list[torch.Tensor]]
    fake_fmaps: list[list[torch.Tensor]]


def as_waveform_batch(x: torch.Tensor, name: str = "waveform") -> torch.Tensor:
    """``(T,)``, ``(B, T)`` or ``(B, 1, T)`` -> ``(B, 1, T)``."""
    if x.dim() == 1:
        return x[None, None]
    if x.dim() == 2:
        return x.unsqueeze(1)
    if x.dim() == 3 and x.shape[1] == 1:
        return x
    raise ValueError(f"{name}: expected a mono waveform (T,), (B, T) or (B, 1, T), got {tuple(x.shape)}")


class MultiDiscriminator(nn.Module):
    """A list of sub-discriminators scored on the same pair of waveforms.

    Subclasses fill ``self.discriminators`` (an ``nn.ModuleList`` whose members map ``(B, 1, T)`` to
    ``(logits (B, L), fmaps list)``) and may override :meth:`sub_inputs` (e.g. the average-pooled
    scales of the MSD).

    Shape:
        ``forward(y, y_hat)``: waveforms ``(B, T)`` or ``(B, 1, T)`` -> :class:`DiscriminatorOutput`.
        ``score(x)``: one waveform -> ``(logits list, fmaps list)``.
    """

    discriminators: nn.ModuleList

    def sub_inputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The input of each sub-discriminator, from a ``(B, 1, T)`` waveform."""
        return [x] * len(self.discriminators)

    def score(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        """Logits and feature maps of every sub-discriminator for one waveform batch."""
        logits, fmaps = [], []
        for d, xi in zip(self.discriminators, self.sub_inputs(as_waveform_batch(x))):
            out, fmap = d(xi)
            logits.append(out)
            fmaps.append(fmap)
        return logits, fmaps

    def forward(self, y: torch.Tensor, y_hat: torch.Tensor) -> DiscriminatorOutput:
        """Score real ``y`` and generated ``y_hat``; each sub-discriminator sees ``y`` then ``y_hat``
        (the official call order, which matters for the power iteration of spectral norm)."""
        y = as_waveform_batch(y, "y")
        y_hat = as_waveform_batch(y_hat, "y_hat")
        out = DiscriminatorOutput([], [], [], [])
        for d, yi, gi in zip(self.discriminators, self.sub_inputs(y), self.sub_inputs(y_hat)):
            r, fr = d(yi)
            g, fg = d(gi)
            out.real_logits.append(r)
            out.fake_logits.append(g)
            out.real_fmaps.append(fr)
            out.fake_fmaps.append(fg)
        return out
