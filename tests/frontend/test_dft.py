"""The matrix-product STFT/ISTFT (ONNX-friendly) against torch, numpy and scipy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from audiokit.frontend import STFT
from audiokit.frontend.dft import ConvSTFT, MatmulISTFT


def _numpy_istft(spec: np.ndarray, n_fft: int, hop: int, window: np.ndarray) -> np.ndarray:
    """Independent float64 reference: irfft of each frame, window, overlap-add, envelope, trim."""
    left = (n_fft - window.size) // 2
    w = np.zeros(n_fft)
    w[left : left + window.size] = window
    n = spec.shape[-1]
    frames = np.fft.irfft(spec, n=n_fft, axis=-2) * w[:, None]
    out = np.zeros((spec.shape[0], (n - 1) * hop + n_fft))
    env = np.zeros((n - 1) * hop + n_fft)
    for j in range(n):
        out[:, j * hop : j * hop + n_fft] += frames[:, :, j]
        env[j * hop : j * hop + n_fft] += w * w
    half = n_fft // 2
    return out[:, half:-half] / env[half:-half]


SIZES = [(1024, 80, 320), (1024, 256, 1024), (512, 128, None), (64, 16, 48)]


@pytest.mark.parametrize("n_fft,hop,win", SIZES)
def test_matmul_istft_equals_torch_istft_and_numpy(n_fft, hop, win):
    stft = STFT(n_fft, hop, win)
    spec = stft(torch.randn(2, 8 * n_fft + 5))
    y = MatmulISTFT(n_fft, hop, win)(spec.real, spec.imag)
    ref = torch.istft(spec, n_fft, hop, win, stft.window, center=True)
    assert y.shape == ref.shape
    scale = float(ref.abs().max())
    assert float((y - ref).abs().max()) < 2e-6 * scale
    ref64 = _numpy_istft(spec.numpy().astype(np.complex128), n_fft, hop, stft.window.double().numpy())
    assert float(np.abs(y.numpy() - ref64).max()) < 2e-6 * scale


def test_matmul_istft_equals_scipy_and_length():
    n_fft, hop = 512, 128
    x = np.random.default_rng(1).standard_normal(6000)
    win = torch.hann_window(n_fft, dtype=torch.float64).numpy()
    _, _, z = scipy.signal.stft(
        x, window=win, nperseg=n_fft, noverlap=n_fft - hop, boundary="even", padded=False
    )
    _, ref = scipy.signal.istft(z, window=win, nperseg=n_fft, noverlap=n_fft - hop)
    z = z * win.sum()  # scipy scales its STFT by 1 / sum(window) (and its ISTFT back)
    zt = torch.from_numpy(z[None]).to(torch.complex64)
    y = MatmulISTFT(n_fft, hop)(zt.real, zt.imag)[0].double().numpy()
    assert np.abs(y - ref[: y.size]).max() < 1e-5
    y_len = MatmulISTFT(n_fft, hop)(zt.real, zt.imag, length=1000)
    assert y_len.shape[-1] == 1000


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_conv_stft_equals_torch_stft_and_numpy(dtype):
    n_fft, hop, win = 1024, 80, 320
    x = torch.randn(2, 9001)
    real, imag = ConvSTFT(n_fft, hop, win, dtype=dtype)(x)
    ref = STFT(n_fft, hop, win)(x)
    assert real.shape == ref.shape and real.dtype == torch.float32
    tol = 3e-6 * float(ref.abs().max())
    assert float((real - ref.real).abs().max()) < tol and float((imag - ref.imag).abs().max()) < tol
    # DC and Nyquist are real with an exact +0 imaginary part
    assert torch.equal(imag[:, [0, -1]], torch.zeros_like(imag[:, [0, -1]]))
    # against numpy in float64: the float64 product is the more accurate one
    xp = np.pad(x.double().numpy(), ((0, 0), (n_fft // 2, n_fft // 2)), mode="reflect")
    w = np.zeros(n_fft)
    w[352:672] = torch.hann_window(win, dtype=torch.float64).numpy()
    frames = np.stack([xp[:, j * hop : j * hop + n_fft] * w for j in range(ref.shape[-1])], axis=-1)
    ref64 = np.fft.rfft(frames, axis=1)
    err = np.abs(real.double().numpy() - ref64.real).max()
    assert err < (1e-5 if dtype == torch.float64 else 3e-5) * np.abs(ref64).max()
