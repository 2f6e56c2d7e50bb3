"""ARAUS log-mel features of soundscapes and maskers, through :mod:`audiokit.frontend`.

The ARAUS convention (``make_logmel_spectrograms`` of the ARAUS baseline code): 44.1 kHz audio,
STFT with a periodic Hann window of 4096 samples, hop 2048, **no centring/padding**
(``center=False``), power spectrogram ``|X|^2``, 64 Slaney mel bands between 20 Hz and 20 kHz,
``power_to_db(ref=1.0)`` (``10 log10(max(P, 1e-10))``), each channel separately. A 30 s binaural
clip gives ``(2, 64, 644)``.

ARAUS applies librosa's default ``top_db=80`` (values more than 80 dB below the channel's maximum
are raised to that level). That clip is not additive, so the functions here return *unclipped* dB
by default (``top_db=None``), which is what :func:`~audiokit.soundscape.mix_features` needs; pass
``top_db=ARAUS_TOP_DB`` to reproduce the ARAUS arrays exactly.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from audiokit.frontend import MelSpectrogram
from audiokit.io import check_audio, resample

__all__ = [
    "ARAUS_SAMPLE_RATE",
    "ARAUS_N_FFT",
    "ARAUS_HOP",
    "ARAUS_N_MELS",
    "ARAUS_F_MIN",
    "ARAUS_F_MAX",
    "ARAUS_TOP_DB",
    "POWER_FLOOR",
    "FLOOR_DB",
    "araus_mel",
    "mel_power",
    "features",
    "power_to_db",
    "db_to_power",
    "clip_top_db",
    "num_frames",
    "a_weighting_db",
    "leq_db",
]

ARAUS_SAMPLE_RATE = 44100
ARAUS_N_FFT = 4096
ARAUS_HOP = 2048
ARAUS_N_MELS = 64
ARAUS_F_MIN = 20.0
ARAUS_F_MAX = 20000.0
#: librosa ``power_to_db``'s default ``top_db``, applied by the ARAUS feature code.
ARAUS_TOP_DB = 80.0
#: librosa's ``amin``: the power floor of the dB conversion.
POWER_FLOOR = 1e-10
#: ``10 log10(POWER_FLOOR)``: the dB value of digital silence.
FLOOR_DB = -100.0


def araus_mel(dtype: torch.dtype = torch.float64) -> MelSpectrogram:
    """The ARAUS mel power spectrogram as a frontend module (linear power, no log).

    Shape: ``(T,)`` or ``(B, T)`` at 44.1 kHz -> ``(B, 64, N)`` with ``N = 1 + (T - 4096) // 2048``.
    """
    mel = MelSpectrogram(
        ARAUS_SAMPLE_RATE,
        ARAUS_N_FFT,
        ARAUS_HOP,
        n_mels=ARAUS_N_MELS,
        f_min=ARAUS_F_MIN,
        f_max=ARAUS_F_MAX,
        padding="valid",
        power=2.0,
        log=False,
    )
    return mel.to(dtype)


def num_frames(n_samples: int) -> int:
    """Frames of the ARAUS features for ``n_samples`` samples at 44.1 kHz (0 if shorter than a frame)."""
    return 1 + (n_samples - ARAUS_N_FFT) // ARAUS_HOP if n_samples >= ARAUS_N_FFT else 0


def _as_channels(wav: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    x = torch.as_tensor(wav)
    if x.dim() == 1:
        x = x.unsqueeze(0)
    if x.dim() != 2:
        raise ValueError(f"{name}: expected audio (T,) or (C, T), got shape {tuple(x.shape)}")
    if x.shape[0] > 8 and x.shape[1] <= 8:
        raise ValueError(f"{name}: audio of shape {tuple(x.shape)} looks like (T, C); expected (C, T)")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected floating-point samples in [-1, 1], got {x.dtype}")
    check_audio(x, name)
    return x


#: Frames computed at once by :func:`mel_power` (about 12 s of audio; the result does not depend on it).
MEL_BLOCK_FRAMES = 256


def mel_power(
    wav: torch.Tensor | np.ndarray,
    sr: int,
    dtype: torch.dtype = torch.float64,
    name: str = "audio",
) -> torch.Tensor:
    """Linear ARAUS mel power ``(C, 64, N)`` (float32) of ``(C, T)`` or ``(T,)`` audio.

    Audio at another rate is resampled to 44.1 kHz (soxr) first. The STFT and filterbank run in
    ``dtype`` (float64 by default, as the ARAUS code, which reads wavs as float64).

    Raises:
        ValueError: empty, NaN/Inf or too short audio (under 4096 samples at 44.1 kHz), bad shape.
    """
    x = _as_channels(wav, name)
    if sr != ARAUS_SAMPLE_RATE:
        x = resample(x, sr, ARAUS_SAMPLE_RATE)
    if x.shape[-1] < ARAUS_N_FFT:
        raise ValueError(
            f"{name}: {x.shape[-1] / ARAUS_SAMPLE_RATE:.3f} s of audio is shorter than one ARAUS frame "
            f"({ARAUS_N_FFT} samples at {ARAUS_SAMPLE_RATE} Hz)"
        )
    mel, n = araus_mel(dtype), num_frames(x.shape[-1])
    blocks = []
    with torch.no_grad():  # frames are independent ("valid" framing): blocks bound the memory
        for f0 in range(0, n, MEL_BLOCK_FRAMES):
            f1 = min(n, f0 + MEL_BLOCK_FRAMES)
            seg = x[:, f0 * ARAUS_HOP : (f1 - 1) * ARAUS_HOP + ARAUS_N_FFT]
            blocks.append(mel(seg.to(dtype)).float())
    return torch.cat(blocks, dim=-1)


def power_to_db(power: torch.Tensor, top_db: float | None = None) -> torch.Tensor:
    """``10 log10(max(power, 1e-10))``, optionally clipped ``top_db`` below each channel's maximum.

    The maximum is taken over the last two dims ``(F, N)`` (librosa ``power_to_db`` on one channel).
    """
    db = 10.0 * torch.log10(torch.clamp(power, min=POWER_FLOOR))
    return db if top_db is None else clip_top_db(db, top_db)


def db_to_power(db: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`power_to_db` (without clipping): ``10 ** (db / 10)``."""
    return torch.pow(10.0, db / 10.0)


def clip_top_db(db: torch.Tensor, top_db: float) -> torch.Tensor:
    """Raise values more than ``top_db`` below the maximum of each ``(F, N)`` map to that level."""
    if top_db < 0 or math.isnan(top_db):
        raise ValueError(f"top_db must be non-negative, got {top_db}")
    peak = db.amax(dim=(-2, -1), keepdim=True)
    return torch.maximum(db, peak - top_db)


def features(
    wav: torch.Tensor | np.ndarray,
    sr: int,
    top_db: float | None = None,
    dtype: torch.dtype = torch.float64,
    name: str = "audio",
) -> torch.Tensor:
    """ARAUS log-mel features in dB, ``(C, 64, N)`` float32, one map per channel.

    Args:
        wav: ``(C, T)`` or ``(T,)`` samples in [-1, 1] (binaural soundscape, mono masker, ...).
        sr: sample rate of ``wav``; other rates than 44.1 kHz are resampled.
        top_db: ``None`` (default) for unclipped dB, the input of
            :func:`~audiokit.soundscape.mix_features`; ``ARAUS_TOP_DB`` (80) for the exact ARAUS arrays.
        dtype: computation precision (float64 as the ARAUS code).
        name: how errors refer to the input (e.g. its file name).

    Example:
        >>> x = torch.randn(2, 44100) * 0.1
        >>> features(x, 44100).shape
        torch.Size([2, 64, 20])
    """
    return power_to_db(mel_power(wav, sr, dtype=dtype, name=name), top_db)


def a_weighting_db(freqs: np.ndarray) -> np.ndarray:
    """IEC 61672 A-weighting in dB at ``freqs`` (Hz); ``-inf`` at 0 Hz."""
    f2 = np.asarray(freqs, dtype=np.float64) ** 2
    with np.errstate(divide="ignore"):
        ra = (12194.0**2 * f2**2) / (
            (f2 + 20.6**2) * np.sqrt((f2 + 107.7**2) * (f2 + 737.9**2)) * (f2 + 12194.0**2)
        )
        return 20.0 * np.log10(ra) + 2.0


def leq_db(
    wav: torch.Tensor | np.ndarray, sr: int, weighting: str | None = "A", name: str = "audio"
) -> float:
    """Equivalent continuous level in dB re full scale (``-inf`` for digital silence), power-averaged
    over channels; ``weighting="A"`` applies A-weighting in the frequency domain (Parseval), ``None``
    gives the plain RMS level. A full-scale 1 kHz sine reads -3.01 dB either way.

    Used to express masker gains as ARAUS-style soundscape-to-masker ratios (SMR = L_s - L_m).
    """
    x = _as_channels(wav, name)
    n = x.shape[-1]
    if weighting is None:
        ms = float(sum(np.sum(np.square(c.to(torch.float64).numpy())) for c in x) / x.numel())
    elif weighting.upper() == "A":
        w = 10.0 ** (a_weighting_db(np.fft.rfftfreq(n, 1.0 / sr)) / 10.0)
        w[1:-1] *= 2.0  # one-sided spectrum (the DC and Nyquist bins appear once)
        if n % 2:
            w[-1] *= 2.0
        total = 0.0
        for c in x:  # one channel at a time: memory of one spectrum, not of all
            spec = np.fft.rfft(c.to(torch.float64).numpy())
            total += float(np.dot(spec.real**2 + spec.imag**2, w))
            del spec
        ms = total / n**2 / x.shape[0]
    else:
        raise ValueError(f"unknown weighting {weighting!r}; use 'A' or None")
    return 10.0 * math.log10(ms) if ms > 0 else -math.inf
