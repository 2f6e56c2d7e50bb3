"""Spectral reconstruction losses of APNet/APNet2 and AP-BWE: log-amplitude, real/imaginary
(complex) and STFT consistency.

Spectra are complex ``(..., F, N)`` tensors (frequency on dim -2); amplitudes and phases real
``(..., F, N)``. Every loss takes ``(pred, target)``, as torch.nn losses.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.frontend.stft import APBWE_LOG_EPS, STFT, amplitude_phase, spectrum_from_amplitude_phase

__all__ = [
    "amplitude_loss",
    "real_imag_loss",
    "complex_mse_loss",
    "stft_consistency_loss",
    "STFTConsistencyLoss",
]

ConsistencyForm = Literal["apnet", "ap_bwe"]


def _same_shape(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")


def amplitude_loss(pred_log_amp: torch.Tensor, target_log_amp: torch.Tensor) -> torch.Tensor:
    """MSE of log amplitudes ``(..., F, N)`` (``L_A`` of APNet/APNet2/AP-BWE, weight 45)."""
    _same_shape(target_log_amp, pred_log_amp, "amplitude_loss")
    return F.mse_loss(target_log_amp, pred_log_amp)


def real_imag_loss(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """APNet's ``(L_R, L_I)``: mean absolute error of the real parts and of the imaginary parts of
    complex spectra ``(..., F, N)``. APNet/APNet2 weight them ``20 * 2.25`` each (inside ``L_S``)."""
    _same_shape(target, pred, "real_imag_loss")
    return F.l1_loss(target.real, pred.real), F.l1_loss(target.imag, pred.imag)


def complex_mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """AP-BWE's complex loss ``L_C``: MSE over the stacked ``(re, im)`` tensor ``(..., F, N, 2)``,
    i.e. ``mean(|X - X_hat|^2) / 2`` (weight 90).

    AP-BWE's target is rebuilt from its log amplitude, ``exp(ln(|X| + 1e-4)) e^{j angle X}``
    (:func:`audiokit.frontend.spectrum_from_amplitude_phase`), not the raw STFT.
    """
    _same_shape(target, pred, "complex_mse_loss")
    return F.mse_loss(torch.view_as_real(target), torch.view_as_real(pred))


def stft_consistency_loss(
    pred: torch.Tensor, reanalysed: torch.Tensor, form: ConsistencyForm = "apnet"
) -> torch.Tensor:
    """STFT consistency between a predicted spectrum and the STFT of its inverse STFT.

    ``form="apnet"`` (APNet/APNet2 ``L_C``): ``mean_b mean_{f,n} (dRe^2 + dIm^2)`` = ``mean |dX|^2``.
    ``form="ap_bwe"`` (AP-BWE ``L_S``): MSE over the stacked ``(re, im)`` tensor = ``mean |dX|^2 / 2``.

    Gradients flow through both arguments (as in both official codes).

    Shape:
        complex ``(B, F, N)`` each -> scalar.
    """
    _same_shape(pred, reanalysed, "stft_consistency_loss")
    if form == "apnet":
        d_re = pred.real - reanalysed.real
        d_im = pred.imag - reanalysed.imag
        return torch.mean(torch.mean(d_re**2 + d_im**2, (-2, -1)))
    if form == "ap_bwe":
        return F.mse_loss(torch.view_as_real(pred), torch.view_as_real(reanalysed))
    raise ValueError(f"unknown consistency form {form!r}; use 'apnet' or 'ap_bwe'")


class STFTConsistencyLoss(nn.Module):
    """STFT consistency of a predicted spectrum with the re-analysis of the waveform made from it.

    Args:
        stft: the generator's :class:`~audiokit.frontend.STFT` (same framing as the ISTFT).
        form: ``"apnet"`` compares with the raw STFT of the waveform (APNet/APNet2);
            ``"ap_bwe"`` re-analyses through ``ln(|X| + log_eps)`` and the phase and rebuilds
            ``exp(log_amp) e^{j phase}`` before the MSE, as AP-BWE's training script.
        log_eps: additive floor of the ``"ap_bwe"`` re-analysis (1e-4).

    Shape:
        ``forward(pred_spec (B, F, N) complex, pred_wav (B, T))`` -> scalar.
    """

    def __init__(self, stft: STFT, form: ConsistencyForm = "apnet", log_eps: float = APBWE_LOG_EPS):
        super().__init__()
        if form not in ("apnet", "ap_bwe"):
            raise ValueError(f"unknown consistency form {form!r}; use 'apnet' or 'ap_bwe'")
        self.stft = stft
        self.form: ConsistencyForm = form
        self.log_eps = log_eps

    def reanalyse(self, wav: torch.Tensor) -> torch.Tensor:
        """The spectrum the loss compares against, from a waveform ``(B, T)``."""
        spec = self.stft(wav)
        if self.form == "ap_bwe":
            spec = spectrum_from_amplitude_phase(*amplitude_phase(spec, self.log_eps))
        return spec

    def forward(self, pred_spec: torch.Tensor, pred_wav: torch.Tensor) -> torch.Tensor:
        reanalysed = self.reanalyse(pred_wav)
        if reanalysed.shape != pred_spec.shape:
            raise ValueError(
                f"re-analysed spectrum {tuple(reanalysed.shape)} does not match the predicted "
                f"{tuple(pred_spec.shape)}; the waveform must be the ISTFT of pred_spec"
            )
        return stft_consistency_loss(pred_spec, reanalysed, self.form)
