"""Deterministic, platform-independent weights and inputs shared by the parity tests and by the
procedure that produced ``tests/data/official/*.json`` (see ``tests/data/official/README.md``)."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np
import torch


def seeded_state(template: Mapping[str, torch.Tensor], seed: int) -> OrderedDict[str, torch.Tensor]:
    """Non-degenerate weights for a discriminator state dict with legacy norm keys.

    Drawn as float32 uniforms ``u`` from numpy's PCG64 in the template's key order: ``weight_g`` =
    0.5 + u, ``bias`` = 0.1 (u - 0.5), other weights 2u - 1. Spectral-norm vectors
    (``weight_u``/``weight_v`` of a prefix with ``weight_orig``) come from 30 float64 power
    iterations on ``weight_orig`` (from a vector of ones), so the eval-mode spectral norm divides by
    (close to) the largest singular value.
    """
    rng = np.random.default_rng(seed)
    spectral = {k[: -len("weight_orig")] for k in template if k.endswith("weight_orig")}
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, value in template.items():
        prefix, _, name = key.rpartition(".")
        prefix = prefix + "." if prefix else ""
        if prefix in spectral and name in ("weight_u", "weight_v"):
            continue
        u = rng.random(tuple(value.shape), dtype=np.float32)
        if name == "weight_g":
            arr = np.float32(0.5) + u
        elif name == "bias":
            arr = np.float32(0.1) * (u - np.float32(0.5))
        else:
            arr = np.float32(2.0) * u - np.float32(1.0)
        out[key] = torch.from_numpy(arr)
    for prefix in sorted(spectral):
        w = out[prefix + "weight_orig"].double().numpy()
        w = w.reshape(w.shape[0], -1)
        v = np.ones(w.shape[1]) / np.sqrt(w.shape[1])
        for _ in range(30):
            u_vec = w @ v
            u_vec /= np.linalg.norm(u_vec)
            v = w.T @ u_vec
            v /= np.linalg.norm(v)
        out[prefix + "weight_u"] = torch.from_numpy(u_vec.astype(np.float32))
        out[prefix + "weight_v"] = torch.from_numpy(v.astype(np.float32))
    return OrderedDict((k, out[k]) for k in template)


def seeded_waveforms(length: int = 1500, seed: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    """A real/generated pair ``(2, 1, length)``: tones plus noise (16 kHz time axis)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / 16000.0
    y = np.stack([0.5 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 1250 * t + 1.0)])
    y_hat = np.stack([0.4 * np.sin(2 * np.pi * 230 * t + 0.3), 0.3 * np.sin(2 * np.pi * 1200 * t)])
    y = y + 0.05 * rng.standard_normal(y.shape)
    y_hat = y_hat + 0.05 * rng.standard_normal(y_hat.shape)
    as_t = lambda a: torch.from_numpy(a.astype(np.float32))[:, None, :]  # noqa: E731
    return as_t(y), as_t(y_hat)


def output_summary(out) -> dict:
    """JSON-able summary of a ``(real_logits, fake_logits, real_fmaps, fake_fmaps)`` tuple: the full
    logits and, per feature map, its shape, mean and mean absolute value."""

    def fm(maps):
        return [
            [{"shape": list(m.shape), "mean": m.mean().item(), "abs_mean": m.abs().mean().item()} for m in d]
            for d in maps
        ]

    return {
        "real_logits": [x.tolist() for x in out[0]],
        "fake_logits": [x.tolist() for x in out[1]],
        "real_fmaps": fm(out[2]),
        "fake_fmaps": fm(out[3]),
    }


def real_spectrum_bins(shape: tuple[int, ...]) -> torch.Tensor:
    """Bins of a centred, reflect-padded rectangular-window STFT ``(B, F, N)`` that are real in exact
    arithmetic: every bin of frame 0 (its frame is even-symmetric about the first sample) and the DC
    and Nyquist bins of every frame. Their phase is 0 or pi; where the real part is negative, the
    computed phase is +pi or -pi by the sign of a rounding error, which differs between CPUs."""
    mask = torch.zeros(shape, dtype=torch.bool)
    mask[..., 0] = True
    mask[..., 0, :] = True
    mask[..., -1, :] = True
    return mask


def phase_tie_signs(phase: torch.Tensor) -> list[int]:
    """Flat indices of the :func:`real_spectrum_bins` of a phase spectrogram that came out as -pi."""
    ties = real_spectrum_bins(tuple(phase.shape)) & (phase.abs() > math.pi / 2)
    return torch.nonzero((ties & (phase < 0)).flatten()).flatten().tolist()


def resolve_phase_ties(phase: torch.Tensor, negative: list[int]) -> torch.Tensor:
    """Give the +-pi ties of ``phase`` ``(B, F, N)`` the signs recorded by :func:`phase_tie_signs`
    (the rest is untouched)."""
    ties = (real_spectrum_bins(tuple(phase.shape)) & (phase.abs() > math.pi / 2)).flatten()
    sign = torch.ones(ties.numel(), dtype=phase.dtype)
    sign[torch.tensor(negative, dtype=torch.long)] = -1.0
    flat = phase.flatten().clone()
    flat[ties] = sign[ties] * flat[ties].abs()
    return flat.view_as(phase)
