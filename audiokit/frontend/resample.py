"""Windowed-sinc polyphase resampler, numerically identical to ``torchaudio.functional.resample``.

torchaudio is not a dependency of audiokit, but AP-BWE's narrowband simulation (and so the input
distribution its released weights were trained on) is defined by torchaudio's default resampler.
This module reimplements it operation for operation, so that float32 results agree with torchaudio
to the last bit on the same backend.

The algorithm (torchaudio's ``_get_sinc_resample_kernel`` / ``_apply_sinc_resample_kernel``):

1. Reduce the rates by their gcd: ``orig, new``. Cutoff ``base = min(orig, new) * rolloff`` in
   units of the reduced rates; half-width ``width = ceil(lowpass_filter_width * orig / base)``.
2. For each of the ``new`` output phases ``j`` and input taps ``i`` in ``[-width, width + orig)``
   evaluate ``t = (i / orig - j / new) * base`` clamped to ``[-w, w]`` (``w = lowpass_filter_width``),
   the window ``cos(pi t / (2 w))^2`` (Hann) or ``I0(beta sqrt(1 - (t/w)^2)) / I0(beta)`` (Kaiser),
   and the tap ``sinc(pi t) * window * base / orig``. The kernel is computed in the dtype of the
   audio (float32 audio: float32 kernel).
3. Zero-pad the input by ``(width, width + orig)``, correlate with stride ``orig`` (one output
   channel per phase), interleave the phases and keep ``ceil(new * T / orig)`` samples.

Equal rates return the input unchanged (as torchaudio).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "KAISER_BETA",
    "SincResample",
    "sinc_resample",
    "sinc_resample_kernel",
    "sinc_resample_length",
    "reduced_rates",
]

#: Default Kaiser ``beta`` of torchaudio's ``sinc_interp_kaiser`` method.
KAISER_BETA = 14.769656459379492

Window = Literal["hann", "kaiser"]


def reduced_rates(orig_freq: int, new_freq: int) -> tuple[int, int]:
    """``(orig, new)`` divided by their gcd; ValueError for non-integer or non-positive rates."""
    if int(orig_freq) != orig_freq or int(new_freq) != new_freq:
        raise ValueError(f"sample rates must be integers, got {orig_freq} -> {new_freq}")
    orig_freq, new_freq = int(orig_freq), int(new_freq)
    if orig_freq <= 0 or new_freq <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_freq} -> {new_freq}")
    g = math.gcd(orig_freq, new_freq)
    return orig_freq // g, new_freq // g


def sinc_resample_length(length: int, orig_freq: int, new_freq: int) -> int:
    """Output length of :func:`sinc_resample` for ``length`` input samples: ``ceil(new * T / orig)``."""
    orig, new = reduced_rates(orig_freq, new_freq)
    return -(-new * int(length) // orig)


def sinc_resample_kernel(
    orig_freq: int,
    new_freq: int,
    lowpass_filter_width: int = 6,
    rolloff: float = 0.99,
    window: Window = "hann",
    beta: float | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, int]:
    """Polyphase kernel ``(new, 1, 2 * width + orig)`` and ``width`` for ``orig_freq -> new_freq``.

    Rates are reduced by their gcd first; e.g. 48000 -> 8000 gives a ``(1, 1, 80)`` kernel with
    ``width = 37``. The arithmetic follows torchaudio step by step, in ``dtype``.
    """
    orig, new = reduced_rates(orig_freq, new_freq)
    if lowpass_filter_width <= 0:
        raise ValueError(f"lowpass_filter_width must be positive, got {lowpass_filter_width}")
    if window not in ("hann", "kaiser"):
        raise ValueError(f"unknown window {window!r}; use 'hann' or 'kaiser'")
    base_freq = min(orig, new) * rolloff
    width = math.ceil(lowpass_filter_width * orig / base_freq)
    idx = torch.arange(-width, width + orig, dtype=dtype, device=device)[None, None] / orig
    t = torch.arange(0, -new, -1, dtype=dtype, device=device)[:, None, None] / new + idx
    t *= base_freq
    t = t.clamp_(-lowpass_filter_width, lowpass_filter_width)
    if window == "hann":
        win = torch.cos(t * math.pi / lowpass_filter_width / 2) ** 2
    else:
        beta_t = torch.tensor(float(KAISER_BETA if beta is None else beta))
        win = torch.i0(beta_t * torch.sqrt(1 - (t / lowpass_filter_width) ** 2)) / torch.i0(beta_t)
    t *= math.pi
    scale = base_freq / orig
    kernel = torch.where(t == 0, torch.tensor(1.0).to(t), t.sin() / t)
    kernel *= win * scale
    return kernel, width


def _apply_kernel(wav: torch.Tensor, orig: int, new: int, kernel: torch.Tensor, width: int) -> torch.Tensor:
    shape = wav.shape
    x = wav.reshape(-1, shape[-1])
    n, length = x.shape
    x = F.pad(x, (width, width + orig))
    y = F.conv1d(x[:, None], kernel, stride=orig)  # (n, new, frames)
    y = y.transpose(1, 2).reshape(n, -1)[..., : -(-new * length // orig)]
    return y.reshape(*shape[:-1], y.shape[-1])


def sinc_resample(
    wav: torch.Tensor,
    orig_freq: int,
    new_freq: int,
    lowpass_filter_width: int = 6,
    rolloff: float = 0.99,
    window: Window = "hann",
    beta: float | None = None,
) -> torch.Tensor:
    """Resample ``(..., T)`` audio from ``orig_freq`` to ``new_freq`` (torchaudio's algorithm).

    Defaults are torchaudio's (``sinc_interp_hann``, width 6, rolloff 0.99). The output has
    ``ceil(new * T / orig)`` samples (rates reduced by their gcd) and the dtype of the input.

    Example:
        >>> x = torch.randn(2, 16000)
        >>> sinc_resample(x, 16000, 8000).shape
        torch.Size([2, 8000])
    """
    if not wav.is_floating_point():
        raise ValueError(f"sinc_resample expects floating point audio, got {wav.dtype}")
    if wav.dim() == 0:
        raise ValueError("sinc_resample expects audio (..., T), got a scalar")
    orig, new = reduced_rates(orig_freq, new_freq)
    if orig == new:
        return wav
    kernel, width = sinc_resample_kernel(
        orig, new, lowpass_filter_width, rolloff, window, beta, dtype=wav.dtype, device=wav.device
    )
    return _apply_kernel(wav, orig, new, kernel, width)


class SincResample(nn.Module):
    """:func:`sinc_resample` with the kernel precomputed (a non-persistent buffer).

    Args:
        orig_freq, new_freq: integer sample rates (reduced by their gcd).
        lowpass_filter_width, rolloff, window, beta: as :func:`sinc_resample_kernel`.
        dtype: dtype of the precomputed kernel. An input of another dtype or device gets a kernel
            built for it (as :func:`sinc_resample` would), once: it is cached per (dtype, device).

    Shape:
        ``(..., T)`` -> ``(..., ceil(new * T / orig))``.
    """

    kernel: torch.Tensor

    def __init__(
        self,
        orig_freq: int,
        new_freq: int,
        lowpass_filter_width: int = 6,
        rolloff: float = 0.99,
        window: Window = "hann",
        beta: float | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.orig_freq, self.new_freq = int(orig_freq), int(new_freq)
        self.orig, self.new = reduced_rates(orig_freq, new_freq)
        self.lowpass_filter_width = lowpass_filter_width
        self.rolloff = rolloff
        self.window_name = window
        self.beta = beta
        self._kernels: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}
        kernel, self.width = sinc_resample_kernel(
            self.orig, self.new, lowpass_filter_width, rolloff, window, beta, dtype=dtype
        )
        self.register_buffer("kernel", kernel, persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if self.orig == self.new:
            return wav
        kernel = self.kernel
        if kernel.dtype != wav.dtype or kernel.device != wav.device:
            kernel = self._kernels.get((wav.dtype, wav.device))
            if kernel is None:
                kernel, _ = sinc_resample_kernel(
                    self.orig,
                    self.new,
                    self.lowpass_filter_width,
                    self.rolloff,
                    self.window_name,
                    self.beta,
                    dtype=wav.dtype,
                    device=wav.device,
                )
                self._kernels[(wav.dtype, wav.device)] = kernel
        return _apply_kernel(wav, self.orig, self.new, kernel, self.width)

    def extra_repr(self) -> str:
        return f"{self.orig_freq} -> {self.new_freq}, width={self.width}, window={self.window_name!r}"
