"""Masker x gain search: feature-domain mixing vs waveform mixing + feature extraction per pair.

Ranks ``--maskers`` synthetic maskers x ``--gains`` gains (default 100 x 13, -6..+6 dB) for a
``--seconds`` s binaural synthetic soundscape (default 30 s) with the same model both ways:

* **feature domain** (audiokit): soundscape features once, masker features once (the bank, built
  beforehand), then all pairs mixed in the feature domain and scored in batched passes;
* **waveform**: for each pair, mix the waveforms, extract the ARAUS features of the mix (float32, the
  faster precision) and score them with the same model (``augmented_db``), batched per masker.

Both paths share the soundscape encoding and the masker bank (whose build time is printed apart).
Prints pairs/s, the speed ratio, and the rank agreement (Spearman) of the two sets of predicted
means. Run: ``python benchmarks/bench_masker.py [--model DIR] [--maskers 100] [--seconds 30]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_time, print_machine, print_table  # noqa: E402

from audiokit.soundscape import (  # noqa: E402
    ARAUS_SAMPLE_RATE,
    MaskerBank,
    features,
    load_model,
    mix_waveforms,
)
from audiokit.soundscape.synthetic import synth_masker, synth_soundscape  # noqa: E402

KINDS = ("bird", "water", "wind", "traffic", "construction")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model folder (default: the bundled masker_tiny)")
    ap.add_argument("--maskers", type=int, default=100)
    ap.add_argument("--gains", default="-6:6:1", help="start:stop:step in dB")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=5, help="repeats of the feature-domain search")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print_machine()
    start, stop, step = (float(v) for v in args.gains.split(":"))
    gains = torch.arange(start, stop + step / 2, step)
    sr = ARAUS_SAMPLE_RATE
    rng = np.random.default_rng(0)

    t0 = time.perf_counter()
    scene, _ = synth_soundscape(args.seconds, sr, rng, scene="street", level=-30.0)
    waves = {}
    for i in range(args.maskers):
        x, _ = synth_masker(KINDS[i % len(KINDS)], args.seconds, sr, rng, level=float(rng.uniform(-36, -24)))
        waves[f"m{i:03d}_{KINDS[i % len(KINDS)]}"] = (x, sr)
    dt = time.perf_counter() - t0
    print(f"generated 1 soundscape + {args.maskers} maskers of {args.seconds:g} s in {dt:.1f} s")
    model = load_model(args.model)
    scene_t = torch.from_numpy(scene)
    n = scene_t.shape[-1]

    t0 = time.perf_counter()
    bank = MaskerBank.from_waveforms(waves, n)
    t_bank = time.perf_counter() - t0
    with torch.inference_mode():
        t0 = time.perf_counter()
        enc_m = model.encode_maskers(bank.features_db)
        t_bank_enc = time.perf_counter() - t0

        def feature_domain():
            enc_s = model.encode_soundscape(features(scene_t, sr))
            return model.search(enc_s, enc_m, gains)[0]

        fast_mean = feature_domain()
        t_fast = median_time(feature_domain, repeats=args.repeats, warmup=1)

        enc_s = model.encode_soundscape(features(scene_t, sr))
        slow_mean = torch.empty_like(fast_mean)
        per_masker = []
        t_all = time.perf_counter()
        for i, name in enumerate(bank.names):
            t0 = time.perf_counter()
            masker = torch.from_numpy(waves[name][0])
            aug = torch.stack(
                [features(mix_waveforms(scene_t, masker, float(g)), sr, dtype=torch.float32) for g in gains]
            )
            idx = torch.full((len(gains),), i)
            slow_mean[i] = model.predict(enc_s, enc_m.select(idx), gains, augmented_db=aug)[0]
            per_masker.append(time.perf_counter() - t0)
        t_slow_total = time.perf_counter() - t_all
    pairs = args.maskers * len(gains)
    t_slow = statistics.median(per_masker) * args.maskers  # median per masker, scaled to the bank
    rho = spearmanr(fast_mean.flatten().numpy(), slow_mean.flatten().numpy()).statistic
    top_fast = divmod(int(fast_mean.argmax()), len(gains))
    top_slow = divmod(int(slow_mean.argmax()), len(gains))
    diff = (fast_mean - slow_mean).abs()
    print(
        f"{args.maskers} maskers x {len(gains)} gains = {pairs} pairs, {args.seconds:g} s binaural "
        f"soundscape, {torch.get_num_threads()} threads; masker bank built once in {t_bank:.2f} s "
        f"(+{t_bank_enc:.2f} s encoding)"
    )
    print_table(
        ["path", "s per query", "pairs/s"],
        [
            ["feature domain (median)", t_fast, pairs / t_fast],
            ["waveform + features (median/masker x M)", t_slow, pairs / t_slow],
            ["waveform + features (total, one run)", t_slow_total, pairs / t_slow_total],
        ],
    )
    print(f"speed ratio (waveform / feature domain, medians): {t_slow / t_fast:.1f}x")
    print(f"Spearman rank agreement of the {pairs} predicted means: {rho:.4f}")
    print(
        f"best pair: feature domain {bank.names[top_fast[0]]} @ {float(gains[top_fast[1]]):+g} dB, waveform "
        f"{bank.names[top_slow[0]]} @ {float(gains[top_slow[1]]):+g} dB; |mean difference| median "
        f"{float(diff.median()):.4f}, max {float(diff.max()):.4f}"
    )


if __name__ == "__main__":
    main()
