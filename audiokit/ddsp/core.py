"""DDSP core maths: scaling functions, unit conversions, safe maths and frame-to-sample resampling.

Everything follows magenta/ddsp's conventions (``ddsp/core.py``) so that controls mean the same
thing: :func:`exp_sigmoid` with magenta's constants, ``safe_log`` that *replaces* non-positive values
(not ``log(x + eps)``), MIDI/Hz mappings with 0 Hz -> MIDI 0, and :func:`resample` whose ``"linear"``
and ``"window"`` methods put frame ``j`` exactly on sample ``j * hop`` and hold the last frame for the
final hop (``add_endpoint=True``).

Shapes: frame-rate controls are ``(B, F)`` or ``(B, F, C)``; sample-rate signals ``(B, T)`` or
``(B, T, C)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "DB_RANGE",
    "F0_RANGE",
    "exp_sigmoid",
    "sym_exp_sigmoid",
    "safe_log",
    "safe_divide",
    "power_to_db",
    "amplitude_to_db",
    "db_to_power",
    "db_to_amplitude",
    "midi_to_hz",
    "hz_to_midi",
    "unit_to_midi",
    "midi_to_unit",
    "unit_to_hz",
    "hz_to_unit",
    "hz_to_bark",
    "bark_to_hz",
    "hz_to_mel",
    "mel_to_hz",
    "hz_to_erb",
    "frequencies_softmax",
    "frequencies_sigmoid",
    "frequencies_critical_bands",
    "soft_limit",
    "resample",
    "upsample_with_windows",
    "segment_weights",
]

#: Dynamic range (dB) of magenta's ``power_to_db`` and of the loudness feature scaling (ld/80 + 1).
DB_RANGE = 80.0
#: MIDI range of magenta's f0 scaling (f0_scaled = midi / 127).
F0_RANGE = 127.0


# Scaling -------------------------------------------------------------------------------------------
def exp_sigmoid(
    x: torch.Tensor, exponent: float = 10.0, max_value: float = 2.0, threshold: float = 1e-7
) -> torch.Tensor:
    """Exponentiated sigmoid ``max_value * sigmoid(x) ** ln(exponent) + threshold`` (magenta).

    With the defaults the output lies in ``(1e-7, 2 + 1e-7)`` and, away from ``x = 0``, changes by a
    factor of ``exponent`` for every unit change of ``x``; ``exp_sigmoid(0) = 0.4054``.
    """
    return max_value * torch.sigmoid(x) ** math.log(exponent) + threshold


def sym_exp_sigmoid(x: torch.Tensor, width: float = 8.0) -> torch.Tensor:
    """Symmetric exp_sigmoid centred at ``(0, 1e-7)``: ``exp_sigmoid(width * (|x| / 2 - 1))``."""
    return exp_sigmoid(width * (x.abs() / 2.0 - 1.0))


def soft_limit(x: torch.Tensor, x_min: float = 0.0, x_max: float = 1.0) -> torch.Tensor:
    """Softly limit ``x`` to ``[x_min, x_max]`` with two softplus functions."""
    return torch.nn.functional.softplus(x) + x_min - torch.nn.functional.softplus(x - (x_max - x_min))


# Safe maths and decibels ---------------------------------------------------------------------------
def safe_log(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """``log(x)`` where values ``<= 0`` are *replaced* by ``eps`` (magenta >= v1; not ``log(x + eps)``)."""
    return torch.log(torch.where(x <= 0, torch.full_like(x, eps), x))


def safe_divide(numerator: torch.Tensor, denominator: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """``numerator / denominator`` with zero denominators replaced by ``eps``."""
    return numerator / torch.where(denominator == 0, torch.full_like(denominator, eps), denominator)


def power_to_db(power: torch.Tensor, ref_db: float = 0.0, range_db: float = DB_RANGE) -> torch.Tensor:
    """``max(10 log10(max(power, 10^(-range/10))) - ref_db, -range_db)`` (magenta's ``power_to_db``)."""
    pmin = 10.0 ** (-range_db / 10.0)
    db = 10.0 * torch.log10(torch.clamp(power, min=pmin))
    return torch.clamp(db - ref_db, min=-range_db)


def amplitude_to_db(amplitude: torch.Tensor, ref_db: float = 0.0, range_db: float = DB_RANGE) -> torch.Tensor:
    """Amplitude to dB through :func:`power_to_db` of ``amplitude ** 2``."""
    return power_to_db(amplitude.square(), ref_db, range_db)


def db_to_power(db: torch.Tensor) -> torch.Tensor:
    return 10.0 ** (db / 10.0)


def db_to_amplitude(db: torch.Tensor) -> torch.Tensor:
    return db_to_power(db / 2.0)


# Unit conversions ----------------------------------------------------------------------------------
def _tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.float64)


def midi_to_hz(notes, midi_zero_silence: bool = False) -> torch.Tensor:
    """``440 * 2 ** ((m - 69) / 12)``; with ``midi_zero_silence`` MIDI 0 maps to 0 Hz."""
    notes = _tensor(notes)
    hz = 440.0 * 2.0 ** ((notes - 69.0) / 12.0)
    if midi_zero_silence:
        hz = torch.where(notes == 0, torch.zeros_like(hz), hz)
    return hz


def hz_to_midi(frequencies) -> torch.Tensor:
    """``12 log2(f / 440) + 69``; frequencies ``<= 0`` map to MIDI 0 (as magenta)."""
    f = _tensor(frequencies)
    positive = f > 0
    notes = 12.0 * torch.log2(torch.where(positive, f, torch.ones_like(f)) / 440.0) + 69.0
    return torch.where(positive, notes, torch.zeros_like(notes))


def unit_to_midi(unit, midi_min: float = 20.0, midi_max: float = 90.0, clip: bool = False) -> torch.Tensor:
    unit = _tensor(unit)
    unit = unit.clamp(0.0, 1.0) if clip else unit
    return midi_min + (midi_max - midi_min) * unit


def midi_to_unit(midi, midi_min: float = 20.0, midi_max: float = 90.0, clip: bool = False) -> torch.Tensor:
    unit = (_tensor(midi) - midi_min) / (midi_max - midi_min)
    return unit.clamp(0.0, 1.0) if clip else unit


def unit_to_hz(unit, hz_min: float, hz_max: float, clip: bool = False) -> torch.Tensor:
    """Map ``[0, 1]`` to ``[hz_min, hz_max]`` linearly in MIDI (logarithmically in Hz)."""
    midi = unit_to_midi(
        unit, float(hz_to_midi(torch.tensor(hz_min))), float(hz_to_midi(torch.tensor(hz_max))), clip
    )
    return midi_to_hz(midi)


def hz_to_unit(hz, hz_min: float, hz_max: float, clip: bool = False) -> torch.Tensor:
    return midi_to_unit(
        hz_to_midi(hz), float(hz_to_midi(torch.tensor(hz_min))), float(hz_to_midi(torch.tensor(hz_max))), clip
    )


def hz_to_bark(hz):
    """Traunmüller (1990): ``26.81 / (1 + 1960 / f) - 0.53``."""
    return 26.81 / (1.0 + 1960.0 / hz) - 0.53


def bark_to_hz(bark):
    return 1960.0 / (26.81 / (bark + 0.53) - 1.0)


def hz_to_mel(hz):
    """HTK mel: ``2595 log10(1 + f / 700)``."""
    if isinstance(hz, torch.Tensor):
        return 2595.0 * torch.log10(1.0 + hz / 700.0)
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def mel_to_hz(mel):
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def hz_to_erb(hz):
    """Equivalent rectangular bandwidth (Moore and Glasberg 1996): ``0.108 f + 24.7``."""
    return 0.108 * hz + 24.7


# Frequency heads for the Sinusoidal synth ----------------------------------------------------------
def _add_depth_axis(freqs: torch.Tensor, depth: int) -> torch.Tensor:
    """``(B, F, N * D)`` -> ``(B, F, N, D)``."""
    b, f, nd = freqs.shape
    if nd % depth:
        raise ValueError(f"last dimension {nd} is not a multiple of depth={depth}")
    return freqs.reshape(b, f, nd // depth, depth)


def frequencies_softmax(
    freqs: torch.Tensor, depth: int = 1, hz_min: float = 20.0, hz_max: float = 8000.0
) -> torch.Tensor:
    """Softmax over ``depth`` bins, expected value mapped log-uniformly onto ``[hz_min, hz_max]``.

    ``(B, F, N * D)`` (or ``(B, F, N, D)``) network outputs -> ``(B, F, N)`` frequencies in Hz.
    """
    if freqs.dim() == 3:
        freqs = _add_depth_axis(freqs, depth)
    depth = freqs.shape[-1]
    probs = torch.softmax(freqs, dim=-1)
    bins = torch.linspace(0.0, 1.0, depth, dtype=freqs.dtype, device=freqs.device)
    return unit_to_hz((probs * bins).sum(-1), hz_min, hz_max)


def frequencies_sigmoid(
    freqs: torch.Tensor, depth: int = 1, hz_min: float = 0.0, hz_max: float = 8000.0
) -> torch.Tensor:
    """Sum of ``depth`` sigmoids, each scaled onto a factor-of-``(hz_max - hz_min)^(1/depth)`` range.

    ``(B, F, N * D)`` -> ``(B, F, N)`` Hz, magenta's default frequency head of the Sinusoidal synth.
    """
    if freqs.dim() == 3:
        freqs = _add_depth_axis(freqs, depth)
    depth = freqs.shape[-1]
    probs = torch.sigmoid(freqs)
    remainder = hz_max - hz_min
    scale_factor = remainder ** (1.0 / depth)
    out = torch.zeros_like(probs[..., 0])
    for i in range(depth):
        if i == depth - 1:  # the last component spans [hz_min, what is left]
            lo, hi = hz_min, remainder
        else:  # each other component takes a constant fraction of what is left, from 0 Hz
            lo, hi = 0.0, remainder * (1.0 - 1.0 / scale_factor)
            remainder -= hi
        out = out + unit_to_hz(probs[..., i], lo, hi)
    return out


def frequencies_critical_bands(
    freqs: torch.Tensor,
    depth: int = 1,
    depth_scale: float = 10.0,
    bandwidth_scale: float = 1.0,
    hz_min: float = 20.0,
    hz_max: float = 8000.0,
    scale: str = "bark",
) -> torch.Tensor:
    """Centre frequencies on a bark or mel grid, each moved by ``± ERB * tanh(x)`` (summed over depth)."""
    if freqs.dim() == 3:
        freqs = _add_depth_axis(freqs, depth)
    depth, n = freqs.shape[-1], freqs.shape[-2]
    if scale == "bark":
        centres = bark_to_hz(np.linspace(hz_to_bark(hz_min), hz_to_bark(hz_max), n))
    elif scale == "mel":
        centres = mel_to_hz(np.linspace(hz_to_mel(hz_min), hz_to_mel(hz_max), n))
    else:
        raise ValueError(f"scale must be 'bark' or 'mel', got {scale!r}")
    centres_t = torch.as_tensor(centres, dtype=freqs.dtype, device=freqs.device)
    bw = hz_to_erb(centres_t)
    depth_mod = depth_scale ** -torch.arange(depth, dtype=freqs.dtype, device=freqs.device)
    modifier = (torch.tanh(freqs) * depth_mod).sum(-1)
    return soft_limit(centres_t + bandwidth_scale * bw * modifier, hz_min, hz_max)


# Resampling ----------------------------------------------------------------------------------------
def _as_3d(x: torch.Tensor) -> tuple[torch.Tensor, bool]:
    if x.dim() == 2:
        return x.unsqueeze(-1), True
    if x.dim() == 3:
        return x, False
    raise ValueError(f"expected frame-rate controls (B, F) or (B, F, C), got shape {tuple(x.shape)}")


def segment_weights(
    hop: int, method: str = "window", dtype: torch.dtype = torch.float32, device: torch.device | None = None
) -> torch.Tensor:
    """Weight ``w0[tau]`` of the left frame for the sample ``tau`` samples after a frame, ``(hop,)``.

    Every upsampler of this module is two-tap: the sample ``j * hop + tau`` is
    ``w0[tau] * x[j] + (1 - w0[tau]) * x[j + 1]``. ``"window"``: the periodic Hann window of
    ``2 * hop`` samples (``0.5 (1 + cos(pi tau / hop))``, magenta's overlap-add); ``"linear"``:
    ``1 - tau / hop``; ``"nearest"``: 1 (the frame is held until the next one).
    """
    tau = torch.arange(hop, dtype=torch.float64)
    if method == "window":
        w = torch.hann_window(2 * hop, periodic=True, dtype=torch.float64)[hop:]
    elif method == "linear":
        w = 1.0 - tau / hop
    elif method == "nearest":
        w = torch.ones(hop, dtype=torch.float64)
    else:
        raise ValueError(f"unknown resampling method {method!r}; use 'window', 'linear' or 'nearest'")
    return w.to(dtype=dtype, device=device)


def upsample_with_windows(x: torch.Tensor, n_samples: int, add_endpoint: bool = True) -> torch.Tensor:
    """Upsample frames with overlapping Hann windows (magenta's ``upsample_with_windows``).

    ``(B, F, C)`` -> ``(B, n_samples, C)``. Frame ``j`` lands exactly on sample ``j * hop``, neighbours
    are cross-faded with a raised cosine and a constant input stays exactly constant. With
    ``add_endpoint`` the last frame is held for the final hop and ``n_samples`` must be a multiple of
    ``F``; without it ``n_samples`` must be a multiple of ``F - 1``.
    """
    x, squeeze = _as_3d(x)
    if add_endpoint:
        x = torch.cat([x, x[:, -1:]], dim=1)
    n_intervals = x.shape[1] - 1
    if n_intervals < 1:
        raise ValueError("upsample_with_windows needs at least 2 frames without add_endpoint")
    if x.shape[1] >= n_samples:
        raise ValueError(
            f"upsample_with_windows cannot downsample: {x.shape[1]} frames to {n_samples} samples"
        )
    if n_samples % n_intervals:
        which = "frames" if add_endpoint else "frames - 1"
        raise ValueError(
            f"window resampling needs n_samples ({n_samples}) divisible by the number of {which} "
            f"({n_intervals}); use method='linear' for other lengths"
        )
    hop = n_samples // n_intervals
    w0 = segment_weights(hop, "window", x.dtype, x.device)[None, None, :, None]
    left, right = x[:, :-1, None, :], x[:, 1:, None, :]
    y = (w0 * left + (1.0 - w0) * right).reshape(x.shape[0], n_samples, x.shape[-1])
    return y[..., 0] if squeeze else y


def resample(
    x: torch.Tensor, n_samples: int, method: str = "linear", add_endpoint: bool = True
) -> torch.Tensor:
    """Resample frame-rate controls ``(B, F)``/``(B, F, C)`` to ``n_samples`` steps.

    ``"linear"`` and ``"nearest"`` follow TF1's image resize as magenta uses it: sample ``n`` reads the
    frame position ``n * F / n_samples`` (``add_endpoint=True``: the last frame is held) or
    ``n * (F - 1) / (n_samples - 1)`` (``add_endpoint=False``: the last frame is the endpoint).
    They also downsample. ``"window"`` is :func:`upsample_with_windows`.
    """
    if method == "window":
        return upsample_with_windows(x, n_samples, add_endpoint)
    if method not in ("linear", "nearest"):
        raise ValueError(f"unknown resampling method {method!r}; use 'linear', 'nearest' or 'window'")
    x3, squeeze = _as_3d(x)
    n_frames = x3.shape[1]
    if n_samples < 1:
        raise ValueError(f"n_samples must be positive, got {n_samples}")
    if add_endpoint or n_samples == 1:
        scale = n_frames / n_samples
    else:
        scale = (n_frames - 1) / (n_samples - 1)
    pos = torch.arange(n_samples, dtype=torch.float64, device=x.device) * scale
    idx0 = pos.floor().long().clamp(max=n_frames - 1)
    if method == "nearest":
        y = x3[:, idx0]
    else:
        idx1 = (idx0 + 1).clamp(max=n_frames - 1)
        frac = (pos - idx0).to(x3.dtype)[None, :, None]
        y = x3[:, idx0] * (1.0 - frac) + x3[:, idx1] * frac
    return y[..., 0] if squeeze else y
