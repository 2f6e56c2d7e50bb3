"""Deterministic full-size AP-BWE weights for the parity fixtures (see fixtures/README.md).

The same function generated the weights fed to the official implementation when the fixtures were
made, so tests rebuild identical weights instead of storing 119 MB of them.
"""

from __future__ import annotations

import math

import torch


def seeded_state_dict(shapes: dict[str, tuple[int, ...]], seed: int = 1234) -> dict[str, torch.Tensor]:
    """Random weights with realistic scales, drawn key by key (in the given order) from one generator.

    Conv/linear weights ~ N(0, 1/fan_in), biases ~ 0.1 N(0, 1), LayerNorm weights 1 + 0.1 N(0, 1),
    layer scales 0.125 (1 + 0.1 N(0, 1)).
    """
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in shapes.items():
        z = torch.randn(shape, generator=g, dtype=torch.float32)
        if key.endswith("gamma"):
            t = 0.125 * (1 + 0.1 * z)
        elif key.endswith("bias"):
            t = 0.1 * z
        elif len(shape) == 1:  # LayerNorm weight
            t = 1 + 0.1 * z
        else:
            fan_in = math.prod(shape[1:])
            t = z / math.sqrt(fan_in)
        out[key] = t.contiguous()
    return out
