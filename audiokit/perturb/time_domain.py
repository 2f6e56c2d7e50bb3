"""Time-domain perturbations: time stretch, speed change, time shift, dropout, fades and segment
reversal."""

from __future__ import annotations

import numpy as np

from audiokit.perturb.base import Fixed, Perturbation, Uniform, register
from audiokit.perturb.dsp import fit_length

__all__ = ["TimeStretch", "Speed", "TimeShift", "Dropout", "Fade", "ReverseSegment"]


def _ms(sr: int, ms: float) -> int:
    return int(round(ms * sr / 1000.0))


@register
class TimeStretch(Perturbation):
    """Tempo change without a pitch change (librosa's phase vocoder, as AJailBench).

    ``rate > 1`` speeds up (shorter output). With ``keep_length`` the result is cut or zero-padded
    back to the input length; by default the length follows the tempo.
    """

    name = "time_stretch"
    domain = "time"
    changes_length = True
    SPACE = {"rate": Uniform(0.8, 1.25), "keep_length": Fixed(False)}

    def _apply(self, x: np.ndarray, sr: int, rate: float, keep_length: bool) -> np.ndarray:
        import librosa

        if rate <= 0:
            raise ValueError(f"time_stretch: rate must be positive, got {rate}")
        if x.shape[-1] < 2048:
            raise ValueError("time_stretch: audio shorter than one 2048-sample analysis frame")
        y = librosa.effects.time_stretch(x, rate=rate)
        return fit_length(y, x.shape[-1]) if keep_length else y


@register
class Speed(Perturbation):
    """Playback speed change (tempo and pitch together), by band-limited resampling (soxr):
    ``factor > 1`` is faster and higher. The output has ``round(T / factor)`` samples."""

    name = "speed"
    domain = "time"
    changes_length = True
    SPACE = {"factor": Uniform(0.9, 1.1)}

    def _apply(self, x: np.ndarray, sr: int, factor: float) -> np.ndarray:
        import soxr

        if factor <= 0:
            raise ValueError(f"speed: factor must be positive, got {factor}")
        y = soxr.resample(np.ascontiguousarray(x.T), sr * factor, sr, quality="VHQ")
        return np.ascontiguousarray(y.reshape(y.shape[0], -1).T)


@register
class TimeShift(Perturbation):
    """Shift by a fraction of the length (positive: later). With ``rollover`` the samples shifted
    out re-enter at the other end; otherwise the gap is silent. Length is kept."""

    name = "time_shift"
    domain = "time"
    SPACE = {"shift": Uniform(-0.5, 0.5), "rollover": Fixed(True)}

    def _apply(self, x: np.ndarray, sr: int, shift: float, rollover: bool) -> np.ndarray:
        n = int(round(shift * x.shape[-1]))
        if rollover:
            return np.roll(x, n, axis=-1)
        y = np.zeros_like(x)
        if n >= 0:
            y[:, n:] = x[:, : x.shape[-1] - n]
        else:
            y[:, : x.shape[-1] + n] = x[:, -n:]
        return y


@register
class Dropout(Perturbation):
    """A gap of ``duration_ms`` starting at fraction ``start`` of the clip: ``mode="silence"``
    zeroes it (length kept), ``mode="remove"`` cuts it out (AJailBench's dropout)."""

    name = "dropout"
    domain = "time"
    changes_length = True
    SPACE = {"start": Uniform(0.0, 0.95), "duration_ms": Uniform(20.0, 300.0), "mode": Fixed("silence")}

    def _apply(self, x: np.ndarray, sr: int, start: float, duration_ms: float, mode: str) -> np.ndarray:
        if not 0.0 <= start <= 1.0 or duration_ms < 0:
            raise ValueError(
                f"dropout: need 0 <= start <= 1 and duration_ms >= 0, got {start}, {duration_ms}"
            )
        t = x.shape[-1]
        a = min(int(start * t), t)
        b = min(a + _ms(sr, duration_ms), t)
        if mode == "silence":
            y = x.copy()
            y[:, a:b] = 0.0
            return y
        if mode == "remove":
            if b - a >= t:
                raise ValueError("dropout: removing the whole clip")
            return np.concatenate([x[:, :a], x[:, b:]], axis=-1)
        raise ValueError(f"dropout: mode must be 'silence' or 'remove', got {mode!r}")


@register
class Fade(Perturbation):
    """Fade-in over ``in_ms`` and fade-out over ``out_ms`` (linear in amplitude as pydub's, or
    ``shape="cosine"``); each fade is limited to half the clip. Length is kept."""

    name = "fade"
    domain = "time"
    SPACE = {"in_ms": Uniform(0.0, 2000.0), "out_ms": Uniform(0.0, 2000.0), "shape": Fixed("linear")}

    def _apply(self, x: np.ndarray, sr: int, in_ms: float, out_ms: float, shape: str) -> np.ndarray:
        if shape not in ("linear", "cosine"):
            raise ValueError(f"fade: shape must be 'linear' or 'cosine', got {shape!r}")
        t = x.shape[-1]
        y = x.copy()
        for ms, rising in ((in_ms, True), (out_ms, False)):
            n = min(_ms(sr, max(ms, 0.0)), t // 2)
            if n <= 0:
                continue
            ramp = np.arange(n, dtype=np.float64) / n  # 0 .. (n-1)/n
            if shape == "cosine":
                ramp = 0.5 - 0.5 * np.cos(np.pi * ramp)
            if rising:
                y[:, :n] *= ramp.astype(np.float32)
            else:
                y[:, t - n :] *= ramp[::-1].astype(np.float32)
        return y


@register
class ReverseSegment(Perturbation):
    """Time-reverse ``duration_ms`` of audio starting at fraction ``start`` (length kept)."""

    name = "reverse_segment"
    domain = "time"
    SPACE = {"start": Uniform(0.0, 0.95), "duration_ms": Uniform(20.0, 300.0)}

    def _apply(self, x: np.ndarray, sr: int, start: float, duration_ms: float) -> np.ndarray:
        t = x.shape[-1]
        a = min(int(start * t), t)
        b = min(a + _ms(sr, duration_ms), t)
        y = x.copy()
        y[:, a:b] = x[:, a:b][:, ::-1]
        return y
