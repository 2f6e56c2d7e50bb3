"""Mel-spectrogram L1 loss (APNet/APNet2/HiFi-GAN ``L_Mel``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.frontend.mel import MelSpectrogram

__all__ = ["mel_l1_loss", "MelL1Loss"]


def mel_l1_loss(pred_mel: torch.Tensor, target_mel: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of two (log-)mel spectrograms ``(B, n_mels, N)``: prediction, target."""
    if target_mel.shape != pred_mel.shape:
        raise ValueError(f"mel shapes differ: {tuple(target_mel.shape)} vs {tuple(pred_mel.shape)}")
    return F.l1_loss(target_mel, pred_mel)


class MelL1Loss(nn.Module):
    """L1 distance between the log-mel of a generated waveform and a target.

    APNet compares with the generator's input mel (``f_max=8000``); APNet2 with a separate
    full-band target mel (``f_max=None``) computed by the same extractor. Weight 45 in both.

    Args:
        mel: the extractor (:class:`~audiokit.frontend.MelSpectrogram`, APNet log-mel by default).

    Shape:
        ``forward(pred_wav (B, T), target_wav (B, T))`` or ``forward(pred_wav, target_mel=(B, M, N))``
        -> scalar.
    """

    def __init__(self, mel: MelSpectrogram):
        super().__init__()
        self.mel = mel

    def forward(
        self,
        pred_wav: torch.Tensor,
        target_wav: torch.Tensor | None = None,
        *,
        target_mel: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if (target_wav is None) == (target_mel is None):
            raise ValueError("give exactly one of target_wav and target_mel")
        if target_mel is None:
            target_mel = self.mel(target_wav)
        return mel_l1_loss(self.mel(pred_wav), target_mel)
