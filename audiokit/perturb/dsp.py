"""Signal helpers shared by the perturbations (numpy/scipy, channels first ``(C, T)``)."""

from __future__ import annotations

import io
import math

import numpy as np
from scipy import signal

__all__ = [
    "power",
    "db_to_amp",
    "scale_to_snr",
    "colored_noise",
    "butter_zero_phase",
    "peaking_biquad",
    "one_pole_lowpass",
    "one_pole_highpass",
    "fit_length",
    "mp3_roundtrip",
    "estimate_lag",
    "MP3_RATES",
]

#: Sample rates the MPEG layer III encoder of libsndfile accepts.
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def power(x: np.ndarray) -> float:
    """Mean power over all samples and channels."""
    return float(np.mean(np.square(x, dtype=np.float64)))


def db_to_amp(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def scale_to_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``noise`` scaled so that ``10 log10(P(clean) / P(noise)) == snr_db`` (power over all channels).

    Raises ``ValueError`` when the clean signal is silent (the SNR is then undefined).
    """
    ps, pn = power(clean), power(noise)
    if ps <= 0:
        raise ValueError("cannot add noise at a given SNR to silent audio")
    if pn <= 0:
        raise ValueError("the noise signal is silent")
    return (noise * math.sqrt(ps / (pn * 10.0 ** (snr_db / 10.0)))).astype(np.float32)


def colored_noise(shape: tuple[int, int], color: str, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with power spectral density ``∝ f^-beta``: white 0, pink 1, brown 2.

    Shaped in the frequency domain (the DC bin is zeroed), normalised to unit power per channel.
    """
    beta = {"white": 0.0, "pink": 1.0, "brown": 2.0}.get(color)
    if beta is None:
        raise ValueError(f"unknown noise color {color!r}; use white, pink or brown")
    c, n = shape
    w = rng.standard_normal((c, n))
    if beta > 0:
        spec = np.fft.rfft(w, axis=-1)
        f = np.arange(spec.shape[-1], dtype=np.float64)
        f[0] = 1.0
        spec *= f ** (-beta / 2.0)
        spec[:, 0] = 0.0
        w = np.fft.irfft(spec, n=n, axis=-1)
    w /= np.sqrt(np.mean(w**2, axis=-1, keepdims=True)) + 1e-12
    return w.astype(np.float32)


def butter_zero_phase(x: np.ndarray, sr: int, kind: str, cutoff, order: int) -> np.ndarray:
    """Zero-phase (forward-backward) Butterworth filter; the cutoff is the -6 dB point and the
    rolloff is ``12 * order`` dB/octave. ``kind``: lowpass, highpass or bandpass (``cutoff=(lo, hi)``)."""
    nyq = sr / 2.0
    wn = np.atleast_1d(np.asarray(cutoff, dtype=np.float64)) / nyq
    if np.any(wn <= 0) or np.any(wn >= 1):
        raise ValueError(f"{kind} cutoff {cutoff} Hz must lie strictly between 0 and Nyquist ({nyq:g} Hz)")
    sos = signal.butter(int(order), wn if kind == "bandpass" else wn[0], btype=kind, output="sos")
    padlen = min(x.shape[-1] - 1, 3 * (2 * sos.shape[0] + 1))
    return signal.sosfiltfilt(sos, x, axis=-1, padlen=padlen).astype(np.float32)


def peaking_biquad(freq_hz: float, gain_db: float, q: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """RBJ Audio-EQ-Cookbook peaking filter coefficients ``(b, a)`` (normalised, ``a[0] == 1``)."""
    a_lin = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * freq_hz / sr
    alpha = math.sin(w0) / (2.0 * q)
    b = np.array([1 + alpha * a_lin, -2 * math.cos(w0), 1 - alpha * a_lin])
    a = np.array([1 + alpha / a_lin, -2 * math.cos(w0), 1 - alpha / a_lin])
    return b / a[0], a / a[0]


def one_pole_lowpass(x: np.ndarray, sr: int, cutoff_hz: float) -> np.ndarray:
    """First-order RC low-pass (6 dB/octave, causal), the filter of pydub's ``low_pass_filter``
    used by AJailBench for its noise beds: ``y[i] = y[i-1] + a (x[i] - y[i-1])``, ``a = dt/(RC+dt)``."""
    rc = 1.0 / (cutoff_hz * 2 * math.pi)
    dt = 1.0 / sr
    a = dt / (rc + dt)
    y = signal.lfilter([a], [1.0, -(1.0 - a)], x, axis=-1, zi=None)
    # pydub starts the recursion at y[0] = x[0]
    y = y + (1.0 - a) ** np.arange(1, x.shape[-1] + 1) * x[..., :1]
    return y.astype(np.float32)


def one_pole_highpass(x: np.ndarray, sr: int, cutoff_hz: float) -> np.ndarray:
    """First-order RC high-pass (pydub's ``high_pass_filter``):
    ``y[i] = a (y[i-1] + x[i] - x[i-1])``, ``a = RC/(RC+dt)``, ``y[0] = x[0]``."""
    rc = 1.0 / (cutoff_hz * 2 * math.pi)
    dt = 1.0 / sr
    a = rc / (rc + dt)
    y = signal.lfilter([a, -a], [1.0, -a], x, axis=-1)
    y = y + a ** np.arange(0, x.shape[-1]) * (x[..., :1] * (1 - a))
    return y.astype(np.float32)


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """Crop or zero-pad ``(C, T)`` to ``n`` samples."""
    if x.shape[-1] >= n:
        return x[..., :n]
    return np.pad(x, ((0, 0), (0, n - x.shape[-1])))


def _mp3_level(bitrate_kbps: float, sr: int) -> float:
    # libsndfile maps compression level 0..1 linearly onto the bitrate range of the MPEG version
    lo, hi = (32.0, 320.0) if sr >= 32000 else ((8.0, 160.0) if sr >= 16000 else (8.0, 64.0))
    return float(np.clip((hi - bitrate_kbps) / (hi - lo), 0.0, 0.99))


def mp3_roundtrip(x: np.ndarray, sr: int, bitrate_kbps: float) -> np.ndarray:
    """Encode ``(C, T)`` audio as constant-bitrate MP3 and decode it again with libsndfile
    (LAME/mpg123). Rates MP3 cannot carry are resampled to 48 kHz (or the nearest rate above) and
    back with soxr. The result is aligned and cut to the input length."""
    import soundfile as sf
    import soxr

    enc_sr = next((r for r in MP3_RATES if r >= sr), 48000)
    y = x if enc_sr == sr else soxr.resample(x.T, sr, enc_sr, quality="VHQ").T
    if y.ndim == 1:
        y = y[None]
    if x.shape[0] > 2:  # MP3 holds at most two channels: code each channel on its own
        return np.concatenate([mp3_roundtrip(x[i : i + 1], sr, bitrate_kbps) for i in range(x.shape[0])])
    buf = io.BytesIO()
    sf.write(
        buf,
        np.clip(y, -1.0, 1.0).T,
        enc_sr,
        format="MP3",
        compression_level=_mp3_level(bitrate_kbps, enc_sr),
        bitrate_mode="CONSTANT",
    )
    buf.seek(0)
    z, _ = sf.read(buf, dtype="float32", always_2d=True)
    z = z.T
    if enc_sr != sr:
        z = soxr.resample(z.T, enc_sr, sr, quality="VHQ").T
        if z.ndim == 1:
            z = z[None]
    z = np.ascontiguousarray(z, dtype=np.float32)
    lag = estimate_lag(x, z)
    if lag > 0:  # the codec delayed the signal (LAME at low bitrates): take it back
        z = z[:, lag:]
    elif lag < 0:
        z = np.pad(z, ((0, 0), (-lag, 0)))
    return fit_length(z, x.shape[-1])


def estimate_lag(ref: np.ndarray, est: np.ndarray, max_lag: int = 8192) -> int:
    """Delay of ``est`` relative to ``ref`` (both ``(C, T)``) in samples, from the peak of the
    FFT cross-correlation of their mono mixes within ``+-max_lag``."""
    a, b = ref.mean(axis=0).astype(np.float64), est.mean(axis=0).astype(np.float64)
    n = a.size + b.size - 1
    nfft = 1 << (n - 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(b, nfft) * np.conj(np.fft.rfft(a, nfft)), nfft)
    m = min(max_lag, a.size - 1, b.size - 1)
    lags = np.concatenate([np.arange(0, m + 1), np.arange(-m, 0)])
    vals = np.concatenate([xc[: m + 1], xc[nfft - m :]])
    return int(lags[int(np.argmax(vals))])
