"""Synthetic soundscapes and maskers with a known pleasantness function.

A generator of traffic-, construction-, bird-, water- and wind-like sounds (numpy/scipy DSP, no
recordings), binaural scenes mixed from them, and an *oracle* ISO-pleasantness function of a
(soundscape, masker, gain) triple. Training and ranking can then be tested end to end without
ARAUS: the best masker and gain of every synthetic scene are known.

Level convention: ``level_db`` is the RMS level in dB re full scale over all channels; the oracle maps
it to a sound pressure level with ``SPL_OFFSET_DB`` (0 dBFS RMS = 100 dB SPL), so a scene at
-35 dBFS plays at 65 dB.

The oracle (all levels in dB SPL; ``SMR`` = soundscape level - masker level after the gain)::

    base   = sum_k fraction_k * VALENCE[k]                  (what the scene is made of)
    effect = bonus_m * exp(-(SMR - SMR*_m)^2 / (2 * 5^2))   (pleasant maskers: bird, water, wind)
           | bonus_m / (1 + exp(SMR / 3))                   (unpleasant maskers: traffic, construction)
    P      = tanh(base + effect - 0.025 * (L_mix - 65))

Responses add a participant bias and heteroscedastic noise whose standard deviation depends on the
masker class and on ``|SMR|`` (:func:`noise_std`), so a probabilistic predictor has a true sigma to
recover.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import signal

__all__ = [
    "SOUND_CLASSES",
    "MASKER_CLASSES",
    "SCENES",
    "VALENCE",
    "MASKER_EFFECT",
    "SPL_OFFSET_DB",
    "SoundInfo",
    "synth_sound",
    "synth_masker",
    "synth_soundscape",
    "level_db",
    "oracle_pleasantness",
    "noise_std",
    "best_gain",
]

SOUND_CLASSES = ("traffic", "construction", "bird", "water", "wind")
#: Masker classes of ARAUS (``silence`` is an all-zero masker).
MASKER_CLASSES = ("bird", "construction", "silence", "traffic", "water", "wind")
#: Scene recipes: class -> mean energy fraction (perturbed per scene with a Dirichlet draw).
SCENES: dict[str, dict[str, float]] = {
    "street": {"traffic": 0.85, "construction": 0.05, "wind": 0.10},
    "construction_site": {"construction": 0.6, "traffic": 0.4},
    "park": {"wind": 0.35, "bird": 0.30, "traffic": 0.35},
    "waterfront": {"water": 0.5, "traffic": 0.4, "wind": 0.1},
}
#: How pleasant each class makes a scene (contribution per unit energy fraction).
VALENCE = {"traffic": -0.35, "construction": -0.6, "bird": 0.45, "water": 0.2, "wind": 0.0, "silence": 0.0}
#: Masker class -> (bonus, best SMR in dB); ``None``: the louder, the worse.
MASKER_EFFECT: dict[str, tuple[float, float | None]] = {
    "bird": (0.40, 0.0),
    "water": (0.30, 3.0),
    "wind": (0.10, 6.0),
    "traffic": (-0.25, None),
    "construction": (-0.35, None),
    "silence": (0.0, None),
}
SPL_OFFSET_DB = 100.0
_LOUDNESS_SLOPE = 0.025  # pleasantness per dB above 65 dB
_EFFECT_WIDTH_DB = 5.0


@dataclass
class SoundInfo:
    """What the generator knows about a sound: its class or scene, RMS level (dBFS over all
    channels) and the energy fraction of each class in it."""

    kind: str
    level_db: float
    fractions: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "level_db": self.level_db, "fractions": dict(self.fractions)}


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def level_db(x: np.ndarray) -> float:
    """RMS level in dB re full scale over all samples and channels (``-inf`` for silence)."""
    ms = float(np.mean(np.square(x, dtype=np.float64)))
    return 10.0 * math.log10(ms) if ms > 0 else -math.inf


def _unit_rms(x: np.ndarray) -> np.ndarray:
    rms = math.sqrt(float(np.mean(np.square(x, dtype=np.float64))))
    return x / rms if rms > 0 else x


def _filtered_noise(
    rng: np.random.Generator, n: int, sr: int, btype: str, freq, order: int = 2
) -> np.ndarray:
    sos = signal.butter(order, freq, btype=btype, fs=sr, output="sos")
    return signal.sosfilt(sos, rng.standard_normal(n))


def _slow_envelope(rng: np.random.Generator, n: int, sr: int, rate_hz: float, depth: float) -> np.ndarray:
    """Positive random envelope with fluctuations below ``rate_hz``: ``exp(depth * z(t))``."""
    n_ctrl = max(8, int(n / sr * rate_hz * 4) + 4)
    ctrl = rng.standard_normal(n_ctrl)
    ctrl = np.convolve(ctrl, np.hanning(5) / np.hanning(5).sum(), mode="same")
    z = np.interp(np.linspace(0, n_ctrl - 1, n), np.arange(n_ctrl), ctrl)
    z = (z - z.mean()) / (z.std() + 1e-12)
    return np.exp(depth * z)


def _events(rng: np.random.Generator, seconds: float, rate_hz: float) -> np.ndarray:
    """Poisson event times in ``[0, seconds)`` (at least one)."""
    n = max(1, rng.poisson(rate_hz * seconds))
    return np.sort(rng.uniform(0, seconds, n))


def _add_at(y: np.ndarray, x: np.ndarray, start: int) -> None:
    if start >= len(y):
        return
    end = min(len(y), start + len(x))
    y[start:end] += x[: end - start]


def _traffic(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    seconds = n / sr
    brown = np.cumsum(rng.standard_normal(n))
    brown = signal.sosfilt(signal.butter(2, 20, "highpass", fs=sr, output="sos"), brown)
    rumble = _filtered_noise(rng, n, sr, "lowpass", rng.uniform(800, 2000), order=2)
    t = np.arange(n) / sr
    tc = t[::64]  # the pass-by envelope is smooth: compute it on a coarse grid
    env_c = np.full(len(tc), 0.3)
    for t0 in _events(rng, seconds, 0.4):  # vehicle pass-bys
        env_c += rng.uniform(0.5, 1.5) * np.exp(-0.5 * ((tc - t0) / rng.uniform(0.8, 2.5)) ** 2)
    env = np.interp(t, tc, env_c)
    f0 = rng.uniform(50, 120) * (1 + 0.05 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    hum = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 6))
    y = 0.6 * _unit_rms(brown) + _unit_rms(rumble) * env + 0.3 * _unit_rms(hum) * env
    for t0 in _events(rng, seconds, 0.05) if rng.random() < 0.6 else []:  # horns
        dur = rng.uniform(0.3, 0.8)
        th = np.arange(int(dur * sr)) / sr
        fh = rng.uniform(350, 500)
        horn = sum(np.sin(2 * np.pi * k * fh * th) / k for k in (1, 3, 5, 7)) * np.hanning(len(th)) ** 0.3
        _add_at(y, 1.5 * horn, int(t0 * sr))
    return y


def _construction(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    seconds = n / sr
    y = 0.4 * _unit_rms(_filtered_noise(rng, n, sr, "bandpass", (200, 3000)))
    # hammering in bursts
    for t0 in _events(rng, seconds, 0.25):
        rate = rng.uniform(1.0, 4.0)
        for k in range(int(rng.uniform(2, 5) * rate)):
            m = int(0.15 * sr)
            tt = np.arange(m) / sr
            burst = rng.standard_normal(m) * np.exp(-tt / rng.uniform(0.01, 0.04))
            fr = rng.uniform(1000, 4000)
            burst += 3 * np.sin(2 * np.pi * fr * tt) * np.exp(-tt / 0.03)
            _add_at(y, 4.0 * burst, int((t0 + k / rate) * sr))
    # drill / saw segments
    t = np.arange(n) / sr
    for t0 in _events(rng, seconds, 0.15):
        dur = rng.uniform(1.0, 4.0)
        i0, i1 = int(t0 * sr), min(n, int((t0 + dur) * sr))
        if i1 <= i0:
            continue
        f0 = rng.uniform(80, 250)
        saw = signal.sawtooth(2 * np.pi * f0 * t[i0:i1])
        am = 1 + 0.5 * np.sin(2 * np.pi * rng.uniform(10, 30) * t[i0:i1])
        y[i0:i1] += 1.5 * saw * am * np.hanning(i1 - i0) ** 0.1
    return y


def _bird(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    seconds = n / sr
    y = 1e-3 * rng.standard_normal(n)
    for _ in range(rng.integers(1, 4)):  # a few birds with their own pitch range
        lo = rng.uniform(2000, 4500)
        hi = lo + rng.uniform(500, 1500)
        for t0 in _events(rng, seconds, rng.uniform(0.3, 0.8)):  # phrases
            pos = t0
            for _ in range(rng.integers(3, 11)):  # syllables
                dur = rng.uniform(0.04, 0.25)
                tt = np.arange(int(dur * sr)) / sr
                kind = rng.integers(3)
                if kind == 0:  # sweep
                    f = np.linspace(rng.uniform(lo, hi), rng.uniform(lo, hi), len(tt))
                elif kind == 1:  # trill
                    f = rng.uniform(lo, hi) + rng.uniform(200, 800) * np.sin(
                        2 * np.pi * rng.uniform(20, 40) * tt
                    )
                else:  # arch
                    f = lo + (hi - lo) * np.sin(np.pi * tt / dur)
                syl = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.hanning(len(tt))
                syl += 0.2 * np.sin(4 * np.pi * np.cumsum(f) / sr) * np.hanning(len(tt))
                _add_at(y, rng.uniform(0.5, 1.0) * syl, int(pos * sr))
                pos += dur + rng.uniform(0.03, 0.12)
    return y


def _water(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    lo = rng.uniform(200, 600)
    hi = rng.uniform(2500, 6000)
    y = _unit_rms(_filtered_noise(rng, n, sr, "bandpass", (lo, hi))) * _slow_envelope(
        rng, n, sr, rng.uniform(2, 8), 0.4
    )
    seconds = n / sr
    for t0 in _events(rng, seconds, rng.uniform(5, 20)):  # bubbles
        dur = rng.uniform(0.01, 0.05)
        tt = np.arange(int(dur * sr)) / sr
        f = np.linspace(rng.uniform(400, 900), rng.uniform(1000, 2500), len(tt))
        _add_at(y, 2.0 * np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-tt / (dur / 3)), int(t0 * sr))
    return y


def _wind(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    y = _unit_rms(_filtered_noise(rng, n, sr, "lowpass", rng.uniform(200, 800), order=2))
    y = y * _slow_envelope(rng, n, sr, rng.uniform(0.1, 0.5), 0.6)
    if rng.random() < 0.4:  # whistle
        fw = rng.uniform(300, 900)
        band = _filtered_noise(rng, n, sr, "bandpass", (fw * 0.97, fw * 1.03), order=2)
        y = y + 0.3 * _unit_rms(band) * _slow_envelope(rng, n, sr, 0.3, 0.8)
    return y


_GENERATORS = {
    "traffic": _traffic,
    "construction": _construction,
    "bird": _bird,
    "water": _water,
    "wind": _wind,
}


def synth_sound(
    kind: str,
    seconds: float,
    sr: int = 44100,
    seed: int | np.random.Generator | None = None,
    level: float = -30.0,
) -> np.ndarray:
    """One mono sound of a class, ``(1, T)`` float32 at RMS ``level`` dBFS (``"silence"``: zeros)."""
    if kind not in _GENERATORS and kind != "silence":
        raise ValueError(f"unknown sound class {kind!r}; use one of {sorted([*_GENERATORS, 'silence'])}")
    n = int(round(seconds * sr))
    if n <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    if kind == "silence":
        return np.zeros((1, n), dtype=np.float32)
    x = _unit_rms(_GENERATORS[kind](_rng(seed), n, sr)) * 10.0 ** (level / 20.0)
    return x[None].astype(np.float32)


def synth_masker(
    kind: str,
    seconds: float,
    sr: int = 44100,
    seed: int | np.random.Generator | None = None,
    level: float = -30.0,
) -> tuple[np.ndarray, SoundInfo]:
    """A mono masker ``(1, T)`` and its :class:`SoundInfo`."""
    x = synth_sound(kind, seconds, sr, seed, level)
    return x, SoundInfo(kind, level_db(x), {kind: 1.0} if kind != "silence" else {})


def _binauralise(rng: np.random.Generator, x: np.ndarray, sr: int) -> np.ndarray:
    """Place a mono source: interaural level (0-6 dB) and time (0-0.6 ms) differences."""
    ild = rng.uniform(-6, 6)
    itd = int(round(rng.uniform(-0.6e-3, 0.6e-3) * sr))
    left = x * 10 ** (+ild / 40)
    right = x * 10 ** (-ild / 40)
    if itd > 0:
        right = np.concatenate([np.zeros(itd), right[:-itd]])
    elif itd < 0:
        left = np.concatenate([np.zeros(-itd), left[:itd]])
    return np.stack([left, right])


def synth_soundscape(
    seconds: float,
    sr: int = 44100,
    seed: int | np.random.Generator | None = None,
    scene: str | None = None,
    level: float | None = None,
) -> tuple[np.ndarray, SoundInfo]:
    """A binaural scene ``(2, T)`` float32 mixed from several classes, and its :class:`SoundInfo`.

    Args:
        scene: one of :data:`SCENES` (random if ``None``); the class fractions are drawn around it.
        level: RMS level in dBFS (random in [-48, -23], i.e. 52-77 dB SPL, if ``None``).
    """
    rng = _rng(seed)
    scene = scene if scene is not None else str(rng.choice(sorted(SCENES)))
    if scene not in SCENES:
        raise ValueError(f"unknown scene {scene!r}; use one of {sorted(SCENES)}")
    recipe = SCENES[scene]
    classes = list(recipe)
    fractions = rng.dirichlet(np.array([recipe[c] for c in classes]) * 20.0)
    n = int(round(seconds * sr))
    mix = 0.02 * rng.standard_normal((2, n))  # diffuse, decorrelated background
    energies = {}
    for c, f in zip(classes, fractions):
        src = _binauralise(rng, _unit_rms(_GENERATORS[c](rng, n, sr)), sr) * math.sqrt(f)
        energies[c] = float(np.mean(src**2))
        mix += src
    total = sum(energies.values())
    level = float(rng.uniform(-48, -23)) if level is None else level
    mix = _unit_rms(mix) * 10.0 ** (level / 20.0)
    info = SoundInfo(scene, level_db(mix), {c: e / total for c, e in energies.items()})
    return mix.astype(np.float32), info


def _masker_effect(kind: str, smr: np.ndarray) -> np.ndarray:
    bonus, best = MASKER_EFFECT[kind]
    if best is None:
        return bonus / (1.0 + np.exp(smr / 3.0))
    return bonus * np.exp(-((smr - best) ** 2) / (2 * _EFFECT_WIDTH_DB**2))


def _levels(soundscape: SoundInfo, masker: SoundInfo, gain_db, soundscape_gain_db: float):
    gain_db = np.asarray(gain_db, dtype=np.float64)
    ls = soundscape.level_db + soundscape_gain_db + SPL_OFFSET_DB
    if masker.kind == "silence" or not np.isfinite(masker.level_db):
        lm = np.full_like(gain_db, -np.inf)
    else:
        lm = masker.level_db + gain_db + SPL_OFFSET_DB
    return ls, lm


def oracle_pleasantness(
    soundscape: SoundInfo, masker: SoundInfo, gain_db: float | np.ndarray, soundscape_gain_db: float = 0.0
) -> np.ndarray:
    """True (noise-free) ISO pleasantness in [-1, 1] of ``soundscape + 10^(gain_db/20) masker``.

    ``soundscape_gain_db`` is a gain applied to the soundscape first (the ARAUS playback gain).
    Vectorised over ``gain_db``.
    """
    ls, lm = _levels(soundscape, masker, gain_db, soundscape_gain_db)
    base = sum(f * VALENCE[c] for c, f in soundscape.fractions.items())
    with np.errstate(over="ignore"):
        l_mix = 10 * np.log10(10 ** (ls / 10) + 10 ** (lm / 10))
        smr = np.minimum(ls - lm, 200.0)  # silence: +inf -> far beyond any effect
    effect = _masker_effect(masker.kind, smr) if np.isfinite(lm).any() else np.zeros_like(lm)
    return np.tanh(base + effect - _LOUDNESS_SLOPE * (l_mix - 65.0))


def noise_std(masker: SoundInfo, smr_db: float | np.ndarray) -> np.ndarray:
    """Standard deviation of the response noise around the oracle (before rating quantisation):
    larger for bird and construction maskers and far from SMR 0."""
    extra = {"bird": 0.12, "construction": 0.12, "traffic": 0.05, "water": 0.0, "wind": 0.0, "silence": 0.0}
    smr = np.nan_to_num(np.asarray(smr_db, dtype=np.float64), posinf=12.0, neginf=12.0)
    return 0.06 + extra[masker.kind] + 0.01 * np.minimum(np.abs(smr), 12.0)


def best_gain(
    soundscape: SoundInfo, masker: SoundInfo, gains_db: np.ndarray, soundscape_gain_db: float = 0.0
) -> tuple[float, float]:
    """``(gain, pleasantness)`` maximising the oracle over ``gains_db``."""
    p = oracle_pleasantness(soundscape, masker, gains_db, soundscape_gain_db)
    i = int(np.argmax(p))
    return float(np.asarray(gains_db)[i]), float(p[i])
