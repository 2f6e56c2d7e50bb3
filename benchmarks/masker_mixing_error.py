"""Error of feature-domain mixing against real waveform mixing, on varied material.

For each (soundscape, masker, SMR) case: ``mix_features(F(s), F(m), G)`` against ``F(s + 10^(G/20) m)``
(ARAUS features, dB), over every time-frequency bin, at full resolution and after the predictor's
power-domain time pooling (``--pool`` frames, 16 by default). Prints a markdown table (the one in
docs/soundscape.md). Run: ``python benchmarks/masker_mixing_error.py [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from audiokit.assets import speech_path
from audiokit.io import load, resample
from audiokit.soundscape import features, leq_db, mix_features, mix_waveforms
from audiokit.soundscape.model import pool_power
from audiokit.soundscape.synthetic import SCENES, synth_masker, synth_soundscape

SR = 44100
KINDS = ("bird", "water", "wind", "traffic", "construction")


def _stats(err: torch.Tensor) -> list[float]:
    e = err.flatten().double()
    return [float(e.median()), float(e.mean()), float(torch.quantile(e, 0.95)), float(e.max())]


def _case(s: torch.Tensor, m: torch.Tensor, smr: float, pool: int) -> tuple[list[float], list[float]]:
    gain = leq_db(s, SR, None) - leq_db(m, SR, None) - smr
    est = mix_features(features(s, SR), features(m, SR), gain)
    ref = features(mix_waveforms(s, m, gain), SR)
    full = (est - ref).abs()
    p_est = 10 * torch.log10(pool_power(10 ** (est / 10), pool))
    p_ref = 10 * torch.log10(pool_power(10 ** (ref / 10), pool))
    return _stats(full), _stats((p_est - p_ref).abs())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--pool", type=int, default=16)
    args = ap.parse_args()
    n = int(args.seconds * SR)
    rng = np.random.default_rng(1)
    rows: list[tuple[str, str, list[float], list[float]]] = []

    scenes = {
        name: torch.from_numpy(synth_soundscape(args.seconds, SR, rng, scene=name, level=-30.0)[0])
        for name in SCENES
    }
    maskers = {k: torch.from_numpy(synth_masker(k, args.seconds, SR, rng, level=-30.0)[0]) for k in KINDS}
    for kind, m in maskers.items():
        for smr in (-6.0, 0.0, 6.0):
            full, pooled = [], []
            for s in scenes.values():
                f, p = _case(s, m, smr, args.pool)
                full.append(f)
                pooled.append(p)
            rows.append(
                (
                    f"4 synthetic scenes + {kind}",
                    f"{smr:+g}",
                    np.mean(full, 0).tolist(),
                    np.mean(pooled, 0).tolist(),
                )
            )

    speech, sr = load(speech_path("slt_48k.wav"), mono=True)
    speech = resample(speech, sr, SR)
    speech = torch.cat([speech] * math.ceil(n / speech.shape[-1]), dim=1)[:, :n].expand(2, -1)
    for kind in ("water", "traffic"):
        f, p = _case(speech.contiguous(), maskers[kind], 0.0, args.pool)
        rows.append((f"speech (mono on 2 ears) + {kind}", "+0", f, p))
    noise_a = torch.from_numpy(rng.standard_normal((2, n)) * 0.05).float()
    noise_b = torch.from_numpy(rng.standard_normal((1, n)) * 0.05).float()
    f, p = _case(noise_a, noise_b, 0.0, args.pool)
    rows.append(("white noise + independent white noise", "+0", f, p))
    t = torch.arange(n) / SR
    tone_a = (0.1 * torch.sin(2 * torch.pi * 1000 * t)).expand(2, -1).contiguous()
    f, p = _case(tone_a, (0.1 * torch.sin(2 * torch.pi * 1003 * t))[None], 0.0, args.pool)
    rows.append(("1 kHz tone + 1.003 kHz tone (beating)", "+0", f, p))
    f, p = _case(noise_b.expand(2, -1).contiguous(), noise_b, 0.0, args.pool)
    rows.append(("noise + the same noise (coherent, worst case)", "+0", f, p))

    print(f"{args.seconds:g} s clips at 44.1 kHz; |error| in dB over all time-frequency bins")
    print(f"| material | SMR dB | median | mean | p95 | max | median, pooled x{args.pool} | p95, pooled |")
    print("|---|---|---|---|---|---|---|---|")
    for name, smr, f, p in rows:
        cells = [
            name,
            smr,
            f"{f[0]:.3f}",
            f"{f[1]:.3f}",
            f"{f[2]:.2f}",
            f"{f[3]:.2f}",
            f"{p[0]:.3f}",
            f"{p[2]:.3f}",
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
