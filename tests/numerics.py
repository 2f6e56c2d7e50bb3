"""Well-conditioned comparisons for numerical tests that must hold on every x86-64 CPU.

Float32 kernels differ between CPUs (MKL's FFT and oneDNN/ATen vector paths for AVX2, AVX-512,
AMX), so results are compared through quantities whose error stays small whatever the rounding:

- waveforms by their SNR (error energy relative to signal energy);
- phase by its amplitude-weighted, anti-wrapped error (the phase of a near-zero bin is arbitrary);
- a log-amplitude ``log(A + eps)`` with an error bound that grows as ``A`` shrinks: an FFT's
  absolute error is a small multiple of ``eps32 * max(A)``, so ``|d log A| <= c * max(A) / (A + eps)``.
"""

from __future__ import annotations

import math

import torch


def anti_wrap(d: torch.Tensor) -> torch.Tensor:
    """``|d|`` wrapped to ``[0, pi]``."""
    return (d - 2 * math.pi * torch.round(d / (2 * math.pi))).abs()


def snr_db(ref: torch.Tensor, est: torch.Tensor) -> float:
    """``20 log10(||ref|| / ||ref - est||)`` in float64; inf when equal."""
    ref, est = ref.double(), est.double()
    err = (ref - est).norm()
    return math.inf if err == 0 else float(20 * torch.log10(ref.norm() / err))


def weighted_phase_error(phase: torch.Tensor, ref_phase: torch.Tensor, amplitude: torch.Tensor) -> float:
    """Mean anti-wrapped phase error weighted by ``amplitude`` (radians)."""
    w = amplitude.double()
    return float((anti_wrap(phase.double() - ref_phase.double()) * w).sum() / w.sum())


def assert_log_amplitude_close(
    log_amp: torch.Tensor, ref_log_amp: torch.Tensor, eps: float, rel: float = 1e-6, atol: float = 1e-5
) -> None:
    """``log(A + eps)`` against a reference, with the bound an absolute amplitude error of
    ``rel * max(A)`` allows in each bin: ``|d| <= rel * max(A) / (A + eps) + atol``."""
    amp = (ref_log_amp.double().exp() - eps).clamp_min(0)
    bound = rel * float(amp.max()) / (amp + eps) + atol
    err = (log_amp.double() - ref_log_amp.double()).abs()
    worst = int((err - bound).argmax())
    assert bool((err <= bound).all()), (
        f"log-amplitude error {float(err.flatten()[worst]):.3g} > bound {float(bound.flatten()[worst]):.3g} "
        f"at a bin of amplitude {float(amp.flatten()[worst]):.3g} (max {float(amp.max()):.3g})"
    )
