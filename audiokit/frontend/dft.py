"""The centred STFT and ISTFT as matrix products: graphs that export to ONNX.

:func:`torch.istft` (and complex tensors in general) do not export to ONNX (pytorch #65666,
#81075). Here the transforms are real convolutions with fixed kernels:

* :class:`ConvSTFT`: reflect padding by ``n_fft // 2`` and a strided ``conv1d`` whose ``2F`` output
  channels are the windowed cosine and sine basis vectors -> ``(real, imag)``, each ``(B, F, N)``;
  equal to :func:`torch.stft` (``center=True``) within float rounding.
* :class:`MatmulISTFT`: the inverse real DFT of every frame times the synthesis window, as one
  ``conv_transpose1d`` (a matrix product per frame followed by the overlap-add), divided by the
  squared-window envelope and trimmed by ``n_fft // 2`` on both sides; equal to :func:`torch.istft`
  (``center=True``) within float rounding.

The kernels are computed in float64 and stored in float32. ``N`` (the number of frames) is a
dynamic dimension of the exported graphs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.frontend.stft import get_window, pad_window

__all__ = ["ConvSTFT", "MatmulISTFT", "inverse_dft_kernel"]


def _basis(n_fft: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``cos``/``sin`` of ``2 pi k n / n_fft``, each ``(F, n_fft)`` in float64 (exact integer phases)."""
    k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
    n = torch.arange(n_fft, dtype=torch.float64)[None, :]
    phase = 2 * math.pi * torch.remainder(k * n, n_fft) / n_fft
    return torch.cos(phase), torch.sin(phase)


def inverse_dft_kernel(n_fft: int, window: torch.Tensor) -> torch.Tensor:
    """``(2F, 1, n_fft)`` kernel mapping stacked ``(real, imag)`` bins to a windowed frame: the inverse
    real DFT (``irfft``: DC and Nyquist counted once, the imaginary parts there ignored) times
    ``window`` (zero-padded centrally to ``n_fft``)."""
    cos, sin = _basis(n_fft)
    weight = torch.full((n_fft // 2 + 1, 1), 2.0, dtype=torch.float64)
    weight[0] = 1.0
    if n_fft % 2 == 0:
        weight[-1] = 1.0
    w = pad_window(window.to(torch.float64), n_fft)[None, :]
    kernel = torch.cat((weight * cos * w, -weight * sin * w), dim=0) / n_fft
    return kernel[:, None, :]


class MatmulISTFT(nn.Module):
    """Centred ISTFT of ``(real, imag)`` frames ``(B, F, N)`` -> ``(B, hop * (N - 1))`` (or
    ``length`` samples), as :func:`torch.istft` with ``center=True``, without complex numbers or FFTs.

    Args:
        n_fft, hop_length, win_length: as :class:`~audiokit.frontend.STFT`.
        window: window name (:func:`~audiokit.frontend.get_window`) or a ``(win_length,)`` tensor.
    """

    kernel: torch.Tensor
    window_sq: torch.Tensor

    def __init__(
        self, n_fft: int, hop_length: int, win_length: int | None = None, window: str | torch.Tensor = "hann"
    ):
        super().__init__()
        win_length = n_fft if win_length is None else win_length
        w = get_window(window, win_length, dtype=torch.float64) if isinstance(window, str) else window
        self.n_fft, self.hop_length = int(n_fft), int(hop_length)
        self.register_buffer("kernel", inverse_dft_kernel(n_fft, w).float(), persistent=False)
        w2 = pad_window(w.to(torch.float64), n_fft) ** 2
        self.register_buffer("window_sq", w2.float()[None, None, :], persistent=False)

    def forward(self, real: torch.Tensor, imag: torch.Tensor, length: int | None = None) -> torch.Tensor:
        spec = torch.cat((real, imag), dim=1)  # (B, 2F, N)
        y = F.conv_transpose1d(spec, self.kernel.to(spec.dtype), stride=self.hop_length)[:, 0]
        ones = torch.ones_like(real[:1, :1, :])  # (1, 1, N): the envelope follows the dynamic N
        env = F.conv_transpose1d(ones, self.window_sq.to(spec.dtype), stride=self.hop_length)[0, 0]
        half = self.n_fft // 2
        stop = y.shape[-1] - half if length is None else half + length
        y, env = y[:, half:stop], env[half:stop]
        if (
            not torch.jit.is_tracing()
            and not torch.compiler.is_compiling()
            and bool((env.abs() < 1e-11).any())
        ):
            raise ValueError("window/hop combination violates the overlap-add (NOLA) condition")
        return y / env


class ConvSTFT(nn.Module):
    """Centred STFT (reflect padding by ``n_fft // 2``) of ``(B, T)`` audio -> ``(real, imag)``, each
    ``(B, n_fft // 2 + 1, 1 + T // hop)``, as :func:`torch.stft` with ``center=True``.

    Frames are cut by a strided convolution with an identity kernel (exact in any precision), then
    multiplied by the windowed DFT matrix in ``dtype`` (the result is cast back to the input's dtype).
    ``dtype=torch.float64`` gives a more accurate spectrum than a float32 FFT (for models that read
    the phase of near-empty bins, as AP-BWE).
    """

    eye: torch.Tensor
    basis: torch.Tensor
    real_bins: torch.Tensor

    def __init__(
        self,
        n_fft: int,
        hop_length: int,
        win_length: int | None = None,
        window: str | torch.Tensor = "hann",
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        win_length = n_fft if win_length is None else win_length
        w = get_window(window, win_length, dtype=torch.float64) if isinstance(window, str) else window
        cos, sin = _basis(n_fft)
        wp = pad_window(w.to(torch.float64), n_fft)[None, :]
        self.n_fft, self.hop_length, self.dtype = int(n_fft), int(hop_length), dtype
        self.register_buffer("eye", torch.eye(n_fft)[:, None, :], persistent=False)
        self.register_buffer(
            "basis", torch.cat((cos * wp, -sin * wp)).T.contiguous().to(dtype), persistent=False
        )
        # DC and Nyquist are real: their imaginary part is exactly +0 (as an FFT gives), so that
        # their phase is 0 or pi, never -pi from a signed zero
        real_bins = torch.zeros(n_fft // 2 + 1, 1, dtype=torch.bool)
        real_bins[0] = True
        real_bins[-1] = n_fft % 2 == 0
        self.register_buffer("real_bins", real_bins, persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        half = self.n_fft // 2
        xp = F.pad(x[:, None], (half, half), mode="reflect")
        frames = F.conv1d(xp, self.eye.to(x.dtype), stride=self.hop_length)  # (B, n_fft, N), exact
        spec = torch.matmul(frames.transpose(1, 2).to(self.dtype), self.basis).transpose(1, 2)  # (B, 2F, N)
        spec = spec.to(x.dtype)
        n_bins = self.n_fft // 2 + 1
        imag = torch.where(self.real_bins, torch.zeros_like(spec[:, n_bins:]), spec[:, n_bins:])
        return spec[:, :n_bins], imag
