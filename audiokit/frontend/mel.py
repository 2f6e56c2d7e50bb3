"""Mel filterbank (identical to :func:`librosa.filters.mel`) and the log-mel front end.

The default :class:`MelSpectrogram` reproduces the APNet / APNet2 / HiFi-GAN-loss extractor:
centred STFT with periodic Hann, magnitude ``sqrt(re^2 + im^2 + 1e-9)``, Slaney-scale and
Slaney-normalised filterbank, ``ln(clamp(mel, min=1e-5))``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

from audiokit.frontend.stft import MEL_MAG_EPS, STFT, Padding, magnitude

__all__ = ["hz_to_mel", "mel_to_hz", "mel_filterbank", "MelSpectrogram"]

_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(freq: np.ndarray | float, htk: bool = False) -> np.ndarray:
    """Hz -> mel on the Slaney scale (linear below 1 kHz, logarithmic above) or the HTK scale."""
    f = np.asarray(freq, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    mels = f / _F_SP
    log_part = _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, log_part, mels)


def mel_to_hz(mels: np.ndarray | float, htk: bool = False) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    freqs = _F_SP * m
    log_part = _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL))
    return np.where(m >= _MIN_LOG_MEL, log_part, freqs)


def mel_filterbank(
    sample_rate: int,
    n_fft: int,
    n_mels: int = 80,
    f_min: float = 0.0,
    f_max: float | None = None,
    htk: bool = False,
    norm: Literal["slaney"] | None = "slaney",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Triangular mel filterbank ``(n_mels, n_fft // 2 + 1)`` (float32 by default).

    Equal to ``librosa.filters.mel(sr=..., n_fft=..., n_mels=..., fmin=..., fmax=..., htk=..., norm=...)``
    (computed in float64, like librosa, then cast).
    """
    if n_mels < 1:
        raise ValueError(f"n_mels must be >= 1, got {n_mels}")
    if sample_rate <= 0 or n_fft < 1:
        raise ValueError(f"need a positive sample_rate and n_fft, got {sample_rate} and {n_fft}")
    f_max = sample_rate / 2.0 if f_max is None else float(f_max)
    if not 0 <= f_min < f_max:
        raise ValueError(f"need 0 <= f_min < f_max, got f_min={f_min}, f_max={f_max}")
    if f_max > sample_rate / 2.0:
        raise ValueError(
            f"f_max={f_max:g} Hz is above the Nyquist frequency "
            f"({sample_rate / 2.0:g} Hz at {sample_rate} Hz)"
        )
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(f_min, htk), hz_to_mel(f_max, htk), n_mels + 2), htk)
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    if norm == "slaney":
        weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    elif norm is not None:
        raise ValueError(f"unknown mel norm {norm!r}; use 'slaney' or None")
    return torch.from_numpy(weights).to(dtype)


LogMode = Literal["ln", "db"] | bool


class MelSpectrogram(nn.Module):
    """(Log-)mel spectrogram through the shared :class:`~audiokit.frontend.STFT`.

    Args:
        sample_rate, n_fft, hop_length, win_length: analysis parameters.
        n_mels, f_min, f_max: filterbank (``f_max=None`` means ``sample_rate / 2``).
        center: centred framing (``True``) or "same" framing (``False``, as HiFi-GAN's extractor).
        log: ``True``/``"ln"``: ``ln(clamp(mel, min=log_floor))`` (APNet/HiFi-GAN); ``"db"``:
            ``10 log10(max(mel, log_floor))`` (librosa ``power_to_db`` with ``ref=1``, ``top_db=None``;
            use it with ``power=2``); ``False``: linear mel.
        power: 1 for magnitude (``sqrt(re^2 + im^2 + mag_eps)``), 2 for power (``|X|^2``).
        log_floor: clamp floor of the log (1e-5 for ``"ln"``; 1e-10 is librosa's ``amin`` for ``"db"``).
        norm, htk: filterbank options as :func:`mel_filterbank`.

    Shape:
        ``(T,)`` or ``(B, T)`` -> ``(B, n_mels, N)``.
    """

    mel_basis: torch.Tensor

    def __init__(
        self,
        sample_rate: int,
        n_fft: int,
        hop_length: int,
        win_length: int | None = None,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float | None = None,
        center: bool = True,
        log: LogMode = True,
        power: float = 1.0,
        log_floor: float = 1e-5,
        mag_eps: float = MEL_MAG_EPS,
        norm: Literal["slaney"] | None = "slaney",
        htk: bool = False,
        window: str = "hann",
        padding: Padding | None = None,
        pad_mode: str = "reflect",
    ):
        super().__init__()
        if power not in (1.0, 2.0):
            raise ValueError(f"power must be 1 (magnitude) or 2 (power), got {power}")
        if log not in (True, False, "ln", "db"):
            raise ValueError(f"log must be True, False, 'ln' or 'db', got {log!r}")
        self.sample_rate = sample_rate
        self.n_mels = n_mels
        self.power = power
        self.log = "ln" if log is True else log
        self.log_floor = log_floor
        self.mag_eps = mag_eps
        if padding is None:
            padding = "center" if center else "same"
        self.stft = STFT(n_fft, hop_length, win_length, window, padding=padding, pad_mode=pad_mode)
        self.register_buffer(
            "mel_basis", mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max, htk, norm), persistent=False
        )
        self._fb_args = (sample_rate, n_fft, n_mels, f_min, f_max, htk, norm)

    @property
    def hop_length(self) -> int:
        return self.stft.hop_length

    def spectrogram(self, x: torch.Tensor) -> torch.Tensor:
        """Magnitude or power spectrogram ``(B, F, N)`` as used by :meth:`forward`."""
        spec = self.stft(x)
        if self.power == 1.0:
            return magnitude(spec, self.mag_eps)
        return spec.real.square() + spec.imag.square()

    def from_spectrogram(self, spec: torch.Tensor) -> torch.Tensor:
        """Apply filterbank and log to a magnitude/power spectrogram ``(B, F, N)``."""
        basis = self.mel_basis
        if spec.dtype == torch.float64 and basis.dtype != torch.float64:
            basis = mel_filterbank(*self._fb_args, dtype=torch.float64).to(spec.device)
        mel = torch.matmul(basis.to(spec.dtype), spec)
        if self.log == "ln":
            return torch.log(torch.clamp(mel, min=self.log_floor))
        if self.log == "db":
            return 10.0 * torch.log10(torch.clamp(mel, min=self.log_floor))
        return mel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.from_spectrogram(self.spectrogram(x))
