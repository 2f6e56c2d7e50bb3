"""Score a vocoder against Griffin-Lim, or a BWE model against plain upsampling, on real speech.

    python recipes/realspeech/evaluate.py vocoder MODEL_DIR [--data DIR] [--sets test,test_unseen]
    python recipes/realspeech/evaluate.py bwe MODEL_DIR [--data DIR] [--resamplers sinc,soxr,scipy]

Vocoder: the model's own log-mel of each held-out utterance is vocoded by the model and, as the
classical baseline, inverted by Griffin-Lim (32 iterations, NNLS through the same filterbank;
``audiokit.vocoders.evaluation``). BWE: each 16 kHz utterance is reduced to 8 kHz by a standard
resampler (audiokit's sinc = the official simulation, soxr VHQ, scipy's polyphase FIR), then brought
back to 16 kHz by plain upsampling with the same resampler (the baseline) and by the model. Metrics:
wide-band PESQ (P.862.2), STOI, LSD (AP-BWE's definition; for BWE also above and below 4 kHz).
Prints JSON; ``--out FILE`` writes it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

Resampler = Callable[[torch.Tensor, int, int], torch.Tensor]


def _soxr(x: torch.Tensor, sr_in: int, sr_out: int) -> torch.Tensor:
    import soxr

    return torch.from_numpy(
        soxr.resample(x.numpy().astype(np.float64), sr_in, sr_out, "VHQ").astype(np.float32)
    )


def _scipy(x: torch.Tensor, sr_in: int, sr_out: int) -> torch.Tensor:
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(sr_in, sr_out)
    y = resample_poly(x.numpy().astype(np.float64), sr_out // g, sr_in // g)
    return torch.from_numpy(y.astype(np.float32))


def _sinc(x: torch.Tensor, sr_in: int, sr_out: int) -> torch.Tensor:
    from audiokit.frontend import sinc_resample

    return sinc_resample(x, sr_in, sr_out)


RESAMPLERS: dict[str, Resampler] = {"sinc": _sinc, "soxr": _soxr, "scipy": _scipy}


def load_set(data: Path, name: str, sr: int, limit: int | None = None) -> list[tuple[str, torch.Tensor]]:
    """``(stem, (T,) float32)`` clips of one split at ``sr`` (the folder of that rate, or resampled)."""
    from audiokit.io import load

    folder = data / str(sr) / name
    if not folder.is_dir():
        folder = data / "16000" / name
    files = sorted(folder.glob("*.wav"))[:limit]
    return [(p.stem, load(p, sr=sr, mono=True)[0][0]) for p in files]


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.fmean(r[k] for r in rows) for k in rows[0]} if rows else {}


def evaluate_vocoder(model, clips, gl_iters: int = 32) -> dict:
    """Means of the model and of Griffin-Lim over ``clips``, plus the real-time factor."""
    from audiokit.vocoders.evaluation import evaluate_resynthesis

    s = evaluate_resynthesis(model, clips, names=("pesq", "stoi", "lsd", "mcd"), gl_iters=gl_iters)
    return {"n": len(clips), "model": s.mean("vocoder"), "griffin_lim": s.mean("griffin_lim"), "rtf": s.rtf}


def bwe_scores(ref: torch.Tensor, est: torch.Tensor, hr: int, cut: float) -> dict[str, float]:
    from audiokit import metrics

    n = min(ref.numel(), est.numel())
    ref, est = ref[:n], est[:n]
    return {
        "pesq": metrics.pesq(ref, est, hr),
        "stoi": metrics.stoi(ref, est, hr),
        "lsd": metrics.lsd(ref, est),
        "lsd_hf": metrics.lsd(ref, est, hr, band=(cut, hr / 2)),
        "lsd_lf": metrics.lsd(ref, est, hr, band=(0.0, cut)),
    }


def evaluate_bwe(model, clips, resamplers: list[str]) -> dict:
    """Per narrowband resampler: means of plain upsampling (same resampler) and of the model."""
    lr, hr = model.config.lr_sampling_rate, model.config.hr_sampling_rate
    out = {}
    for rs in resamplers:
        fn = RESAMPLERS[rs]
        rows: dict[str, list[dict[str, float]]] = {"upsampling": [], "model": []}
        for _, ref in clips:
            narrow = fn(ref, hr, lr)
            with torch.inference_mode():
                ys = {"upsampling": fn(narrow, lr, hr), "model": model.extend(narrow, lr)[0]}
            for k, y in ys.items():
                rows[k].append(bwe_scores(ref, y, hr, lr / 2))
        out[rs] = {"n": len(clips), **{k: _mean(v) for k, v in rows.items()}}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["vocoder", "bwe"])
    ap.add_argument("model")
    ap.add_argument("--data", default="data/realspeech")
    ap.add_argument("--sets", default="test,test_unseen")
    ap.add_argument("--limit", type=int, default=None, help="at most this many clips per set")
    ap.add_argument("--resamplers", default="sinc,soxr,scipy")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    results = {}
    if args.kind == "vocoder":
        from audiokit.vocoders import SpectralVocoder

        model = SpectralVocoder.from_pretrained(args.model)
        for name in args.sets.split(","):
            clips = load_set(Path(args.data), name, model.sample_rate, args.limit)
            results[name] = evaluate_vocoder(model, clips)
    else:
        from audiokit.bwe import APBWE

        model = APBWE.from_pretrained(args.model)
        for name in args.sets.split(","):
            clips = load_set(Path(args.data), name, model.config.hr_sampling_rate, args.limit)
            results[name] = evaluate_bwe(model, clips, args.resamplers.split(","))
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
