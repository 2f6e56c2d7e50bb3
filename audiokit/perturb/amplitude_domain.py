"""Amplitude-domain perturbations: gain, noise at an SNR, background overlay, clipping,
dynamic-range compression, synthetic room reverb and lossy MP3 re-encoding."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal

from audiokit.perturb.backgrounds import bundled_backgrounds, folder_backgrounds, load_bed
from audiokit.perturb.base import Choice, Fixed, Perturbation, RandomSeed, Uniform, register
from audiokit.perturb.dsp import (
    colored_noise,
    db_to_amp,
    mp3_roundtrip,
    one_pole_highpass,
    one_pole_lowpass,
    power,
    scale_to_snr,
)

__all__ = ["Gain", "Noise", "Background", "Clipping", "Compression", "Reverb", "Mp3"]


@register
class Gain(Perturbation):
    """Multiply by ``10^(gain_db / 20)``."""

    name = "gain"
    domain = "amplitude"
    SPACE = {"gain_db": Uniform(-12.0, 12.0)}

    def _apply(self, x: np.ndarray, sr: int, gain_db: float) -> np.ndarray:
        return (x * np.float32(db_to_amp(gain_db))).astype(np.float32)


@register
class Noise(Perturbation):
    """Add white, pink or brown Gaussian noise at ``snr_db`` (power over all channels, exact);
    ``seed`` fixes the realisation (each channel gets its own noise)."""

    name = "noise"
    domain = "amplitude"
    SPACE = {"color": Choice(("white", "pink", "brown")), "snr_db": Uniform(5.0, 40.0), "seed": RandomSeed()}

    def _apply(self, x: np.ndarray, sr: int, color: str, snr_db: float, seed: int) -> np.ndarray:
        n = colored_noise(x.shape, color, np.random.default_rng(seed))
        return (x + scale_to_snr(x, n, snr_db)).astype(np.float32)


def _bed_filter(bed: np.ndarray, sr: int, kind: str, cutoff_hz: float | None) -> np.ndarray:
    if kind == "none":
        return bed
    if cutoff_hz is None or not 0 < cutoff_hz < sr / 2:
        raise ValueError(f"background: {kind} needs a cutoff_hz below Nyquist, got {cutoff_hz}")
    if kind == "lowpass":
        return one_pole_lowpass(bed[None], sr, cutoff_hz)[0]
    if kind == "highpass":
        return one_pole_highpass(bed[None], sr, cutoff_hz)[0]
    raise ValueError(f"background: filter must be none, lowpass or highpass, got {kind!r}")


@register
class Background(Perturbation):
    """Overlay a background sound (mono, added to every channel).

    ``bed`` is a bundled name or a file path (``folder=`` makes the files of a folder the
    choices). The level is ``snr_db`` relative to the clip, or, when ``gain_db`` is set, a fixed
    gain on the bed's own level (AJailBench's convention; bundled beds sit at -20 dBFS RMS).
    Without ``segments`` the bed covers the whole clip from ``offset`` (a fraction of the bed),
    looping if ``loop``; ``segments`` lists ``[at_s, length_s]`` placements of the bed's start
    (AJailBench's horns and cries). ``filter`` applies pydub's first-order low/high-pass at
    ``cutoff_hz`` to the bed. Length is kept.
    """

    name = "background"
    domain = "amplitude"
    SPACE = {
        "bed": Choice(("babble", "cafe", "street", "rain", "music")),
        "snr_db": Uniform(3.0, 30.0),
        "offset": Uniform(0.0, 1.0),
        "gain_db": Fixed(None),
        "loop": Fixed(True),
        "segments": Fixed(None),
        "filter": Fixed("none"),
        "cutoff_hz": Fixed(None),
    }

    def __init__(self, p: float = 1.0, folder: str | None = None, **space: Any):
        if folder is not None and "bed" not in space:
            space["bed"] = Choice(tuple(folder_backgrounds(folder)))
        super().__init__(p, **space)
        self.folder = folder
        bed = self.space["bed"]
        if folder is None and isinstance(bed, Choice):
            missing = [
                b for b in bed.options if b not in bundled_backgrounds() and not Path(str(b)).is_file()
            ]
            if missing:
                raise ValueError(
                    f"background: unknown bundled bed(s) {missing}; have {list(bundled_backgrounds())}"
                )

    def config(self) -> dict[str, Any]:
        d = super().config()
        if self.folder is not None:
            d["folder"] = str(self.folder)
            d.pop("bed", None)
        return d

    def _layer(self, n: int, sr: int, bed: np.ndarray, offset: float, loop: bool, segments) -> np.ndarray:
        out = np.zeros(n, dtype=np.float32)
        if segments is None:
            start = int(offset * len(bed)) % max(len(bed), 1)
            src = np.roll(bed, -start)
            if loop:
                reps = int(math.ceil(n / len(src)))
                src = np.tile(src, reps)
            m = min(n, len(src))
            out[:m] = src[:m]
            return out
        for seg in segments:
            at_s, length_s = float(seg[0]), float(seg[1])
            a = max(0, int(round(at_s * sr)))
            m = min(int(round(length_s * sr)), len(bed), n - a)
            if m > 0:
                out[a : a + m] += bed[:m]
        return out

    def _apply(
        self,
        x: np.ndarray,
        sr: int,
        bed: str,
        snr_db: float,
        offset: float,
        gain_db: float | None,
        loop: bool,
        segments,
        filter: str,
        cutoff_hz: float | None,
    ) -> np.ndarray:
        b = load_bed(bed, sr)
        b = _bed_filter(b, sr, filter, cutoff_hz)
        layer = self._layer(x.shape[-1], sr, b, offset, loop, segments)[None]
        if gain_db is not None:
            layer = layer * np.float32(db_to_amp(gain_db))
        else:
            if power(layer) == 0:
                raise ValueError(f"background: bed {bed!r} is silent where it is placed")
            layer = scale_to_snr(x, layer, snr_db)
        return (x + layer).astype(np.float32)


@register
class Clipping(Perturbation):
    """Hard clipping at the ``100 - percentile`` percentile of ``|x|`` (audiomentations'
    ClippingDistortion convention): ``percentile=0`` leaves the signal as is."""

    name = "clipping"
    domain = "amplitude"
    SPACE = {"percentile": Uniform(0.0, 40.0)}

    def _apply(self, x: np.ndarray, sr: int, percentile: float) -> np.ndarray:
        if not 0.0 <= percentile < 100.0:
            raise ValueError(f"clipping: percentile must be in [0, 100), got {percentile}")
        level = float(np.percentile(np.abs(x), 100.0 - percentile))
        return np.clip(x, -level, level).astype(np.float32)


@register
class Compression(Perturbation):
    """Feed-forward dynamic-range compressor with a hard knee: above ``threshold_db`` (dBFS RMS in
    1 ms blocks, channels linked) the level is divided by ``ratio``; the gain follows with
    one-pole ``attack_ms``/``release_ms`` smoothing; ``makeup_db`` is added. Length is kept."""

    name = "compression"
    domain = "amplitude"
    SPACE = {
        "threshold_db": Uniform(-40.0, -10.0),
        "ratio": Uniform(2.0, 10.0, log=True),
        "attack_ms": Uniform(1.0, 20.0),
        "release_ms": Uniform(20.0, 200.0),
        "makeup_db": Fixed(0.0),
    }

    def _apply(
        self,
        x: np.ndarray,
        sr: int,
        threshold_db: float,
        ratio: float,
        attack_ms: float,
        release_ms: float,
        makeup_db: float,
    ) -> np.ndarray:
        if ratio < 1:
            raise ValueError(f"compression: ratio must be >= 1, got {ratio}")
        hop = max(1, sr // 1000)
        t = x.shape[-1]
        nb = -(-t // hop)
        pad = np.pad(x, ((0, 0), (0, nb * hop - t)))
        ms = np.mean(pad.reshape(x.shape[0], nb, hop) ** 2, axis=-1).max(axis=0)
        level = 10.0 * np.log10(np.maximum(ms, 1e-12))
        target = np.where(level > threshold_db, (threshold_db - level) * (1.0 - 1.0 / ratio), 0.0)
        ca = math.exp(-hop / (sr * max(attack_ms, 1e-3) / 1000.0))
        cr = math.exp(-hop / (sr * max(release_ms, 1e-3) / 1000.0))
        g = np.empty(nb)
        prev = 0.0
        for i, tg in enumerate(target.tolist()):
            c = ca if tg < prev else cr  # gain falling: attack; rising: release
            prev = c * prev + (1.0 - c) * tg
            g[i] = prev
        centres = (np.arange(nb) + 0.5) * hop
        gain_db = np.interp(np.arange(t), centres, g) + makeup_db
        return (x * (10.0 ** (gain_db / 20.0))[None]).astype(np.float32)


@register
class Reverb(Perturbation):
    """Synthetic room: a direct path plus an exponentially decaying noise tail with reverberation
    time ``rt60_s``, starting after ``predelay_ms``, at direct-to-reverberant ratio ``drr_db``.
    The output is cut to the input length and scaled back to the input's power."""

    name = "reverb"
    domain = "amplitude"
    SPACE = {
        "rt60_s": Uniform(0.1, 1.0),
        "drr_db": Uniform(0.0, 15.0),
        "predelay_ms": Fixed(5.0),
        "seed": RandomSeed(),
    }

    @staticmethod
    def impulse_response(sr: int, rt60_s: float, drr_db: float, predelay_ms: float, seed: int) -> np.ndarray:
        if rt60_s <= 0:
            raise ValueError(f"reverb: rt60_s must be positive, got {rt60_s}")
        d = int(round(predelay_ms * sr / 1000.0))
        n = int(round(1.5 * rt60_s * sr))
        rng = np.random.default_rng(seed)
        t = np.arange(n) / sr
        tail = rng.standard_normal(n) * np.exp(-6.907755 * t / rt60_s)  # -60 dB at rt60
        tail *= math.sqrt(10.0 ** (-drr_db / 10.0) / np.sum(tail**2))
        h = np.zeros(1 + d + n)
        h[0] = 1.0
        h[1 + d :] = tail
        return h

    def _apply(
        self, x: np.ndarray, sr: int, rt60_s: float, drr_db: float, predelay_ms: float, seed: int
    ) -> np.ndarray:
        h = self.impulse_response(sr, rt60_s, drr_db, predelay_ms, seed)
        y = signal.fftconvolve(x, h[None], axes=-1)[:, : x.shape[-1]]
        py = power(y)
        if py > 0:
            y = y * math.sqrt(power(x) / py)
        return y.astype(np.float32)


@register
class Mp3(Perturbation):
    """Lossy re-encoding: constant-bitrate MP3 at ``bitrate_kbps`` through libsndfile (LAME) and
    back, aligned to the input. AJailBench writes every perturbed clip as MP3."""

    name = "mp3"
    domain = "amplitude"
    SPACE = {"bitrate_kbps": Choice((32, 48, 64, 96, 128))}

    def _apply(self, x: np.ndarray, sr: int, bitrate_kbps: float) -> np.ndarray:
        if bitrate_kbps <= 0:
            raise ValueError(f"mp3: bitrate_kbps must be positive, got {bitrate_kbps}")
        return mp3_roundtrip(x, sr, float(bitrate_kbps))
