"""Independent float64 numpy re-derivations of magenta/ddsp maths, used as test oracles."""

from __future__ import annotations

import numpy as np


def linear_resample(x: np.ndarray, n: int) -> np.ndarray:
    """TF1 bilinear resize with align_corners=False (magenta add_endpoint=True): (F, C) -> (n, C)."""
    f = x.shape[0]
    pos = np.arange(n) * f / n
    i0 = np.minimum(np.floor(pos).astype(int), f - 1)
    i1 = np.minimum(i0 + 1, f - 1)
    frac = (pos - i0)[:, None]
    return x[i0] * (1 - frac) + x[i1] * frac


def window_resample(x: np.ndarray, n: int) -> np.ndarray:
    """magenta's upsample_with_windows by explicit overlap-add of Hann windows: (F, C) -> (n, C)."""
    x = np.concatenate([x, x[-1:]], 0)
    f = x.shape[0]
    hop = n // (f - 1)
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(2 * hop) / (2 * hop))  # periodic Hann
    out = np.zeros(((f - 1) * hop + 2 * hop, x.shape[1]))
    for j in range(f):
        out[j * hop : j * hop + 2 * hop] += x[j] * win[:, None]
    return out[hop:-hop]


def harmonic_synthesis(f0, amps, hd, n, sr, method="window"):
    """magenta harmonic_synthesis in float64 (one example): f0 (F,), amps (F,), hd (F, H) -> (n,)."""
    h = hd.shape[1]
    freqs = f0[:, None] * np.arange(1, h + 1)
    fe = linear_resample(freqs, n)
    ae = (window_resample if method == "window" else linear_resample)(amps[:, None] * hd, n)
    ae = np.where(fe >= sr / 2, 0.0, ae)
    phase = np.cumsum(2 * np.pi * fe / sr, axis=0)
    return (ae * np.sin(phase)).sum(1)
