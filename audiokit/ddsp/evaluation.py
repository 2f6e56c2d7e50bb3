"""Resynthesis metrics of a DDSP model, as magenta's ``training/metrics.py`` defines them.

* spectral loss: :class:`~audiokit.ddsp.losses.SpectralLoss` between input and resynthesis;
* loudness L1: mean ``|ld(x) - ld(y)|`` in dB (current loudness definition, all frames), and the
  same over the frames where the reference is confidently pitched (``loudness_l1_db_voiced``);
* f0 L1: mean ``|midi(f0) - midi(f0_resynth)|`` over frames where the reference f0 is confident
  (``>= 0.85``), the resynthesis' f0 measured by pYIN (magenta uses CREPE; a user's tracker can be
  passed); an example is an *f0 outlier* when the tracker finds no pitch in those frames or its mean
  error exceeds 12 semitones.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from audiokit.ddsp.features import compute_loudness, get_f0_extractor
from audiokit.ddsp.losses import SpectralLoss

__all__ = ["resynthesis_metrics"]


def _midi(f: np.ndarray) -> np.ndarray:
    return 12.0 * np.log2(np.maximum(f, 1e-6) / 440.0) + 69.0


@torch.no_grad()
def resynthesis_metrics(
    model,
    examples: Iterable[dict[str, torch.Tensor]],
    f0_extractor="pyin",
    confidence_threshold: float = 0.85,
    seed: int = 0,
) -> dict[str, float]:
    """Average metrics over ``examples`` (dicts with ``audio`` ``(T,)``, ``f0_hz`` and
    ``f0_confidence`` ``(F,)``), resynthesised from their f0 and loudness."""
    cfg = model.config
    sr, fr = cfg.sample_rate, cfg.frame_rate
    hop = sr // fr
    loss_fn = SpectralLoss()
    tracker = (
        get_f0_extractor(f0_extractor, fmin=cfg.f0_min, fmax=cfg.f0_max)
        if f0_extractor == "pyin"
        else get_f0_extractor(f0_extractor)
    )
    gen = torch.Generator().manual_seed(seed)
    noise = model.processor_group.modules_by_name["filtered_noise"]
    old, noise.generator = noise.generator, gen
    spec, ld_err, ld_err_voiced, f0_err, outliers, n = [], [], [], [], 0, 0
    try:
        for ex in examples:
            audio = ex["audio"].float()[None]
            n_frames = ex["f0_hz"].numel()
            ld = compute_loudness(audio, sr, fr)[:, :n_frames]
            out = model(ex["f0_hz"].float()[None], ld, audio)["audio"]
            spec.append(float(loss_fn(audio, out)))
            ld_out = compute_loudness(out, sr, fr)[:, :n_frames]
            ld_err.append(float((ld - ld_out).abs().mean()))
            conf = ex["f0_confidence"].numpy() >= confidence_threshold
            if conf.any():
                ld_err_voiced.append(float((ld - ld_out).abs()[0, torch.from_numpy(conf)].mean()))
            f0_gen, voiced = tracker(out[0].double().numpy(), sr, hop)
            f0_gen, voiced = np.asarray(f0_gen)[:n_frames], np.asarray(voiced)[:n_frames] > 0.5
            n += 1
            sel = conf & voiced
            if not conf.any():
                continue
            if not sel.any():
                outliers += 1
                continue
            err = np.abs(_midi(ex["f0_hz"].numpy()[sel]) - _midi(f0_gen[sel]))
            if err.mean() > 12.0:
                outliers += 1
            else:
                f0_err.append(float(err.mean()))
    finally:
        noise.generator = old
    return {
        "spectral_loss": float(np.mean(spec)) if spec else float("nan"),
        "loudness_l1_db": float(np.mean(ld_err)) if ld_err else float("nan"),
        "loudness_l1_db_voiced": float(np.mean(ld_err_voiced)) if ld_err_voiced else float("nan"),
        "f0_l1_midi": float(np.mean(f0_err)) if f0_err else float("nan"),
        "f0_outlier_ratio": outliers / max(n, 1),
        "n_examples": float(n),
    }
