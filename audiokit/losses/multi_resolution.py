"""Multi-resolution STFT loss (Parallel WaveGAN, Yamamoto et al. 2020): spectral convergence plus
log-magnitude L1, averaged over several STFT resolutions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.frontend.stft import STFT

__all__ = [
    "STFTLossTerms",
    "stft_magnitude",
    "spectral_convergence_loss",
    "log_magnitude_loss",
    "MultiResolutionSTFTLoss",
    "PWG_RESOLUTIONS",
]

#: Parallel WaveGAN's (n_fft, hop, win): (1024, 120, 600), (2048, 240, 1200), (512, 50, 240).
PWG_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))


class STFTLossTerms(NamedTuple):
    """Spectral convergence and log-magnitude terms (scalars); ``total`` is their sum."""

    spectral_convergence: torch.Tensor
    log_magnitude: torch.Tensor

    @property
    def total(self) -> torch.Tensor:
        return self.spectral_convergence + self.log_magnitude


def stft_magnitude(spec: torch.Tensor, floor: float = 1e-7) -> torch.Tensor:
    """``sqrt(max(re^2 + im^2, floor))`` of a complex spectrum (finite gradient at 0)."""
    return torch.sqrt(torch.clamp(spec.real.square() + spec.imag.square(), min=floor))


def spectral_convergence_loss(pred_mag: torch.Tensor, target_mag: torch.Tensor) -> torch.Tensor:
    """``||M - M_hat||_F / ||M||_F`` over the whole batch of magnitudes ``(B, F, N)`` (``M_hat`` the
    prediction, ``M`` the target; asymmetric: normalised by the target)."""
    return torch.linalg.vector_norm(target_mag - pred_mag) / torch.linalg.vector_norm(target_mag)


def log_magnitude_loss(pred_mag: torch.Tensor, target_mag: torch.Tensor) -> torch.Tensor:
    """``mean |ln M - ln M_hat|`` of magnitudes ``(B, F, N)``."""
    return F.l1_loss(torch.log(target_mag), torch.log(pred_mag))


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence and log-magnitude L1 at several resolutions, each averaged over them.

    Args:
        resolutions: ``(n_fft, hop, win)`` per resolution (default :data:`PWG_RESOLUTIONS`).
        window: analysis window name (``"hann"``).
        floor: power floor inside the magnitude's square root (1e-7 as Parallel WaveGAN).

    Shape:
        ``forward(pred (B, T), target (B, T))`` -> :class:`STFTLossTerms` (``.total`` is the usual
        ``L_sc + L_mag``).
    """

    def __init__(
        self,
        resolutions: Sequence[Sequence[int]] = PWG_RESOLUTIONS,
        window: str = "hann",
        floor: float = 1e-7,
    ):
        super().__init__()
        if not resolutions:
            raise ValueError("need at least one resolution")
        self.stfts = nn.ModuleList([STFT(n, h, w, window=window) for n, h, w in resolutions])
        self.floor = floor

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> STFTLossTerms:
        if pred.shape != target.shape:
            raise ValueError(
                f"waveform shapes differ: pred {tuple(pred.shape)} vs target {tuple(target.shape)}"
            )
        sc = pred.new_zeros(())
        mag = pred.new_zeros(())
        for stft in self.stfts:
            m_hat = stft_magnitude(stft(pred), self.floor)
            m = stft_magnitude(stft(target), self.floor)
            sc = sc + spectral_convergence_loss(m_hat, m)
            mag = mag + log_magnitude_loss(m_hat, m)
        n = len(self.stfts)
        return STFTLossTerms(sc / n, mag / n)
