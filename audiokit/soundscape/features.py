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
    "MelPowerStream",
    "LevelMeter",
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
    stream = MelPowerStream(dtype)
    stream.push(x)
    return stream.finish()


class MelPowerStream:
    """:func:`mel_power` of 44.1 kHz ``(C, t)`` blocks, read once: ``push`` blocks, then
    ``finish() -> (C, 64, N)``. Frames are computed :data:`MEL_BLOCK_FRAMES` at a time from the same
    samples as the one-pass function, so the result is identical; the buffer holds one block of
    frames (about 12 s), the result 256 bytes a frame per channel (66 MB for an hour of binaural audio).
    """

    def __init__(self, dtype: torch.dtype = torch.float64, name: str = "audio"):
        self.mel, self.dtype, self.name = araus_mel(dtype), dtype, name
        self._buf: torch.Tensor | None = None
        self._q0 = 0  # absolute index of _buf[..., 0]
        self.n_samples = 0
        self._f_next = 0
        self._blocks: list[torch.Tensor] = []

    def _run(self, f1: int) -> None:
        assert self._buf is not None
        a = self._f_next * ARAUS_HOP - self._q0
        seg = self._buf[:, a : a + (f1 - 1 - self._f_next) * ARAUS_HOP + ARAUS_N_FFT]
        with torch.no_grad():  # frames are independent ("valid" framing): blocks bound the memory
            self._blocks.append(self.mel(seg.to(self.dtype)).float())
        self._f_next = f1
        keep = f1 * ARAUS_HOP - self._q0
        self._buf, self._q0 = self._buf[:, keep:], self._q0 + keep

    def push(self, x: torch.Tensor) -> None:
        """Append ``(C, t)`` samples at 44.1 kHz."""
        if x.dim() != 2:
            raise ValueError(f"{self.name}: expected (C, t) blocks, got shape {tuple(x.shape)}")
        if self._buf is not None and x.shape[0] != self._buf.shape[0]:
            raise ValueError(
                f"{self.name}: a block has {x.shape[0]} channels, the first had {self._buf.shape[0]}"
            )
        self._buf = x if self._buf is None else torch.cat([self._buf, x], dim=-1)
        self.n_samples += x.shape[-1]
        while (self._f_next + MEL_BLOCK_FRAMES - 1) * ARAUS_HOP + ARAUS_N_FFT <= self.n_samples:
            self._run(self._f_next + MEL_BLOCK_FRAMES)

    def finish(self) -> torch.Tensor:
        """``(C, 64, N)`` linear mel power of everything pushed."""
        n = num_frames(self.n_samples)
        if n == 0:
            raise ValueError(
                f"{self.name}: {self.n_samples / ARAUS_SAMPLE_RATE:.3f} s of audio is shorter than one ARAUS "
                f"frame ({ARAUS_N_FFT} samples at {ARAUS_SAMPLE_RATE} Hz)"
            )
        while self._f_next < n:
            self._run(min(n, self._f_next + MEL_BLOCK_FRAMES))
        return torch.cat(self._blocks, dim=-1)


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


#: Frame and hop of :class:`LevelMeter` (1.5 s periodic Hann windows, 75 % overlap, at 44.1 kHz).
LEVEL_FRAME = 65536
LEVEL_HOP = LEVEL_FRAME // 4


class LevelMeter:
    """:func:`leq_db` of ``(C, t)`` blocks, read once, with memory bounded by a frame.

    The signal is cut into periodic-Hann frames of :data:`LEVEL_FRAME` samples at 75 % overlap
    (zero padded at both ends, so every sample is weighted alike: the squared windows sum to 1.5),
    each frame's spectrum weighted and summed by Parseval. Without weighting this is the exact mean
    square; with A-weighting it differs from the whole-signal spectrum of :func:`leq_db` only by the
    window's 2.7 Hz smoothing of the weighting curve (under 0.02 dB on real recordings; tested).
    """

    def __init__(self, sr: int, weighting: str | None = "A", name: str = "audio"):
        if weighting is not None and weighting.upper() != "A":
            raise ValueError(f"unknown weighting {weighting!r}; use 'A' or None")
        self.sr, self.weighting, self.name = sr, weighting, name
        w = np.ones(LEVEL_FRAME // 2 + 1)
        if weighting is not None:
            w = 10.0 ** (a_weighting_db(np.fft.rfftfreq(LEVEL_FRAME, 1.0 / sr)) / 10.0)
        w[1:-1] *= 2.0  # one-sided spectrum (DC and Nyquist appear once)
        self._w = w / LEVEL_FRAME / 1.5  # Parseval, and the squared windows' overlap sum
        self._win = torch.hann_window(LEVEL_FRAME, periodic=True, dtype=torch.float64)
        self._buf: torch.Tensor | None = None
        self._total = 0.0
        self.n_samples = 0
        self.channels = 0

    def _frames(self) -> None:
        """Consume every complete frame of the buffer, 8 frames at a time (4 MB a channel)."""
        assert self._buf is not None
        while self._buf.shape[-1] >= LEVEL_FRAME:
            count = min(8, (self._buf.shape[-1] - LEVEL_FRAME) // LEVEL_HOP + 1)
            frames = self._buf[:, : (count - 1) * LEVEL_HOP + LEVEL_FRAME].unfold(-1, LEVEL_FRAME, LEVEL_HOP)
            spec = torch.fft.rfft(frames * self._win, dim=-1)  # (C, count, L // 2 + 1)
            self._total += float(((spec.real**2 + spec.imag**2).numpy() @ self._w).sum())
            self._buf = self._buf[:, count * LEVEL_HOP :]

    def push(self, x: torch.Tensor) -> None:
        """Append ``(C, t)`` samples."""
        x = torch.as_tensor(x).to(torch.float64)
        if x.dim() != 2:
            raise ValueError(f"{self.name}: expected (C, t) blocks, got shape {tuple(x.shape)}")
        if self._buf is None:
            self.channels = x.shape[0]
            self._buf = x.new_zeros(x.shape[0], LEVEL_FRAME - LEVEL_HOP)  # the leading padding
        elif x.shape[0] != self.channels:
            raise ValueError(f"{self.name}: a block has {x.shape[0]} channels, the first had {self.channels}")
        self._buf = torch.cat([self._buf, x], dim=-1)
        self.n_samples += x.shape[-1]
        self._frames()

    def level_db(self) -> float:
        """The level in dB re full scale (``-inf`` for digital silence) of everything pushed."""
        if self._buf is None or self.n_samples == 0:
            raise ValueError(f"{self.name}: no audio")
        # trailing padding: the last samples are covered by four frames too
        pad = LEVEL_FRAME - LEVEL_HOP + (-(self._buf.shape[-1] - LEVEL_FRAME) % LEVEL_HOP)
        self._buf = torch.cat([self._buf, self._buf.new_zeros(self.channels, pad)], dim=-1)
        self._frames()
        ms = self._total / self.n_samples / self.channels
        return 10.0 * math.log10(ms) if ms > 0 else -math.inf
