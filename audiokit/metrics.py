"""Objective audio metrics.

Every function takes a reference and an estimate as 1-D signals (numpy arrays or tensors; a
``(1, T)`` tensor is accepted) plus the sample rate where it matters, trims both to the shorter
length, and returns a Python float. Definitions are spelled out in each docstring because papers
differ (notably for LSD and MCD); the defaults follow the papers audiokit implements.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
import torch

from audiokit.frontend import STFT, MelSpectrogram, f0_pyin

__all__ = [
    "pesq",
    "stoi",
    "estoi",
    "lsd",
    "snr",
    "si_sdr",
    "mcd",
    "f0_rmse",
    "vuv_error",
    "METRICS",
    "compute",
    "compute_segmented",
]


def _mono(x: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    a = x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)
    if a.ndim == 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 1:
        raise ValueError(f"{name}: metrics expect mono audio (T,) or (1, T), got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name}: audio is empty")
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: audio contains NaN or Inf samples")
    return a


def _pair(ref, est) -> tuple[np.ndarray, np.ndarray]:
    r, e = _mono(ref, "reference"), _mono(est, "estimate")
    n = min(r.size, e.size)
    return r[:n], e[:n]


def snr(ref, est) -> float:
    """Signal-to-noise ratio in dB: ``20 log10(||ref|| / max(||est - ref||, 1e-8))``.

    This is AP-BWE's ``cal_metrics`` definition.
    """
    r, e = _pair(ref, est)
    with np.errstate(divide="ignore"):  # a silent reference: -inf
        return float(20.0 * np.log10(np.linalg.norm(r) / max(np.linalg.norm(e - r), 1e-8)))


def si_sdr(ref, est, zero_mean: bool = True) -> float:
    """Scale-invariant SDR in dB (Le Roux et al. 2019): project ``est`` onto ``ref``, then
    ``10 log10(||a ref||^2 / ||a ref - est||^2)`` with ``a = <est, ref> / ||ref||^2``."""
    r, e = _pair(ref, est)
    if zero_mean:
        r, e = r - r.mean(), e - e.mean()
    a = np.dot(e, r) / max(np.dot(r, r), 1e-20)
    target = a * r
    noise = e - target
    return float(10.0 * np.log10(max(np.dot(target, target), 1e-20) / max(np.dot(noise, noise), 1e-20)))


def _stft_power(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    spec = STFT(n_fft, hop, n_fft)(torch.from_numpy(x))[0]
    return (spec.real.square() + spec.imag.square()).numpy()


def lsd(
    ref,
    est,
    sample_rate: int | None = None,
    n_fft: int = 2048,
    hop_length: int = 512,
    band: tuple[float, float] | None = None,
    eps: float = 1e-8,
) -> float:
    """Log-spectral distance, AP-BWE definition (``cal_metrics.py``).

    ``P = |STFT|^2`` (n_fft 2048, hop 512, periodic Hann 2048, centred with reflect padding), then per
    frame ``sqrt(mean_k (log10 max(P_est, eps) - log10 max(P_ref, eps))^2)`` over the bins ``k`` and
    the mean over all frames (silence included). No factor of 10 (not dB).

    Args:
        band: ``(lo_hz, hi_hz)`` restricts the mean to bins in that range (e.g. the high band
            ``(lr_sr / 2, sr / 2)`` for LSD-HF); needs ``sample_rate``.
    """
    r, e = _pair(ref, est)
    if r.size <= n_fft // 2:
        raise ValueError(f"LSD needs more than {n_fft // 2} samples, got {r.size}")
    pr = np.log10(np.maximum(_stft_power(r, n_fft, hop_length), eps))
    pe = np.log10(np.maximum(_stft_power(e, n_fft, hop_length), eps))
    if band is not None:
        if sample_rate is None:
            raise ValueError("lsd(band=...) needs sample_rate")
        freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
        sel = (freqs >= band[0]) & (freqs <= band[1])
        if not sel.any():
            raise ValueError(f"band {band} Hz contains no STFT bin at {sample_rate} Hz")
        pr, pe = pr[sel], pe[sel]
    return float(np.mean(np.sqrt(np.mean((pe - pr) ** 2, axis=0))))


def _resample_np(x: np.ndarray, sr: int, target: int) -> np.ndarray:
    import soxr

    return x if sr == target else soxr.resample(x, sr, target, quality="VHQ")


#: Longest input :func:`pesq` scores: the ``pesq`` package segfaults from about 140 s (16 kHz wb and
#: 8 kHz nb alike, measured), which would kill a whole batch.
PESQ_MAX_SECONDS = 120.0


def pesq(ref, est, sample_rate: int, mode: str | None = None) -> float:
    """PESQ MOS-LQO (ITU-T P.862 / P.862.2, via the ``pesq`` package).

    ``mode="wb"`` (wide band, 16 kHz) or ``"nb"`` (narrow band, 8 kHz). With ``mode=None`` it is
    ``"nb"`` at 8 kHz and ``"wb"`` otherwise. PESQ is only defined at 8 and 16 kHz: **other rates are
    resampled with soxr** (to 16 kHz for ``wb``, 8 kHz for ``nb``) before scoring. Inputs longer than
    :data:`PESQ_MAX_SECONDS` are a ``ValueError`` (the library would crash the process).
    """
    from pesq import pesq as _pesq

    r, e = _pair(ref, est)
    mode = mode or ("nb" if sample_rate == 8000 else "wb")
    if mode not in ("wb", "nb"):
        raise ValueError(f"pesq mode must be 'wb' or 'nb', got {mode!r}")
    target = 16000 if mode == "wb" else 8000
    r, e = _resample_np(r, sample_rate, target), _resample_np(e, sample_rate, target)
    if r.size < target // 4:
        raise ValueError(f"PESQ needs at least 0.25 s of audio, got {r.size / target:.3f} s")
    if r.size > PESQ_MAX_SECONDS * target:
        raise ValueError(
            f"PESQ: {r.size / target:.0f} s of audio; the pesq library crashes (segfault) beyond about "
            f"140 s and ITU-T P.862 is specified for utterances of seconds: score segments of at most "
            f"{PESQ_MAX_SECONDS:g} s"
        )
    if not np.any(r):
        raise ValueError("PESQ: the reference is silent (all zeros); PESQ needs speech in the reference")
    from pesq import PesqError

    try:
        return float(_pesq(target, r, e, mode))
    except PesqError as err:  # e.g. NoUtterancesError on near-silence or non-speech
        reason = err.args[0].decode() if err.args and isinstance(err.args[0], bytes) else str(err)
        raise ValueError(f"PESQ: {reason.lower()} (the reference needs audible speech)") from None


def stoi(ref, est, sample_rate: int, extended: bool = False) -> float:
    """Short-time objective intelligibility (Taal et al. 2011) via ``pystoi``; ``extended=True``
    gives ESTOI (Jensen & Taal 2016). pystoi resamples to 10 kHz internally."""
    from pystoi import stoi as _stoi

    r, e = _pair(ref, est)
    return float(_stoi(r, e, sample_rate, extended=extended))


def estoi(ref, est, sample_rate: int) -> float:
    """Extended STOI; see :func:`stoi`."""
    return stoi(ref, est, sample_rate, extended=True)


def mel_cepstrum(
    x: np.ndarray,
    sample_rate: int,
    n_mfcc: int = 25,
    n_fft: int = 1024,
    hop_length: int | None = None,
    n_mels: int = 80,
) -> np.ndarray:
    """Mel-cepstral coefficients ``(n_mfcc, N)`` used by :func:`mcd`: orthonormal DCT-II of the
    natural-log mel *power* spectrum (Slaney mel, f_max = sr/2, floor 1e-10)."""
    import scipy.fft

    hop_length = hop_length or max(1, sample_rate // 200)
    mel = MelSpectrogram(sample_rate, n_fft, hop_length, n_mels=n_mels, power=2.0, log=False)
    p = mel(torch.from_numpy(x).float())[0].double().numpy()
    return scipy.fft.dct(np.log(np.maximum(p, 1e-10)), type=2, norm="ortho", axis=0)[:n_mfcc]


def mcd(
    ref, est, sample_rate: int, n_mfcc: int = 25, n_fft: int = 1024, hop_length: int | None = None
) -> float:
    """Mel-cepstral distortion in dB, frame-aligned (no DTW: the estimate is assumed time-aligned,
    as for vocoder resynthesis and bandwidth extension).

    ``MCD = mean_n (10 / ln 10) sqrt(2 sum_{d=1}^{D-1} (c_d - c'_d)^2)`` over all frames, with ``c``
    from :func:`mel_cepstrum` (5 ms hop by default) and ``c_0`` (energy) excluded.
    """
    r, e = _pair(ref, est)
    cr = mel_cepstrum(r, sample_rate, n_mfcc, n_fft, hop_length)
    ce = mel_cepstrum(e, sample_rate, n_mfcc, n_fft, hop_length)
    diff = cr[1:] - ce[1:]
    return float(np.mean(10.0 / np.log(10.0) * np.sqrt(2.0 * np.sum(diff**2, axis=0))))


def _f0_pair(ref, est, sample_rate: int, hop_length: int | None, fmin: float, fmax: float):
    r, e = _pair(ref, est)
    hop = hop_length or max(1, sample_rate // 100)
    f0r, vr = f0_pyin(r, sample_rate, hop, fmin, fmax)
    f0e, ve = f0_pyin(e, sample_rate, hop, fmin, fmax)
    return f0r, vr, f0e, ve


def f0_rmse(
    ref,
    est,
    sample_rate: int,
    unit: str = "cent",
    hop_length: int | None = None,
    fmin: float = 50.0,
    fmax: float = 1000.0,
) -> float:
    """F0 root-mean-square error over frames voiced in both signals (pyin f0, 10 ms hop).

    ``unit="cent"`` (as the APNet2 table): ``1200 log2(f_est / f_ref)``; ``unit="hz"``: ``f_est - f_ref``.
    Returns ``nan`` when no frame is voiced in both.
    """
    f0r, vr, f0e, ve = _f0_pair(ref, est, sample_rate, hop_length, fmin, fmax)
    both = vr & ve
    if not both.any():
        return math.nan
    if unit == "cent":
        d = 1200.0 * np.log2(f0e[both] / f0r[both])
    elif unit == "hz":
        d = f0e[both] - f0r[both]
    else:
        raise ValueError(f"unit must be 'cent' or 'hz', got {unit!r}")
    return float(np.sqrt(np.mean(d**2)))


def vuv_error(
    ref, est, sample_rate: int, hop_length: int | None = None, fmin: float = 50.0, fmax: float = 1000.0
) -> float:
    """Voiced/unvoiced decision error: the fraction of frames whose pyin voicing differs (0..1)."""
    _, vr, _, ve = _f0_pair(ref, est, sample_rate, hop_length, fmin, fmax)
    return float(np.mean(vr != ve))


def _lsd_hf(ref, est, sample_rate: int, cutoff_hz: float | None = None) -> float:
    if cutoff_hz is None:
        raise ValueError("lsd_hf needs the narrowband cutoff (cutoff_hz)")
    return lsd(ref, est, sample_rate, band=(cutoff_hz, sample_rate / 2))


def _lsd_lf(ref, est, sample_rate: int, cutoff_hz: float | None = None) -> float:
    """LSD over the bins below the narrowband cutoff: how much a bandwidth extension changed the
    band it was given."""
    if cutoff_hz is None:
        raise ValueError("lsd_lf needs the narrowband cutoff (cutoff_hz)")
    return lsd(ref, est, sample_rate, band=(0.0, cutoff_hz))


#: Metrics by name for the CLI: ``name -> fn(ref, est, sample_rate, **options)``.
METRICS: dict[str, Callable[..., float]] = {
    "pesq": lambda r, e, sr, **kw: pesq(r, e, sr),
    "stoi": lambda r, e, sr, **kw: stoi(r, e, sr),
    "estoi": lambda r, e, sr, **kw: estoi(r, e, sr),
    "lsd": lambda r, e, sr, **kw: lsd(r, e, sr),
    "lsd_hf": lambda r, e, sr, **kw: _lsd_hf(r, e, sr, kw.get("cutoff_hz")),
    "lsd_lf": lambda r, e, sr, **kw: _lsd_lf(r, e, sr, kw.get("cutoff_hz")),
    "snr": lambda r, e, sr, **kw: snr(r, e),
    "si_sdr": lambda r, e, sr, **kw: si_sdr(r, e),
    "mcd": lambda r, e, sr, **kw: mcd(r, e, sr),
    "f0_rmse": lambda r, e, sr, **kw: f0_rmse(r, e, sr),
    "vuv_error": lambda r, e, sr, **kw: vuv_error(r, e, sr),
}


def compute(names: list[str], ref, est, sample_rate: int, **options) -> dict[str, float]:
    """Compute several metrics by name (see :data:`METRICS`)."""
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; available: {sorted(METRICS)}")
    return {n: METRICS[n](ref, est, sample_rate, **options) for n in names}


def compute_segmented(
    names: list[str], pairs: Iterable[tuple[np.ndarray, np.ndarray]], sample_rate: int, **options
) -> tuple[dict[str, float], int]:
    """Metrics of a long recording scored segment by segment: ``pairs`` yields aligned
    ``(reference, estimate)`` segments (read one at a time, so memory is bounded by a segment); each
    metric is the mean over segments weighted by their length. A segment where a metric is undefined
    (a ``ValueError``: PESQ on a silent stretch, say; or a non-finite value: the SNR of a silent
    reference stretch) is left out of that metric's mean; a metric
    undefined on every segment is a ``ValueError`` naming it and the first reason.

    This is the usual way to score recordings longer than PESQ accepts (:data:`PESQ_MAX_SECONDS`);
    for metrics that are averages over frames anyway (LSD, STOI's segments) it changes only how the
    frames are grouped, for SNR and SI-SDR it is the segmental (length-weighted) value.

    Returns ``(values, number of segments)``.
    """
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; available: {sorted(METRICS)}")
    sums = dict.fromkeys(names, 0.0)
    weights = dict.fromkeys(names, 0.0)
    errors: dict[str, str] = {}
    count = 0
    for ref, est in pairs:
        count += 1
        n = min(np.size(ref), np.size(est))
        for name in names:
            try:
                v = METRICS[name](ref, est, sample_rate, **options)
            except ValueError as e:
                errors.setdefault(name, str(e))
                continue
            if not math.isfinite(v):  # e.g. SNR of a silent reference stretch: -inf
                errors.setdefault(name, f"{v} on a segment")
                continue
            sums[name] += v * n
            weights[name] += n
    if count == 0:
        raise ValueError("no audio to score")
    out = {}
    for name in names:
        if weights[name] == 0:
            raise ValueError(f"{name}: undefined on every one of {count} segments ({errors.get(name)})")
        out[name] = sums[name] / weights[name]
    return out, count
