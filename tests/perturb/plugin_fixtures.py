"""Plug-ins used by the tests through ``package.module:factory`` specs (benign stand-ins for a
model under test)."""

from __future__ import annotations

import numpy as np


class LowBandTarget:
    """A stub "model" that refuses unless little energy is left above ``cutoff_hz``: the score is
    the fraction of the signal power below the cutoff (a deterministic, benign victim)."""

    def __init__(self, cutoff_hz: float = 1500.0, threshold: float = 0.995):
        self.cutoff_hz = cutoff_hz
        self.threshold = threshold

    def __call__(self, wav, sr: int) -> float:
        x = np.asarray(wav, dtype=np.float64).reshape(-1, np.asarray(wav).shape[-1]).mean(axis=0)
        p = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(x.size, 1 / sr)
        return float(p[f < self.cutoff_hz].sum() / max(p.sum(), 1e-20))


def make_low_band_target(cutoff_hz: float = 1500.0, threshold: float = 0.995) -> LowBandTarget:
    return LowBandTarget(cutoff_hz, threshold)


def make_interrupting_target():
    """Raises KeyboardInterrupt on constant (DC) audio, the test's "stop" file (simulates Ctrl-C)."""

    def fn(wav, sr):
        x = np.asarray(wav).reshape(-1)
        if np.ptp(x) < 1e-6 and abs(x[0]) > 0:
            raise KeyboardInterrupt
        return 0.0

    return fn


def rms_ratio_constraint(threshold: float = 0.5):
    def fn(orig, pert, sr):
        o, p = (float(np.sqrt(np.mean(np.asarray(a, dtype=np.float64) ** 2))) for a in (orig, pert))
        return p / o

    fn.threshold = threshold
    return fn


def make_slow_target(seconds: float = 0.3):
    """Sleeps ``seconds`` per call: keeps a worker busy long enough for a test to kill it."""
    import time

    def fn(wav, sr):
        time.sleep(seconds)
        return 0.0

    return fn
