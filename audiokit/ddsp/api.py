"""One-call synthesis functions: :func:`harmonic`, :func:`filtered_noise` and :func:`synthesize`.

Controls are frame-rate tensors ``(B, F)`` (or ``(F,)`` for one example, which returns ``(T,)``) in
physical units: Hz, linear amplitudes, dB. Nothing here is scaled by ``exp_sigmoid``; the
processors (:mod:`audiokit.ddsp.synths`) do that for network outputs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from audiokit.ddsp.features import a_weighting
from audiokit.ddsp.filters import frequency_filter
from audiokit.ddsp.oscillators import harmonic_synthesis, normalize_harmonics
from audiokit.ddsp.synths import uniform_noise

__all__ = [
    "harmonic",
    "filtered_noise",
    "synthesize",
    "synthesize_blocks",
    "loudness_to_amplitude",
    "default_harmonic_distribution",
    "notes_to_controls",
]

#: ``10 log10(3 N^2 / 32 / (N / 2 + 1))`` for N = 512: the current-definition loudness (dB) of a
#: unit-amplitude sinusoid whose A-weighting is 0 dB (periodic Hann, one-sided power mean).
_UNIT_SINE_LOUDNESS_DB = 10.0 * math.log10(3.0 * 512**2 / 32.0 / 257.0)


def _batch(x: torch.Tensor | float, name: str, ndim: int) -> tuple[torch.Tensor, bool]:
    t = torch.as_tensor(x, dtype=torch.float32) if not isinstance(x, torch.Tensor) else x
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or Inf values")
    if t.dim() == ndim - 1:
        return t.unsqueeze(0), True
    if t.dim() != ndim:
        raise ValueError(f"{name} must have {ndim - 1} or {ndim} dimensions, got shape {tuple(t.shape)}")
    return t, False


def harmonic(
    f0_hz: torch.Tensor,
    amplitudes: torch.Tensor,
    harmonic_distribution: torch.Tensor,
    n_samples: int | None = None,
    sample_rate: int = 16000,
    normalize: bool = True,
    amp_resample_method: str = "window",
) -> torch.Tensor:
    """Harmonic synthesis: ``(B, F)`` f0 (Hz), ``(B, F)`` linear amplitude, ``(B, F, H)`` distribution
    -> ``(B, n_samples)`` (default ``n_samples = 64 F``).

    With ``normalize`` (default) harmonics at or above Nyquist are zeroed frame by frame and the
    distribution renormalised to sum to 1, so ``amplitudes`` is the total harmonic amplitude. Phases
    are accumulated precisely (see :mod:`audiokit.ddsp.oscillators`); the output is differentiable in
    all three controls.
    """
    f0, squeeze = _batch(f0_hz, "f0_hz", 2)
    amps, _ = _batch(amplitudes, "amplitudes", 2)
    hd, _ = _batch(harmonic_distribution, "harmonic_distribution", 3)
    if normalize:
        hd = normalize_harmonics(hd, f0, sample_rate)
    audio = harmonic_synthesis(f0, amps, hd, n_samples, sample_rate, amp_resample_method)
    return audio[0] if squeeze else audio


def filtered_noise(
    magnitudes: torch.Tensor,
    n_samples: int | None = None,
    window_size: int = 0,
    generator: torch.Generator | None = None,
    crossfade: bool = False,
) -> torch.Tensor:
    """Uniform noise through frame-wise linear-phase filters: ``(B, F, n_bands)`` linear magnitudes
    (band ``i`` at ``i / (n_bands - 1)`` of Nyquist) -> ``(B, n_samples)`` (default ``64 F``)."""
    mags, squeeze = _batch(magnitudes, "magnitudes", 3)
    n = mags.shape[1] * 64 if n_samples is None else int(n_samples)
    noise = uniform_noise(mags.shape[0], n, generator, mags.device, mags.dtype)
    audio = frequency_filter(noise, mags, window_size, "same", crossfade=crossfade)
    return audio[0] if squeeze else audio


def default_harmonic_distribution(n_harmonics: int = 40, rolloff: float = 1.5) -> torch.Tensor:
    """A generic bright-but-soft timbre: ``c_k`` proportional to ``k^-rolloff``, summing to 1, ``(H,)``."""
    k = torch.arange(1, n_harmonics + 1, dtype=torch.float32)
    c = k**-rolloff
    return c / c.sum()


def loudness_to_amplitude(
    loudness_db: torch.Tensor,
    harmonic_distribution: torch.Tensor,
    f0_hz: torch.Tensor,
    sample_rate: int = 16000,
) -> torch.Tensor:
    """Total amplitude ``A`` for which ``A * sum_k c_k sin(k phi)`` has the given current-definition
    loudness (:func:`audiokit.ddsp.features.compute_loudness`, n_fft 512), from Parseval:
    ``loudness = 19.8 dB + 10 log10(sum_k (A c_k)^2 W(k f0))`` with ``W`` the A-weighting (power).

    ``(B, F)`` loudness and f0, ``(B, F, H)`` normalised distribution -> ``(B, F)``.
    """
    n_fft = 512
    weights_db = a_weighting(sample_rate, n_fft, loudness_db.dtype, loudness_db.device)
    k = torch.arange(1, harmonic_distribution.shape[-1] + 1, dtype=f0_hz.dtype, device=f0_hz.device)
    bins = (f0_hz[..., None] * k * (n_fft / sample_rate)).clamp(0, n_fft // 2)  # fractional FFT bin
    lo = bins.floor().long().clamp(max=n_fft // 2)
    hi = (lo + 1).clamp(max=n_fft // 2)
    w_db = weights_db[lo] + (weights_db[hi] - weights_db[lo]) * (bins - lo)
    weighted = (harmonic_distribution.square() * 10.0 ** (w_db / 10.0)).sum(-1).clamp(min=1e-12)
    return torch.sqrt(10.0 ** ((loudness_db - _UNIT_SINE_LOUDNESS_DB) / 10.0) / weighted)


def synthesize(
    f0_hz: torch.Tensor,
    loudness_db: torch.Tensor,
    harmonic_distribution: torch.Tensor | None = None,
    noise_magnitudes: torch.Tensor | None = None,
    sample_rate: int = 16000,
    frame_rate: int = 250,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Direct harmonic-plus-noise synthesis from pitch and loudness.

    Args:
        f0_hz: ``(B, F)`` fundamental (Hz) at ``frame_rate``.
        loudness_db: ``(B, F)`` target loudness (current DDSP definition, dB): the harmonic part is
            scaled so that :func:`~audiokit.ddsp.features.compute_loudness` of it reads this value.
        harmonic_distribution: ``(H,)``, ``(B, H)`` or ``(B, F, H)`` relative harmonic amplitudes
            (normalised here; default :func:`default_harmonic_distribution`).
        noise_magnitudes: optional ``(B, F, n_bands)`` linear filter magnitudes of an added noise
            component.

    Returns:
        ``(B, F * sample_rate / frame_rate)`` audio (``(T,)`` for 1-D inputs).
    """
    f0, squeeze = _batch(f0_hz, "f0_hz", 2)
    blocks = list(
        synthesize_blocks(
            f0_hz,
            loudness_db,
            harmonic_distribution,
            noise_magnitudes,
            sample_rate,
            frame_rate,
            generator,
            block_frames=max(1, f0.shape[1]),
        )
    )
    audio = torch.cat(blocks, dim=-1)
    return audio[0] if squeeze else audio


def synthesize_blocks(
    f0_hz: torch.Tensor,
    loudness_db: torch.Tensor,
    harmonic_distribution: torch.Tensor | None = None,
    noise_magnitudes: torch.Tensor | None = None,
    sample_rate: int = 16000,
    frame_rate: int = 250,
    generator: torch.Generator | None = None,
    block_frames: int = 2500,
) -> Iterator[torch.Tensor]:
    """:func:`synthesize`, rendered ``block_frames`` frames at a time: yields ``(B, t)`` blocks
    (``F * sample_rate / frame_rate`` samples in all) that together equal the one-pass output to
    float rounding, with memory bounded by the block (the controls are frame-local; the phase and
    the noise filter's tail carry over, :class:`~audiokit.ddsp.oscillators.HarmonicStream` and
    :class:`~audiokit.ddsp.streaming.FrameFilterStream`)."""
    from audiokit.ddsp.oscillators import HarmonicStream
    from audiokit.ddsp.streaming import FrameFilterStream, _Aligner

    f0, _ = _batch(f0_hz, "f0_hz", 2)
    ld, _ = _batch(loudness_db, "loudness_db", 2)
    if f0.shape != ld.shape:
        raise ValueError(f"f0_hz {tuple(f0.shape)} and loudness_db {tuple(ld.shape)} differ")
    if sample_rate % frame_rate:
        raise ValueError(f"sample_rate {sample_rate} must be a multiple of frame_rate {frame_rate}")
    if block_frames < 1:
        raise ValueError(f"block_frames must be positive, got {block_frames}")
    b, n_frames = f0.shape
    hop = sample_rate // frame_rate
    hd = (
        default_harmonic_distribution()
        if harmonic_distribution is None
        else torch.as_tensor(harmonic_distribution)
    )
    hd = hd.to(f0.dtype)
    if hd.dim() == 1:
        hd = hd[None, None].expand(b, n_frames, -1)
    elif hd.dim() == 2:
        hd = hd[:, None].expand(b, n_frames, -1)
    mags = None if noise_magnitudes is None else _batch(noise_magnitudes, "noise_magnitudes", 3)[0]
    harmonic = HarmonicStream(sample_rate, hop)
    noise = FrameFilterStream(hop, 0) if mags is not None else None
    align = _Aligner()

    def mix(h: torch.Tensor, n: torch.Tensor | None) -> torch.Tensor:
        return h if n is None else sum(align.push(h, n))

    for s in range(0, n_frames, block_frames):
        sl = slice(s, s + block_frames)
        f0_b, hd_b = f0[:, sl], normalize_harmonics(hd[:, sl], f0[:, sl], sample_rate)
        amps = loudness_to_amplitude(ld[:, sl], hd_b, f0_b, sample_rate)
        h = harmonic.process(f0_b, amps, hd_b)
        n = None
        if noise is not None:
            m = mags[:, sl].to(h.dtype)
            white = uniform_noise(b, m.shape[1] * hop, generator, h.device, h.dtype)
            n = noise.push(white, m)
        y = mix(h, n)
        if y.shape[-1]:
            yield y
    yield mix(harmonic.flush(), None if noise is None else noise.flush())


def notes_to_controls(
    f0_hz: list[float],
    durations: list[float],
    loudness_db: list[float],
    frame_rate: int = 250,
    glide_ms: float = 30.0,
    attack_ms: float = 30.0,
    release_ms: float = 80.0,
    vibrato_cents: float = 0.0,
    vibrato_hz: float = 5.5,
    floor_db: float = -80.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame-rate ``(f0_hz, loudness_db)`` curves ``(F,)`` for a sequence of notes.

    Each note holds its pitch (reached by a ``glide_ms`` portamento from the previous one, with
    optional vibrato) and its loudness (a linear-in-dB attack from ``floor_db`` and a release back
    to it at the end of the note).
    """
    if not (len(f0_hz) == len(durations) == len(loudness_db)) or not f0_hz:
        raise ValueError("f0_hz, durations and loudness_db need one value per note (at least one note)")
    if any(f <= 0 for f in f0_hz) or any(d <= 0 for d in durations):
        raise ValueError("note frequencies and durations must be positive")
    f0_frames, ld_frames = [], []
    prev = float(f0_hz[0])
    for f, d, ld in zip(f0_hz, durations, loudness_db):
        n = max(1, int(round(d * frame_rate)))
        midi = torch.full((n,), 12.0 * math.log2(f / 440.0) + 69.0, dtype=torch.float64)
        g = min(n, int(round(glide_ms * frame_rate / 1000)))
        if g:
            start = 12.0 * math.log2(prev / 440.0) + 69.0
            midi[:g] = torch.linspace(start, float(midi[0]), g + 1, dtype=torch.float64)[:-1]
        env = torch.full((n,), float(ld), dtype=torch.float64)
        a = min(n, max(1, int(round(attack_ms * frame_rate / 1000))))
        r = min(n - a, max(1, int(round(release_ms * frame_rate / 1000))))
        env[:a] = torch.linspace(floor_db, float(ld), a + 1, dtype=torch.float64)[1:]
        if r > 0:
            env[n - r :] = torch.linspace(float(ld), floor_db, r, dtype=torch.float64)
        f0_frames.append(midi)
        ld_frames.append(env)
        prev = float(f)
    midi = torch.cat(f0_frames)
    if vibrato_cents:
        t = torch.arange(midi.numel(), dtype=torch.float64) / frame_rate
        midi = midi + vibrato_cents / 100.0 * torch.sin(2 * math.pi * vibrato_hz * t)
    f0 = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
    return f0.float(), torch.cat(ld_frames).float()
