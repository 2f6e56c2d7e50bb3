"""Regenerate the bundled background beds in ``audiokit/assets/backgrounds/``.

Every bed is synthesised here (numpy) or assembled from audiokit's own bundled speech clips, so
the repository carries no third-party recordings. They stand in for the environmental sounds of
AJailBench's APT (rain, baby cry, car horn, music; the official files are not published) and
add three everyday backgrounds (babble, cafe, street). Each is mono, 22.05 kHz, 8 s (the horn
2.5 s), normalised to -20 dBFS RMS, Ogg Vorbis. Run from the repo root:

    .venv/bin/python scripts/make_backgrounds.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import signal

from audiokit.assets import speech_files
from audiokit.io import load, save

SR = 22050
OUT = Path(__file__).resolve().parents[1] / "audiokit" / "assets" / "backgrounds"


def _norm(x: np.ndarray, rms_db: float = -20.0) -> np.ndarray:
    x = x - x.mean()
    x = x * (10 ** (rms_db / 20) / np.sqrt(np.mean(x**2)))
    peak = np.abs(x).max()
    if peak > 0.98:  # keep within full scale (the RMS is then a little lower)
        x = x * (0.98 / peak)
    return x.astype(np.float32)


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=float)
    f[0] = 1
    spec /= np.sqrt(f)
    spec[0] = 0
    return np.fft.irfft(spec, n)


def _band(x: np.ndarray, lo: float, hi: float, order: int = 4) -> np.ndarray:
    sos = signal.butter(order, [lo, hi], btype="bandpass", fs=SR, output="sos")
    return signal.sosfilt(sos, x)


def babble(rng: np.random.Generator, seconds: float = 8.0) -> np.ndarray:
    """Six overlapping talkers: the bundled speech clips at random offsets, speeds and levels."""
    import soxr

    n = int(seconds * SR)
    out = np.zeros(n)
    clips = [load(f, sr=SR, mono=True)[0][0].numpy() for f in speech_files()]
    for k in range(6):
        c = clips[k % len(clips)]
        c = soxr.resample(c, SR * rng.uniform(0.85, 1.15), SR)  # another voice pitch/tempo
        c = np.tile(c, int(np.ceil(n / len(c))) + 1)
        start = rng.integers(0, len(c) - n)
        out += rng.uniform(0.5, 1.0) * c[start : start + n]
    return out


def cafe(rng: np.random.Generator, seconds: float = 8.0) -> np.ndarray:
    """Distant babble, room noise and the clinks of cups (short decaying partials)."""
    n = int(seconds * SR)
    x = 0.6 * babble(rng, seconds) / 6 + 0.02 * _band(_pink(n, rng), 80, 4000)
    t = np.arange(int(0.25 * SR)) / SR
    for _ in range(14):
        f0 = rng.uniform(2500, 6000)
        clink = sum(np.sin(2 * np.pi * f0 * r * t) / r for r in (1.0, 2.76, 5.4)) * np.exp(
            -t * rng.uniform(20, 40)
        )
        a = rng.integers(0, n - t.size)
        x[a : a + t.size] += rng.uniform(0.05, 0.15) * clink
    return x


def street(rng: np.random.Generator, seconds: float = 8.0) -> np.ndarray:
    """Low rumble, passing cars (band noise with slow swells) and engine hum."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    rumble = _band(np.cumsum(rng.standard_normal(n)), 20, 300, 2)
    rumble /= np.std(rumble)
    x = rumble
    for _ in range(4):
        c, w = rng.uniform(0, seconds), rng.uniform(1.0, 2.5)
        env = np.exp(-0.5 * ((t - c) / (w / 2)) ** 2)
        x = x + 1.5 * env * _band(rng.standard_normal(n), 200, 3000) / 0.3
    hum = 0.3 * np.sin(2 * np.pi * 55 * t) + 0.15 * np.sin(2 * np.pi * 110 * t)
    return x + hum


def rain(rng: np.random.Generator, seconds: float = 8.0) -> np.ndarray:
    """Broadband hiss and thousands of droplets (tiny decaying resonances)."""
    n = int(seconds * SR)
    x = 0.3 * _band(rng.standard_normal(n), 400, 9000, 2)
    drops = np.zeros(n)
    idx = rng.integers(0, n, size=int(600 * seconds))
    drops[idx] = rng.standard_normal(idx.size) * rng.uniform(0.2, 1.0, idx.size)
    t = np.arange(int(0.01 * SR)) / SR
    kernel = np.sin(2 * np.pi * 3000 * t) * np.exp(-t * 600)
    return x + signal.fftconvolve(drops, kernel)[:n]


def baby_cry(rng: np.random.Generator, seconds: float = 8.0) -> np.ndarray:
    """Wailing bursts: a harmonic voice at 380-560 Hz with a rise-fall contour, vibrato and
    formant-like resonances, separated by breaths."""
    n = int(seconds * SR)
    x = np.zeros(n)
    pos = int(0.1 * SR)
    while pos < n:
        dur = rng.uniform(0.6, 1.3)
        m = min(int(dur * SR), n - pos)
        t = np.arange(m) / SR
        f0 = 380 + 180 * np.sin(np.pi * t / dur) + 12 * np.sin(2 * np.pi * 6 * t)
        ph = 2 * np.pi * np.cumsum(f0) / SR
        v = sum(np.sin(k * ph) / k**1.2 for k in range(1, 12))
        env = np.sin(np.pi * np.clip(t / dur, 0, 1)) ** 0.5
        x[pos : pos + m] += env * v
        pos += m + int(rng.uniform(0.25, 0.6) * SR)
    sos = signal.butter(2, [900, 3500], btype="bandpass", fs=SR, output="sos")
    return x + 0.8 * signal.sosfilt(sos, x)


def car_horn(rng: np.random.Generator, seconds: float = 2.5) -> np.ndarray:
    """Two honks of a dual-tone horn (about 420 and 510 Hz, square-ish, brassy)."""
    n = int(seconds * SR)
    x = np.zeros(n)
    for start, dur in ((0.1, 0.45), (0.75, 1.1)):
        a, m = int(start * SR), int(dur * SR)
        t = np.arange(m) / SR
        tone = sum(np.sign(np.sin(2 * np.pi * f * t)) for f in (420.0, 510.0))
        env = np.minimum(1, t / 0.01) * np.minimum(1, (dur - t) / 0.03)
        x[a : a + m] += env * tone
    sos = signal.butter(2, 3000, fs=SR, output="sos")
    return signal.sosfilt(sos, x)


def music(rng: np.random.Generator, seconds: float = 8.0) -> np.ndarray:
    """A four-chord progression (I-V-vi-IV in C) with bass, pads and a plucked melody."""
    n = int(seconds * SR)
    x = np.zeros(n)
    midi = lambda m: 440.0 * 2 ** ((m - 69) / 12)  # noqa: E731
    chords = [(60, 64, 67), (55, 59, 62), (57, 60, 64), (53, 57, 60)]
    beat = int(0.5 * SR)
    for i in range(n // beat):
        chord = chords[(i // 4) % 4]
        t = np.arange(beat) / SR
        seg = 0.3 * sum(np.sin(2 * np.pi * midi(m) * t) for m in chord)
        seg += 0.5 * np.sin(2 * np.pi * midi(chord[0] - 12) * t) * np.exp(-t * 3)
        note = chord[int(rng.integers(3))] + 12
        seg += 0.4 * np.sign(np.sin(2 * np.pi * midi(note) * t)) * np.exp(-t * 8)
        x[i * beat : (i + 1) * beat] += seg * np.minimum(1, t / 0.005)
    return x


BEDS = {
    "babble": babble,
    "cafe": cafe,
    "street": street,
    "rain": rain,
    "baby_cry": baby_cry,
    "car_horn": car_horn,
    "music": music,
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for i, (name, fn) in enumerate(BEDS.items()):
        x = _norm(fn(np.random.default_rng(1000 + i)))
        path = save(OUT / f"{name}.ogg", x, SR, subtype="VORBIS")
        print(f"{path}: {x.size / SR:.1f} s, rms {20 * np.log10(np.sqrt(np.mean(x**2))):.1f} dBFS")


if __name__ == "__main__":
    main()
