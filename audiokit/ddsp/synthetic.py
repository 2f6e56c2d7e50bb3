"""A synthetic solo instrument with a known harmonic spectrum, for training and testing DDSP models.

Every phrase is a sequence of notes (MIDI 48-84 by default, portamento between notes, vibrato,
attack/decay/release loudness envelopes, occasional rests) rendered by :func:`audiokit.ddsp.synthesize`
with the instrument's spectrum plus a quiet breath noise. Because the f0, the loudness and the
spectrum are known exactly, a trained model's resynthesis can be scored against ground truth.

The spectrum is ``c_k(u) ~ k^-(1.8 - 0.8 u) * (1 + 0.6 cos(2 pi k / 5))`` for ``k = 1..40``, ``u`` the
loudness mapped to ``[0, 1]`` over ``[-40, 10]`` dB (phrases peak around -6 dBFS, the level of
normalised recordings; at much lower levels the magnitude term of the spectral loss vanishes next to
the log term and a model tends to render everything as noise): louder notes are brighter, and the cosine
puts a formant-like ripple on the harmonics. Breath noise: 65-band magnitudes peaking around 2 kHz,
30 dB below the harmonic amplitude.

``python scripts/make_ddsp_synthetic.py OUT_DIR`` writes a folder of wavs with ground-truth features.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from audiokit.ddsp.api import loudness_to_amplitude
from audiokit.ddsp.filters import frequency_filter
from audiokit.ddsp.oscillators import harmonic_synthesis, normalize_harmonics
from audiokit.ddsp.synths import uniform_noise
from audiokit.io import atomic_write, save

__all__ = ["SyntheticInstrument", "random_phrase", "write_dataset"]


@dataclass
class SyntheticInstrument:
    """The instrument's fixed sound and its performance ranges."""

    sample_rate: int = 16000
    frame_rate: int = 250
    n_harmonics: int = 40
    midi_range: tuple[float, float] = (48.0, 84.0)
    loudness_range: tuple[float, float] = (-40.0, 10.0)
    vibrato_hz: float = 5.5
    vibrato_cents: float = 25.0
    noise_db: float = -30.0

    @property
    def hop_length(self) -> int:
        return self.sample_rate // self.frame_rate

    def harmonic_distribution(self, loudness_db: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` loudness -> ``(B, F, H)`` relative harmonic amplitudes (not yet normalised)."""
        lo, hi = self.loudness_range
        u = ((loudness_db - lo) / (hi - lo)).clamp(0.0, 1.0)[..., None]
        k = torch.arange(1, self.n_harmonics + 1, dtype=loudness_db.dtype, device=loudness_db.device)
        return k ** -(1.8 - 0.8 * u) * (1.0 + 0.6 * torch.cos(2 * math.pi * k / 5.0))

    def noise_magnitudes(self, amplitude: torch.Tensor, n_bands: int = 65) -> torch.Tensor:
        """``(B, F)`` harmonic amplitude -> ``(B, F, n_bands)`` breath-noise filter magnitudes."""
        f = torch.linspace(0.0, self.sample_rate / 2, n_bands, dtype=amplitude.dtype, device=amplitude.device)
        shape = torch.exp(-(((f - 2000.0) / 1500.0) ** 2)) + 0.1
        return amplitude[..., None] * 10.0 ** (self.noise_db / 20.0) * shape

    def render(
        self, f0_hz: torch.Tensor, loudness_db: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``(B, F)`` f0 and loudness -> ``(B, F * hop)`` audio."""
        hd = normalize_harmonics(self.harmonic_distribution(loudness_db), f0_hz, self.sample_rate)
        amps = loudness_to_amplitude(loudness_db, hd, f0_hz, self.sample_rate)
        n = f0_hz.shape[1] * self.hop_length
        audio = harmonic_synthesis(f0_hz, amps, hd, n, self.sample_rate)
        noise = uniform_noise(f0_hz.shape[0], n, generator, f0_hz.device, f0_hz.dtype)
        return audio + frequency_filter(noise, self.noise_magnitudes(amps), 0)


def random_phrase(
    instrument: SyntheticInstrument, seconds: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A random phrase: ``(f0_hz, loudness_db)`` frame arrays of ``seconds * frame_rate`` frames."""
    fr = instrument.frame_rate
    n = int(round(seconds * fr))
    f0_midi = np.zeros(n)
    ld = np.full(n, -80.0)
    t = 0
    midi = rng.uniform(*instrument.midi_range)
    prev_rest = True  # a phrase starts with a note; rests never follow each other
    while t < n:
        dur = int(rng.uniform(0.25, 1.0) * fr)
        rest = rng.random() < 0.15 and not prev_rest
        prev_rest = rest
        target = float(np.clip(midi + rng.normal(0.0, 4.0), *instrument.midi_range))
        glide = min(dur, int(0.04 * fr))
        seg = np.full(dur, target)
        seg[:glide] = np.linspace(midi, target, glide, endpoint=False) if glide else seg[:glide]
        peak = rng.uniform(*instrument.loudness_range)
        env = np.full(dur, peak)
        att, rel = min(dur, int(rng.uniform(0.02, 0.1) * fr)), min(dur, int(rng.uniform(0.03, 0.15) * fr))
        floor = -80.0 if rest else peak - rng.uniform(6.0, 20.0)
        if att:
            env[:att] = np.linspace(floor if t == 0 or rest else env[0] - 6.0, peak, att)
        if rel:
            env[-rel:] = np.linspace(peak, peak - rng.uniform(3.0, 12.0), rel)
        if rest:
            env[:] = -80.0
        end = min(n, t + dur)
        f0_midi[t:end] = seg[: end - t]
        ld[t:end] = env[: end - t]
        t, midi = end, target
    times = np.arange(n) / fr
    vib = (
        instrument.vibrato_cents
        / 100.0
        * np.sin(2 * np.pi * instrument.vibrato_hz * times + rng.uniform(0, 2 * np.pi))
    )
    f0 = 440.0 * 2.0 ** ((f0_midi + vib * (ld > -75.0) - 69.0) / 12.0)  # no vibrato in rests
    return f0, np.maximum(ld, -80.0)


def write_dataset(
    out_dir: str | Path,
    n_examples: int = 300,
    seconds: float = 4.0,
    seed: int = 0,
    instrument: SyntheticInstrument | None = None,
) -> Path:
    """Write ``n_examples`` phrases as ``NNNNN.wav`` plus ``NNNNN.npz`` (ground-truth ``f0_hz``,
    ``loudness_db`` of the performance and ``f0_confidence``) and ``instrument.json``."""
    inst = instrument or SyntheticInstrument()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    for i in range(n_examples):
        f0, ld = random_phrase(inst, seconds, rng)
        audio = inst.render(torch.from_numpy(f0).float()[None], torch.from_numpy(ld).float()[None], gen)[0]
        peak = float(audio.abs().max())
        if peak > 0.99:  # keep the wav in range; the stored loudness follows the scaling
            audio = audio * (0.99 / peak)
            ld = ld + 20.0 * math.log10(0.99 / peak)
        save(out / f"{i:05d}.wav", audio[None], inst.sample_rate)
        with atomic_write(out / f"{i:05d}.npz") as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                f0_hz=f0.astype(np.float32),
                loudness_db=ld.astype(np.float32),
                f0_confidence=(ld > -75).astype(np.float32),  # pitched except in rests
            )
    with atomic_write(out / "instrument.json") as tmp:
        tmp.write_text(
            json.dumps({**asdict(inst), "n_examples": n_examples, "seconds": seconds, "seed": seed}, indent=2)
        )
    return out
