"""What the AP-BWE generators return, the check of their inputs and AP-BWE's amplitude/phase
analysis (shared by :class:`APBWE`, :class:`FusedAPBWE`, the batch extender and the streamer, so
none of them imports another for it)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from audiokit.frontend import log_amplitude, spectrum_from_amplitude_phase

__all__ = ["BWEOutput", "check_spectra", "check_rate", "amplitude_phase_apbwe"]


@dataclass
class BWEOutput:
    """Generator output, each ``(B, F, N)``: wideband ``log_amplitude`` = ln(|X| + 1e-4) and wrapped
    ``phase`` in (-pi, pi]."""

    log_amplitude: torch.Tensor
    phase: torch.Tensor

    @property
    def spectrum(self) -> torch.Tensor:
        """Complex spectrum ``exp(log_amplitude) * e^{j phase}`` ``(B, F, N)`` (floor not removed, as
        the official ISTFT)."""
        return spectrum_from_amplitude_phase(self.log_amplitude, self.phase)

    @property
    def real_imag(self) -> torch.Tensor:
        """Real and imaginary parts stacked last, ``(B, F, N, 2)``: the official ``com_wb`` used by the
        complex and consistency losses."""
        amp = torch.exp(self.log_amplitude)
        return torch.stack((amp * torch.cos(self.phase), amp * torch.sin(self.phase)), dim=-1)

    def __iter__(self):
        # ``mag, pha = model(mag_nb, pha_nb)`` unpacking
        return iter((self.log_amplitude, self.phase))


def check_spectra(log_amplitude: torch.Tensor, phase: torch.Tensor, n_bins: int) -> None:
    """Raise ``ValueError`` unless ``log_amplitude`` and ``phase`` are equal ``(B, n_bins, N)``."""
    if log_amplitude.dim() != 3 or log_amplitude.shape != phase.shape:
        raise ValueError(
            f"expected log_amplitude and phase of equal shape (B, {n_bins}, N), got "
            f"{tuple(log_amplitude.shape)} and {tuple(phase.shape)}"
        )
    if log_amplitude.shape[1] != n_bins:
        raise ValueError(f"expected {n_bins} frequency bins on dim 1, got {log_amplitude.shape[1]}")


def amplitude_phase_apbwe(spec: torch.Tensor, eps: float = 1e-4) -> tuple[torch.Tensor, torch.Tensor]:
    """AP-BWE's ``(ln(|X| + eps), angle(X))`` of a complex spectrum, each ``(B, F, N)``.

    Uses :func:`torch.angle` as the official ``amp_pha_stft`` (it rounds differently from
    ``atan2(imag, real)`` in the last bit).
    """
    return log_amplitude(spec, eps), torch.angle(spec)


def check_rate(sr: int, name: str = "sample rate") -> int:
    """``sr`` as an int; ValueError (naming ``name``) unless it is a positive integer."""
    if isinstance(sr, bool) or int(sr) != sr or sr <= 0:
        raise ValueError(f"{name} must be a positive integer, got {sr!r}")
    return int(sr)
