"""Wavetables: one-period tables from harmonic distributions, the interpolating lookup, and
magenta's monophonic wavetable synth."""

from __future__ import annotations

import torch

from audiokit.ddsp.controls import as_frames
from audiokit.ddsp.core import resample
from audiokit.ddsp.phase import cumulative_phase, segment_phase, wrap_cycles

__all__ = ["harmonic_distribution_to_wavetable", "wavetable_lookup", "wavetable_synthesis"]


def harmonic_distribution_to_wavetable(
    harmonic_distribution: torch.Tensor, n_wavetable: int = 2048
) -> torch.Tensor:
    """One period of ``sum_k c_k cos(2 pi k n / N)``: ``(..., H)`` -> ``(..., N)`` (magenta's scaling:
    ``irfft([0, c, 0...]) * N / 2``, so a one-hot first harmonic is a unit cosine)."""
    h = harmonic_distribution.shape[-1]
    if 2 * h > n_wavetable:
        raise ValueError(f"{h} harmonics need a wavetable of at least {2 * h} samples, got {n_wavetable}")
    spec = torch.nn.functional.pad(harmonic_distribution, (1, n_wavetable // 2 - h))
    return torch.fft.irfft(spec, n=n_wavetable) * (n_wavetable / 2)


def wavetable_lookup(
    phase: torch.Tensor, wavetables: torch.Tensor, table_index: torch.Tensor | None = None
) -> torch.Tensor:
    """Linear-interpolated, wrapping lookup of one-period tables at phases in cycles.

    ``phase`` ``(B, T)`` and ``wavetables`` ``(B, N)`` (one table), ``(B, T, N)`` (a table per sample)
    or ``(B, F, N)`` with ``table_index`` ``(T,)`` or ``(B, T)`` naming the table of each sample
    -> ``(B, T)``. A gather (O(T)), unlike magenta's dense O(T N) weighting.
    """
    n = wavetables.shape[-1]
    pos = wrap_cycles(phase) * n
    i0 = pos.detach().floor().long().clamp_(0, n - 1)
    frac = pos - i0.to(pos.dtype)
    i1 = (i0 + 1) % n
    if table_index is not None:
        if wavetables.dim() != 3:
            raise ValueError(f"table_index needs frame-wise tables (B, F, N), got {tuple(wavetables.shape)}")
        flat = wavetables.reshape(wavetables.shape[0], -1)
        base = (table_index * n).expand_as(i0)
        v0, v1 = flat.gather(1, base + i0), flat.gather(1, base + i1)
    elif wavetables.dim() == 2:
        v0, v1 = wavetables.gather(1, i0), wavetables.gather(1, i1)
    else:
        v0 = wavetables.gather(2, i0.unsqueeze(-1))[..., 0]
        v1 = wavetables.gather(2, i1.unsqueeze(-1))[..., 0]
    return v0 + (v1 - v0) * frac.to(wavetables.dtype)


def wavetable_synthesis(
    f0_hz: torch.Tensor,
    amplitudes: torch.Tensor,
    wavetables: torch.Tensor,
    n_samples: int,
    sample_rate: int = 16000,
    initial_phase: torch.Tensor | None = None,
) -> torch.Tensor:
    """Monophonic wavetable synth (magenta's ``wavetable_synthesis``).

    ``f0_hz``, ``amplitudes`` ``(B, F)``; ``wavetables`` ``(B, N)`` or ``(B, F, N)`` (frame-wise tables
    are cross-faded linearly between frames) -> ``(B, n_samples)``. The phase is the *exclusive*
    running sum of ``f / sr`` (magenta's wavetable convention), amplitudes use window resampling.
    """
    f0_hz = as_frames(f0_hz, "f0_hz")
    amplitudes = as_frames(amplitudes, "amplitudes")
    b, n_frames = f0_hz.shape
    if n_samples % n_frames == 0:
        hop = n_samples // n_frames
        f_ext = torch.cat([f0_hz, f0_hz[:, -1:]], dim=1)[..., None]
        phase, _ = segment_phase(f_ext, hop, sample_rate, initial_phase, inclusive=False, dtype=torch.float64)
        phase = phase[..., 0].to(amplitudes.dtype)
        env = resample(amplitudes, n_samples, "window")
    else:
        f = resample(f0_hz.to(torch.float64), n_samples, "linear")
        phase = cumulative_phase(f, sample_rate, initial_phase, inclusive=False).to(amplitudes.dtype)
        env = resample(amplitudes, n_samples, "linear")
    if wavetables.dim() == 2 or wavetables.shape[1] == 1:
        audio = wavetable_lookup(phase, wavetables.reshape(b, -1))
    else:
        if wavetables.shape[1] != n_frames:
            raise ValueError(f"wavetables have {wavetables.shape[1]} frames, f0 has {n_frames}")
        # Per-sample cross-fade between the tables of the two neighbouring frames (linear, endpoint held).
        pos = torch.arange(n_samples, dtype=torch.float64, device=f0_hz.device) * (n_frames / n_samples)
        j0 = pos.floor().long().clamp(max=n_frames - 1)
        j1 = (j0 + 1).clamp(max=n_frames - 1)
        alpha = (pos - j0).to(amplitudes.dtype)
        v0, v1 = (wavetable_lookup(phase, wavetables, j) for j in (j0, j1))
        audio = v0 + (v1 - v0) * alpha
    return audio * env
