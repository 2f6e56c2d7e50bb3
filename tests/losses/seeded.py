"""Deterministic inputs for the loss parity tests and for ``tests/data/official/losses.json``."""

from __future__ import annotations

import numpy as np
import torch


def seeded_phases(shape: tuple[int, ...] = (2, 9, 7), seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Target phases in (-pi, pi] and predictions with errors spanning several multiples of 2 pi."""
    rng = np.random.default_rng(seed)
    target = rng.uniform(-np.pi, np.pi, shape)
    pred = target + rng.normal(0.0, 3.0, shape)
    return torch.from_numpy(target.astype(np.float32)), torch.from_numpy(pred.astype(np.float32))


def seeded_spectra(shape: tuple[int, ...] = (2, 9, 7), seed: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Two complex spectra ``shape``."""
    rng = np.random.default_rng(seed)
    a, b, c, d = (rng.standard_normal(shape).astype(np.float32) for _ in range(4))
    return torch.complex(torch.from_numpy(a), torch.from_numpy(b)), torch.complex(
        torch.from_numpy(c), torch.from_numpy(d)
    )


def seeded_logits(n: int = 4, seed: int = 5) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Real and generated logits of ``n`` sub-discriminators (different sizes, values around +-1)."""
    rng = np.random.default_rng(seed)
    real = [torch.from_numpy(rng.normal(0.5, 1.0, (2, 3 + k)).astype(np.float32)) for k in range(n)]
    fake = [torch.from_numpy(rng.normal(-0.5, 1.0, (2, 3 + k)).astype(np.float32)) for k in range(n)]
    return real, fake


def seeded_fmaps(n: int = 3, layers: int = 4, seed: int = 6) -> tuple[list[list[torch.Tensor]], ...]:
    """Real and generated feature maps, ``n`` sub-discriminators of ``layers`` maps each."""
    rng = np.random.default_rng(seed)
    real = [
        [torch.from_numpy(rng.standard_normal((2, l + 1, 5)).astype(np.float32)) for l in range(layers)]
        for _ in range(n)
    ]
    fake = [
        [torch.from_numpy(rng.standard_normal((2, l + 1, 5)).astype(np.float32)) for l in range(layers)]
        for _ in range(n)
    ]
    return real, fake
