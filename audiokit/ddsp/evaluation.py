"""Resynthesis metrics of a DDSP model, as magenta's ``training/metrics.py`` defines them.

* spectral loss: :class:`~audiokit.ddsp.losses.SpectralLoss` between input and resynthesis;
* loudness L1: mean ``|ld(x) - ld(y)|`` in dB (current loudness definition, all frames), and the
  same over the frames where the reference is confidently pitched (``loudness_l1_db_voiced``);
* f0 L1: mean ``|midi(f0) - midi(f0_resynth)|`` over frames where the reference f0 is confident
  (``>= 0.85``), the resynthesis' f0 measured by pYIN (magenta uses CREPE; a user's tracker can be
  passed); an example is an *f0 outlier* when the tracker finds no pitch in those frames or its mean
  error exceeds 12 semitones.

:func:`analysis_resynthesis` is a reference renderer for recorded (or sampled) instruments, whose
sound has no known generator: every frame's harmonic amplitudes are measured from the recording at
the known f0 and its residual's spectrum sets the filtered noise, then both are re-synthesised with
the same harmonic-plus-noise synthesizer a DDSP model drives. It scores about what a model with
perfect controls would, the *floor* of the metrics (an estimate: a model can come close to it or, where
the analysis blurs fast changes, beat it).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from audiokit.ddsp.api import filtered_noise, harmonic
from audiokit.ddsp.features import compute_loudness, get_f0_extractor
from audiokit.ddsp.losses import SpectralLoss
from audiokit.frontend.stft import get_window, stft

__all__ = ["resynthesis_metrics", "analysis_resynthesis", "pitch_following"]


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


@torch.no_grad()
def analysis_resynthesis(
    audio: torch.Tensor,
    f0_hz: torch.Tensor,
    sample_rate: int = 16000,
    hop: int = 64,
    n_harmonics: int = 60,
    n_noise_bands: int = 65,
    win_length: int = 512,
    periods: float = 4.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Harmonic-plus-noise analysis and resynthesis of ``(T,)`` audio with frame f0 ``(F,)`` -> ``(64 F,)``.

    Harmonic ``k`` of frame ``j``: ``2 |sum_n w[n] x[jH + n] exp(-2 pi i k f0_j n / sr)| / sum(w)``,
    ``w`` a Hann window of ``periods`` periods of f0 (at most ``win_length`` samples) centred on the
    frame (exact for a steady sinusoid); zero at or above Nyquist. Noise: the residual after
    subtracting the measured partials with their phases (overlap-added, Hann of two hops); its STFT
    power (FFT ``2 (n_noise_bands - 1)``, three frames smoothed) gives the band magnitudes ``H`` of
    uniform noise in ``[-1, 1]`` (power ``H^2 / 3`` per bin). The harmonic part is re-synthesised
    with the synthesizer's own phases, as a model's output is.
    """
    x = audio.double().reshape(-1)
    f0 = f0_hz.double().reshape(-1)
    n_frames = f0.numel()
    half = win_length // 2
    n = torch.arange(win_length, dtype=torch.float64) - half
    # pitch-adaptive Hann windows of ``periods`` periods (at most win_length), centred on the frame
    width = (periods * sample_rate / f0).clamp(max=win_length)[:, None]  # (F, 1)
    w = torch.where(n.abs() < width / 2, 0.5 + 0.5 * torch.cos(2 * torch.pi * n / width), 0.0)
    xp = torch.nn.functional.pad(x, (half, half + max(0, n_frames * hop - x.numel())))
    frames = xp.unfold(0, win_length, hop)[:n_frames] * w  # frame j centred on sample j * hop
    k = torch.arange(1, n_harmonics + 1, dtype=torch.float64)
    amps = torch.empty(n_frames, n_harmonics, dtype=torch.float64)
    phases = torch.empty(n_frames, n_harmonics, dtype=torch.float64)
    for a in range(0, n_frames, 64):
        b = min(n_frames, a + 64)
        ph = 2 * torch.pi / sample_rate * f0[a:b, None, None] * k[None, :, None] * n
        re = (frames[a:b, None, :] * torch.cos(ph)).sum(-1)
        im = (frames[a:b, None, :] * torch.sin(ph)).sum(-1)
        amps[a:b] = 2 * torch.sqrt(re**2 + im**2) / w[a:b].sum(-1, keepdim=True)
        phases[a:b] = torch.atan2(-im, re)  # x ~ a cos(w n + phase) around the frame centre
    amps = amps * (f0[:, None] * k < sample_rate / 2)
    total = amps.sum(-1)
    dist = amps / total.clamp(min=1e-12)[:, None]
    n_out = n_frames * hop
    harm = harmonic(f0[None], total[None], dist[None], n_out, sample_rate, normalize=False)[0]
    # the noise is what the harmonics do not explain: the residual of a phase-locked overlap-add of
    # the measured partials (Hann of 2 hops, which sums to 1)
    m = torch.arange(-hop, hop, dtype=torch.float64)
    ola_w = get_window("hann", 2 * hop, torch.float64)
    locked = torch.zeros(n_out + 2 * hop, dtype=torch.float64)
    for a in range(0, n_frames, 64):
        b = min(n_frames, a + 64)
        arg = 2 * torch.pi / sample_rate * f0[a:b, None, None] * k[None, :, None] * m + phases[a:b, :, None]
        seg = (amps[a:b, :, None] * torch.cos(arg)).sum(1) * ola_w  # (b - a, 2 hop)
        idx = (torch.arange(a, b)[:, None] * hop + torch.arange(2 * hop)).reshape(-1)
        locked.index_add_(0, idx, seg.reshape(-1))
    xs = torch.nn.functional.pad(x, (0, max(0, n_out - x.numel())))[:n_out]
    resid = xs - locked[hop : hop + n_out]
    n_fft = 2 * (n_noise_bands - 1)
    w_noise = get_window("hann", n_fft, torch.float64)
    power = stft(resid, n_fft, hop, w_noise)[0].abs().square()
    power = power[:, :n_frames]  # (bands, F)
    power = torch.nn.functional.avg_pool1d(power[None], 3, 1, 1, count_include_pad=False)[0]
    mags = torch.sqrt(power / (w_noise.square().sum() / 3.0)).T  # (F, bands)
    noise = filtered_noise(mags[None], n_out, generator=generator)[0]
    return (harm + noise).float()


def pitch_following(
    f0_in: np.ndarray, voiced_in: np.ndarray, f0_out: np.ndarray, voiced_out: np.ndarray
) -> dict[str, float]:
    """How an output's pitch follows an input's, octaves folded: over the frames voiced in both,
    ``e = 1200 log2(f_out / f_in)`` folded into ``[-600, 600)`` cents (a timbre transfer may move the
    pitch by whole octaves). Returns the median and mean ``|e|``, the share within 50 cents and the
    number of frames compared (``(F,)`` arrays; the shorter length is used)."""
    n = min(len(f0_in), len(f0_out))
    sel = (
        (np.asarray(voiced_in[:n]) > 0.5)
        & (np.asarray(voiced_out[:n]) > 0.5)
        & (np.asarray(f0_in[:n]) > 0)
        & (np.asarray(f0_out[:n]) > 0)
    )
    if not sel.any():
        return {"median_cents": float("nan"), "mean_cents": float("nan"), "within_50": 0.0, "frames": 0.0}
    e = 1200.0 * np.log2(np.asarray(f0_out[:n])[sel] / np.asarray(f0_in[:n])[sel])
    e = np.abs((e + 600.0) % 1200.0 - 600.0)
    return {
        "median_cents": float(np.median(e)),
        "mean_cents": float(e.mean()),
        "within_50": float((e <= 50.0).mean()),
        "frames": float(sel.sum()),
    }
