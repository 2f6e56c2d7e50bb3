"""AJailBench's APT perturbations, as the official ``NoiseAdder.add_noise(path, way, parameter)``
(``infer/new_add_noise.py``) maps its two numbers in [0, 1] onto ten perturbations.

``way`` picks the perturbation by decile and ``parameter`` (``p``) its variant and strength, both
rounded to 3 decimals. Per clip, each branch may fire a limited number of times (the official
counters; a capped branch silently does nothing, or falls through to its other variant).

| way | perturbation | audiokit record | cap |
|---|---|---|---|
| (0, .1) | pitch shift | ``pitch_shift(semitones=+p)`` if p < .5 else ``-p`` | up 3, down 4 |
| [.1, .2) | time stretch | ``rate=1.1`` if 0 < p < .5 else ``rate=max(.9, 1-.1p)`` | faster 3, slower 6 |
| [.2, .3) | tone | 0.1-amplitude (-20 dBFS) sine; p > .5: high tone, else ``20 (1-p)`` Hz | 3 |
| [.3, .4) | dropout | remove ``[p L, p L + 100 p ms]`` | 3 |
| [.4, .5) | rain | bed -7 - 8 (1 - .9p) dB; p > .7: low-pass 2 kHz, else high-pass 1 kHz | 1 |
| [.5, .6) | fade | fade in and out over ``2000 p`` ms (clips longer than 4 s only) | 1 |
| [.6, .7) | baby cry | bed -9 - 10 (1 - .8p) dB; p > .6: at ``.5 p L`` for 70 % of the bed | 1 |
| [.7, .8) | car horn | bed -7 - 12 (1 - .7p) dB; p > .5: ``2 + int(2p)`` horns, else one at ``p L`` | 1 |
| [.8, .9) | music | bed -10 - 15 (1 - .6p) dB; p > .7 LPF 1.2 kHz, .4 < p <= .7 none, else HPF 800 Hz | 1 |
| [.9, 1] | volume | ``gain(+way dB)`` if 0 < p < .5 else ``-0.8 way dB`` | up 6, down 3 |

Deliberate differences from the official code (documented in ``docs/perturb.md``): audio keeps
its own sample rate and channels (the official code reloads at 22.05 kHz mono and writes MP3 every
time); the high tone is placed at 0.85-0.95 x Nyquist instead of 20000 (1 + p) Hz, which is above
Nyquist and aliased to 4-11 kHz; sums are not wrapped around int16; the four noise beds are
audiokit's synthetic ones (the official files are not published) at -20 dBFS RMS.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audiokit.perturb.backgrounds import load_bed
from audiokit.perturb.base import Perturbation, PerturbationRecord, Uniform, get, register

__all__ = ["AJailBench", "AJailBenchCaps", "CAPS", "resolve"]

#: Per-clip caps of the official counters.
CAPS: dict[str, int] = {
    "pitch_up": 3,
    "pitch_down": 4,
    "stretch_faster": 3,
    "stretch_slower": 6,
    "tone": 3,
    "dropout": 3,
    "rain": 1,
    "fade": 1,
    "baby_cry": 1,
    "car_horn": 1,
    "music": 1,
    "volume_up": 6,
    "volume_down": 3,
}


@dataclass
class AJailBenchCaps:
    """Counters of one clip (the official ``NoiseAdder`` instance state)."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CAPS, 0))

    def can(self, key: str) -> bool:
        return self.counts[key] < CAPS[key]

    def use(self, key: str) -> None:
        self.counts[key] += 1

    def copy(self) -> AJailBenchCaps:
        return copy.deepcopy(self)


def _rec(name: str, **params: Any) -> PerturbationRecord:
    cls = get(name)
    return PerturbationRecord(name, cls.domain, cls().validate(params))


def _bed_seconds(bed: str, sr: int) -> float:
    return len(load_bed(bed, sr)) / sr


def resolve(
    way: float, parameter: float, sr: int, n_samples: int, caps: AJailBenchCaps | None = None
) -> PerturbationRecord | None:
    """The concrete perturbation the official code applies for ``(way, parameter)`` to a clip of
    ``n_samples`` at ``sr``, or ``None`` when it applies nothing. ``caps`` (updated in place)
    enforces the per-clip counters; ``None`` means no caps (a fresh clip)."""
    caps = caps if caps is not None else AJailBenchCaps()
    w, p = round(float(way), 3), round(float(parameter), 3)
    branch = _branch(w)
    if branch is None:
        return None  # way == 0 falls through every branch, as in the official code
    return branch(w, p, _Clip(sr, n_samples), caps)


@dataclass(frozen=True)
class _Clip:
    """The clip a draw is resolved for."""

    sr: int
    n_samples: int

    @property
    def seconds(self) -> float:
        return self.n_samples / self.sr

    @property
    def ms(self) -> float:
        return self.seconds * 1000.0


_Branch = Callable[[float, float, _Clip, AJailBenchCaps], "PerturbationRecord | None"]


def _use(caps: AJailBenchCaps, key: str) -> bool:
    """Count one use of the capped branch ``key``; False (nothing counted) when it is capped."""
    if not caps.can(key):
        return False
    caps.use(key)
    return True


def _pitch(w: float, p: float, clip: _Clip, caps: AJailBenchCaps) -> PerturbationRecord | None:
    if 0 <= p < 0.5 and _use(caps, "pitch_up"):
        return _rec("pitch_shift", semitones=p)
    if _use(caps, "pitch_down"):
        return _rec("pitch_shift", semitones=-p)
    return None


def _stretch(w: float, p: float, clip: _Clip, caps: AJailBenchCaps) -> PerturbationRecord | None:
    if 0 < p < 0.5 and _use(caps, "stretch_faster"):
        return _rec("time_stretch", rate=max(1.1, 1 + p * 0.1))
    if _use(caps, "stretch_slower"):
        return _rec("time_stretch", rate=max(0.9, 1 - p * 0.1))
    return None


def _tone(w: float, p: float, clip: _Clip, caps: AJailBenchCaps) -> PerturbationRecord | None:
    if not _use(caps, "tone"):
        return None
    if p > 0.5:
        # official: 20000 (1 + p) Hz, above Nyquist at 22.05 kHz; keep the tone, move it below
        f_official = 20000.0 * (1 + p)
        if f_official < clip.sr / 2:
            return _rec("tone", band="near_nyquist", position=0.0, level_dbfs=-20.0, freq_hz=f_official)
        return _rec("tone", band="near_nyquist", position=(p - 0.5) / 0.5, level_dbfs=-20.0)
    return _rec("tone", band="sub", position=0.0, level_dbfs=-20.0, freq_hz=20.0 * (1 - p))


def _dropout(w: float, p: float, clip: _Clip, caps: AJailBenchCaps) -> PerturbationRecord | None:
    if not _use(caps, "dropout"):
        return None
    return _rec("dropout", start=p, duration_ms=p * 100.0, mode="remove")


def _rain(w: float, p: float, clip: _Clip, caps: AJailBenchCaps) -> PerturbationRecord | None:
    if not _use(caps, "rain"):
        return None
    heavy = p > 0.7
    return _background(
        "rain",
        -7.0 - 8.0 * (1 - p * 0.9),
        filter="lowpass" if heavy else "highpass",
        cutoff_hz=2000.0 if heavy else 1000.0,
    )


def _fade(w: float, p: float, clip: _Clip, caps: AJailBenchCaps) -> PerturbationRecord | None:
    if clip.ms <= 4000 or not _use(caps, "fade"):
        return None
    d = float(int(2000 * p))
    return _rec("fade", in_ms=d, out_ms=d, shape="linear")


def _baby_cry(w: float, p: float, clip: _Clip, caps: AJailBenchCaps) -> PerturbationRecord | None:
    if not _use(caps, "baby_cry"):
        return None
    cry_s = min(_bed_seconds("baby_cry", clip.sr), clip.seconds)
    if p > 0.6:
        at = int(clip.ms * p * 0.5) / 1000.0
        seg = [[at, min(int(cry_s * 1000 * 0.7) / 1000.0, clip.seconds - at)]]
    else:
        seg = [[0.0, cry_s]]
    return _background("baby_cry", -9.0 - 10.0 * (1 - p * 0.8), segments=seg)


def _car_horn(w: float, p: float, clip: _Clip, caps: AJailBenchCaps) -> PerturbationRecord | None:
    if not _use(caps, "car_horn"):
        return None
    car_s = min(_bed_seconds("car_horn", clip.sr), clip.seconds)
    if p > 0.5:
        n = 2 + int(p * 2)
        seg = []
        for i in range(n):
            at = int(clip.ms * (i + p) / (n + 1)) / 1000.0
            seg.append([at, min(int(car_s * 1000 * 0.3) / 1000.0, clip.seconds - at)])
    else:
        seg = [[int(clip.ms * p) / 1000.0, car_s]]
    return _background("car_horn", -7.0 - 12.0 * (1 - p * 0.7), segments=seg)


def _music(w: float, p: float, clip: _Clip, caps: AJailBenchCaps) -> PerturbationRecord | None:
    if not _use(caps, "music"):
        return None
    if p > 0.7:
        filt, fc = "lowpass", 1200.0
    elif p > 0.4:
        filt, fc = "none", None
    else:
        filt, fc = "highpass", 800.0
    return _background("music", -10.0 - 15.0 * (1 - p * 0.6), filter=filt, cutoff_hz=fc)


def _volume(w: float, p: float, clip: _Clip, caps: AJailBenchCaps) -> PerturbationRecord | None:
    if 0 < p < 0.5 and _use(caps, "volume_up"):
        return _rec("gain", gain_db=1.0 * w)
    if _use(caps, "volume_down"):
        return _rec("gain", gain_db=-0.8 * w)
    return None


def _background(bed: str, gain_db: float, **options: Any) -> PerturbationRecord:
    """A noise bed mixed in at a fixed gain from the start, not looped (the official mixing)."""
    return _rec("background", bed=bed, snr_db=0.0, offset=0.0, gain_db=gain_db, loop=False, **options)


#: ``(low, high, branch)``: ``low <= way < high`` picks the branch (the table of the module docstring);
#: the first interval is open at 0 and the last closed at 1, as in the official code
_BRANCHES: tuple[tuple[float, float, _Branch], ...] = (
    (0.0, 0.1, _pitch),
    (0.1, 0.2, _stretch),
    (0.2, 0.3, _tone),
    (0.3, 0.4, _dropout),
    (0.4, 0.5, _rain),
    (0.5, 0.6, _fade),
    (0.6, 0.7, _baby_cry),
    (0.7, 0.8, _car_horn),
    (0.8, 0.9, _music),
    (0.9, 1.0, _volume),
)


def _branch(w: float) -> _Branch | None:
    """The branch of a (rounded) ``way``; ``None`` for 0 and outside [0, 1]."""
    for low, high, branch in _BRANCHES:
        if (low < w if low == 0.0 else low <= w) and (w < high or (high == 1.0 and w == high)):
            return branch
    return None


@register
class AJailBench(Perturbation):
    """The official APT draw: ``way`` and ``parameter`` in [0, 1] select and parameterise one of
    the ten perturbations (see the module docstring). Applied alone it never hits a cap; the
    ``ajailbench`` search sampler applies draws cumulatively with the per-clip caps."""

    name = "ajailbench"
    domain = "mixed"
    changes_length = True
    SPACE = {"way": Uniform(0.0, 1.0), "parameter": Uniform(0.0, 1.0)}

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return {k: round(v, 3) for k, v in super().sample(rng).items()}

    def _apply(self, x: np.ndarray, sr: int, way: float, parameter: float) -> np.ndarray:
        rec = resolve(way, parameter, sr, x.shape[-1])
        if rec is None:
            return x.copy()
        return get(rec.name)().apply(x, sr, **rec.params)

    def describe(self, sr: int, params: dict[str, Any], n_samples: int) -> dict[str, Any]:
        rec = resolve(params["way"], params["parameter"], sr, n_samples)
        return {"resolved": rec.to_dict() if rec is not None else None}
