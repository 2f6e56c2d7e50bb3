"""Frame-wise controls of the oscillator banks: harmonic frequencies, the Nyquist mask, harmonic
distributions (shapes ``(B, F)`` and ``(B, F, H)``)."""

from __future__ import annotations

import torch

from audiokit.ddsp.core import safe_divide

__all__ = [
    "as_frames",
    "harmonic_amplitudes",
    "harmonic_frequencies",
    "remove_above_nyquist",
    "normalize_harmonics",
]


def as_frames(x: torch.Tensor, name: str) -> torch.Tensor:
    """Accept ``(B, F)`` or ``(B, F, 1)``; return ``(B, F)``."""
    if x.dim() == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape (B, F) or (B, F, 1), got {tuple(x.shape)}")
    return x


def harmonic_amplitudes(amplitudes: torch.Tensor, harmonic_distribution: torch.Tensor | None) -> torch.Tensor:
    """``(B, F)`` amplitude and ``(B, F, H)`` distribution -> ``(B, F, H)`` harmonic amplitudes
    ``A * c_k`` (``(B, F, 1)`` without a distribution); the shapes are checked before they meet."""
    if harmonic_distribution is None:
        return amplitudes[..., None]
    if harmonic_distribution.dim() != 3 or harmonic_distribution.shape[:2] != amplitudes.shape:
        raise ValueError(
            f"harmonic_distribution {tuple(harmonic_distribution.shape)} does not match f0_hz "
            f"{tuple(amplitudes.shape)}; expected (B, F, H)"
        )
    return amplitudes[..., None] * harmonic_distribution


def harmonic_frequencies(f0_hz: torch.Tensor, n_harmonics: int) -> torch.Tensor:
    """``(B, F)`` fundamental -> ``(B, F, n_harmonics)`` frequencies ``k * f0``, ``k = 1..n``."""
    f0_hz = as_frames(f0_hz, "f0_hz")
    k = torch.arange(1, n_harmonics + 1, dtype=f0_hz.dtype, device=f0_hz.device)
    return f0_hz[..., None] * k


def remove_above_nyquist(
    frequencies: torch.Tensor, amplitudes: torch.Tensor, sample_rate: float
) -> torch.Tensor:
    """Zero the amplitudes of oscillators whose frequency is ``>= sample_rate / 2``."""
    return torch.where(frequencies >= sample_rate / 2.0, torch.zeros_like(amplitudes), amplitudes)


def normalize_harmonics(
    harmonic_distribution: torch.Tensor,
    f0_hz: torch.Tensor | None = None,
    sample_rate: float | None = None,
) -> torch.Tensor:
    """Zero harmonics ``k * f0 >= sr / 2`` (when ``f0_hz`` and ``sample_rate`` are given), then
    divide by the sum so each frame's distribution sums to 1 (an all-zero frame stays zero).

    ``(B, F, H)`` distribution, ``(B, F)`` f0 -> ``(B, F, H)``.
    """
    if f0_hz is not None and sample_rate is not None:
        freqs = harmonic_frequencies(f0_hz, harmonic_distribution.shape[-1])
        harmonic_distribution = remove_above_nyquist(freqs, harmonic_distribution, sample_rate)
    return safe_divide(harmonic_distribution, harmonic_distribution.sum(-1, keepdim=True))
