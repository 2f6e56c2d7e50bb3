"""Frequency-domain perturbations: pitch shift, peaking EQ, low/high/band-pass filters and tone
injection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import signal

from audiokit.perturb.base import Choice, Fixed, IntRange, Perturbation, Uniform, register
from audiokit.perturb.dsp import butter_zero_phase, db_to_amp, peaking_biquad

__all__ = ["PitchShift", "PeakingEQ", "LowPass", "HighPass", "BandPass", "Tone", "TONE_BANDS"]


@register
class PitchShift(Perturbation):
    """Pitch shift by ``semitones`` keeping the duration (librosa: phase-vocoder stretch then
    soxr resampling, as AJailBench)."""

    name = "pitch_shift"
    domain = "frequency"
    SPACE = {"semitones": Uniform(-4.0, 4.0)}

    def _apply(self, x: np.ndarray, sr: int, semitones: float) -> np.ndarray:
        import librosa

        if x.shape[-1] < 2048:
            raise ValueError("pitch_shift: audio shorter than one 2048-sample analysis frame")
        if semitones == 0:
            return x.copy()
        return librosa.effects.pitch_shift(x, sr=sr, n_steps=semitones).astype(np.float32)


def _nyquist_guard(name: str, f: float, sr: int) -> None:
    if not 0 < f < sr / 2:
        raise ValueError(
            f"{name}: frequency {f:g} Hz must lie strictly between 0 and Nyquist ({sr / 2:g} Hz)"
        )


@register
class PeakingEQ(Perturbation):
    """One peaking EQ band (RBJ cookbook biquad): boost or cut ``gain_db`` around ``freq_hz``
    with quality ``q``. Frequencies above 0.45 x the sample rate are clamped there."""

    name = "peaking_eq"
    domain = "frequency"
    SPACE = {
        "freq_hz": Uniform(50.0, 7500.0, log=True),
        "gain_db": Uniform(-12.0, 12.0),
        "q": Uniform(0.5, 5.0, log=True),
    }

    def _apply(self, x: np.ndarray, sr: int, freq_hz: float, gain_db: float, q: float) -> np.ndarray:
        if q <= 0:
            raise ValueError(f"peaking_eq: q must be positive, got {q}")
        f = min(freq_hz, 0.45 * sr)
        b, a = peaking_biquad(f, gain_db, q, sr)
        return signal.lfilter(b, a, x, axis=-1).astype(np.float32)

    def describe(self, sr: int, params: Mapping[str, Any], n_samples: int) -> dict[str, Any]:
        return {"freq_hz_used": min(float(params["freq_hz"]), 0.45 * sr)}


@register
class LowPass(Perturbation):
    """Zero-phase Butterworth low-pass; ``cutoff_hz`` is the -6 dB point, the slope
    ``12 * order`` dB/octave. A cutoff at or above Nyquist is an error."""

    name = "lowpass"
    domain = "frequency"
    SPACE = {"cutoff_hz": Uniform(150.0, 7500.0, log=True), "order": IntRange(1, 2)}

    def _apply(self, x: np.ndarray, sr: int, cutoff_hz: float, order: int) -> np.ndarray:
        return butter_zero_phase(x, sr, "lowpass", cutoff_hz, order)


@register
class HighPass(Perturbation):
    """Zero-phase Butterworth high-pass (-6 dB at ``cutoff_hz``, ``12 * order`` dB/octave)."""

    name = "highpass"
    domain = "frequency"
    SPACE = {"cutoff_hz": Uniform(20.0, 2400.0, log=True), "order": IntRange(1, 2)}

    def _apply(self, x: np.ndarray, sr: int, cutoff_hz: float, order: int) -> np.ndarray:
        return butter_zero_phase(x, sr, "highpass", cutoff_hz, order)


@register
class BandPass(Perturbation):
    """Zero-phase Butterworth band-pass centred (geometrically) on ``center_hz`` with a width of
    ``bandwidth`` octaves; an upper edge beyond 0.95 x Nyquist is clamped there."""

    name = "bandpass"
    domain = "frequency"
    SPACE = {
        "center_hz": Uniform(200.0, 4000.0, log=True),
        "bandwidth": Uniform(1.0, 4.0),
        "order": IntRange(1, 2),
    }

    def _edges(self, sr: int, center_hz: float, bandwidth: float) -> tuple[float, float]:
        lo = center_hz * 2.0 ** (-bandwidth / 2)
        hi = min(center_hz * 2.0 ** (bandwidth / 2), 0.95 * sr / 2)
        if not 0 < lo < hi:
            raise ValueError(f"bandpass: empty band around {center_hz:g} Hz at {sr} Hz")
        return lo, hi

    def _apply(self, x: np.ndarray, sr: int, center_hz: float, bandwidth: float, order: int) -> np.ndarray:
        return butter_zero_phase(x, sr, "bandpass", self._edges(sr, center_hz, bandwidth), order)

    def describe(self, sr: int, params: Mapping[str, Any], n_samples: int) -> dict[str, Any]:
        lo, hi = self._edges(sr, float(params["center_hz"]), float(params["bandwidth"]))
        return {"band_hz": [round(lo, 2), round(hi, 2)]}


#: Tone bands: ``sub`` is AJailBench's 10-20 Hz infrasound; ``near_nyquist`` replaces its
#: 30-40 kHz tone (which at 22.05 kHz aliases into 4-11 kHz) by 0.85-0.95 x Nyquist.
TONE_BANDS = {"sub": (10.0, 20.0), "near_nyquist": (0.85, 0.95)}


@register
class Tone(Perturbation):
    """Add a sine of peak level ``level_dbfs``: ``band="sub"`` puts it at 10-20 Hz,
    ``band="near_nyquist"`` at 0.85-0.95 x Nyquist; ``position`` in [0, 1] picks the frequency
    inside the band. An explicit ``freq_hz`` overrides both and must be below Nyquist (AJailBench's
    aliasing 30-40 kHz tone is rejected, not folded back)."""

    name = "tone"
    domain = "frequency"
    SPACE = {
        "band": Choice(("sub", "near_nyquist")),
        "position": Uniform(0.0, 1.0),
        "level_dbfs": Uniform(-40.0, -20.0),
        "freq_hz": Fixed(None),
    }

    @staticmethod
    def frequency(sr: int, band: str, position: float, freq_hz: float | None) -> float:
        if freq_hz is not None:
            f = float(freq_hz)
        else:
            if band not in TONE_BANDS:
                raise ValueError(f"tone: band must be one of {sorted(TONE_BANDS)}, got {band!r}")
            lo, hi = TONE_BANDS[band]
            if band == "near_nyquist":
                lo, hi = lo * sr / 2, hi * sr / 2
            f = lo + float(np.clip(position, 0.0, 1.0)) * (hi - lo)
        _nyquist_guard("tone", f, sr)
        return f

    def _apply(
        self, x: np.ndarray, sr: int, band: str, position: float, level_dbfs: float, freq_hz: float | None
    ) -> np.ndarray:
        f = self.frequency(sr, band, position, freq_hz)
        t = np.arange(x.shape[-1], dtype=np.float64) / sr
        tone = db_to_amp(level_dbfs) * np.sin(2 * np.pi * f * t)
        return (x + tone[None].astype(np.float32)).astype(np.float32)

    def describe(self, sr: int, params: Mapping[str, Any], n_samples: int) -> dict[str, Any]:
        f = self.frequency(sr, params["band"], float(params["position"]), params.get("freq_hz"))
        return {"freq_hz_used": round(f, 3)}
