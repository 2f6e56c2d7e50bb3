"""Fitting a performance to a model's instrument before timbre transfer (magenta's "auto-adjust").

magenta's timbre-transfer notebook moves the input's mean pitch by whole octaves to the training
data's register and maps the loudness of the input's note-on frames through a quantile transform
onto the training data's loudness distribution. Here:

* :func:`octave_shift`: the multiple of 12 semitones that brings the mean voiced pitch (MIDI)
  nearest to the training data's mean (magenta rounds with a floor/ceil rule that prefers shifting
  up; the nearest octave is used here).
* :func:`match_loudness`: the monotone piecewise-linear map that sends the input's voiced-loudness
  quantiles onto the training data's (slope 1 beyond the ends), unvoiced frames lowered by
  ``quiet_db``. If the input's voiced loudness is uniform on ``[a, b]`` and the training quantiles
  are uniform on ``[c, d]``, the map is the affine ``c + (x - a) (d - c) / (b - a)``.
* :class:`DataStatistics` holds what both need (stored in the model's ``config.json``) and
  :func:`data_statistics` computes it from training data: ``(F,)`` arrays of f0, voicing, loudness.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["DataStatistics", "data_statistics", "octave_shift", "match_loudness", "QUANTILE_LEVELS"]

#: quantile levels stored for loudness (0, 5, ..., 100 %)
QUANTILE_LEVELS = np.linspace(0.0, 1.0, 21)


def _midi(f0_hz: np.ndarray) -> np.ndarray:
    return 12.0 * np.log2(np.maximum(np.asarray(f0_hz, dtype=np.float64), 1e-6) / 440.0) + 69.0


@dataclass
class DataStatistics:
    """Pitch and loudness statistics of a model's training data over its voiced (note-on) frames.

    ``loudness_quantiles_db`` are the loudness values (dB, the model's definition) at
    :data:`QUANTILE_LEVELS`; ``f0_low_midi``/``f0_high_midi`` the 5th and 95th percentiles of pitch.
    """

    f0_mean_midi: float = 69.0
    f0_low_midi: float = 57.0
    f0_high_midi: float = 81.0
    loudness_mean_db: float = -30.0
    loudness_quantiles_db: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        q = self.loudness_quantiles_db
        if q and (len(q) != QUANTILE_LEVELS.size or any(b < a for a, b in zip(q, q[1:]))):
            raise ValueError(
                f"loudness_quantiles_db must be {QUANTILE_LEVELS.size} non-decreasing values, got {q}"
            )


def data_statistics(
    f0_hz: Iterable[np.ndarray],
    voiced: Iterable[np.ndarray],
    loudness_db: Iterable[np.ndarray],
    loudness_floor_db: float | None = None,
) -> DataStatistics:
    """Statistics of ``(F,)`` frame arrays (one triple per recording) over the voiced frames (those
    louder than ``loudness_floor_db`` if given: a note's first frames can be silent)."""
    f, ld = [], []
    for f0_i, v_i, ld_i in zip(f0_hz, voiced, loudness_db):
        n = min(len(f0_i), len(v_i), len(ld_i))
        sel = (np.asarray(v_i[:n]) > 0.5) & (np.asarray(f0_i[:n]) > 0)
        if loudness_floor_db is not None:
            sel &= np.asarray(ld_i[:n]) > loudness_floor_db
        f.append(_midi(np.asarray(f0_i[:n])[sel]))
        ld.append(np.asarray(ld_i[:n], dtype=np.float64)[sel])
    midi, loud = np.concatenate(f), np.concatenate(ld)
    if midi.size == 0:
        raise ValueError("no voiced frames: cannot compute data statistics")
    return DataStatistics(
        f0_mean_midi=float(midi.mean()),
        f0_low_midi=float(np.percentile(midi, 5)),
        f0_high_midi=float(np.percentile(midi, 95)),
        loudness_mean_db=float(loud.mean()),
        loudness_quantiles_db=[float(v) for v in np.quantile(loud, QUANTILE_LEVELS)],
    )


def octave_shift(f0_hz: np.ndarray, voiced: np.ndarray, target_mean_midi: float) -> float:
    """Semitones (a multiple of 12) moving the mean voiced pitch of ``f0_hz`` ``(F,)`` nearest to
    ``target_mean_midi``; 0 when no frame is voiced."""
    sel = (np.asarray(voiced) > 0.5) & (np.asarray(f0_hz) > 0)
    if not sel.any() or not math.isfinite(target_mean_midi):
        return 0.0
    diff = target_mean_midi - float(_midi(np.asarray(f0_hz)[sel]).mean())
    return 12.0 * math.floor(diff / 12.0 + 0.5)


def match_loudness(
    loudness_db: np.ndarray,
    voiced: np.ndarray,
    target_quantiles_db: list[float] | np.ndarray,
    quiet_db: float = 20.0,
) -> np.ndarray:
    """``(F,)`` loudness mapped so its voiced frames follow the target distribution (quantiles at
    :data:`QUANTILE_LEVELS`); unvoiced frames go through the same map and are lowered by
    ``quiet_db``. Without voiced frames the loudness is only lowered by ``quiet_db``."""
    ld = np.asarray(loudness_db, dtype=np.float64)
    v = np.asarray(voiced) > 0.5
    target = np.asarray(target_quantiles_db, dtype=np.float64)
    if target.size != QUANTILE_LEVELS.size:
        raise ValueError(f"target_quantiles_db: expected {QUANTILE_LEVELS.size} values, got {target.size}")
    if not v.any():
        return ld - quiet_db
    src = np.quantile(ld[v], QUANTILE_LEVELS)
    keep = np.concatenate([[True], np.diff(src) > 1e-9])  # np.interp needs increasing knots
    src, dst = src[keep], target[keep]
    if src.size == 1:  # constant voiced loudness: move it onto the target median
        out = ld + (float(np.median(target)) - src[0])
    else:
        out = np.interp(ld, src, dst)
        out = np.where(ld < src[0], dst[0] + (ld - src[0]), out)
        out = np.where(ld > src[-1], dst[-1] + (ld - src[-1]), out)
    return out - quiet_db * (~v)
