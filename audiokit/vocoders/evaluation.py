"""Resynthesis evaluation of a vocoder against Griffin-Lim from the same log-mel.

Used by the demo step, the tiny recipe and the model cards, so that every reported number is
computed the same way: the vocoder and Griffin-Lim both start from the model's own log-mel of the
reference audio; both outputs are compared with the reference over the common length.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch

from audiokit import metrics
from audiokit.frontend import griffin_lim, mel_to_magnitude
from audiokit.vocoders.base import SpectralVocoder

__all__ = ["griffin_lim_from_mel", "ResynthesisScores", "score_resynthesis", "evaluate_resynthesis"]

DEFAULT_METRICS = ("pesq", "stoi", "mcd", "lsd", "snr")


def griffin_lim_from_mel(model: SpectralVocoder, mel: torch.Tensor, n_iter: int = 32) -> torch.Tensor:
    """Griffin-Lim waveform ``(B, hop * (N - 1))`` from the model's log-mel ``(B, n_mels, N)``.

    The log-mel is inverted to linear magnitudes by non-negative least squares through the model's own
    filterbank, then the phase is estimated with fast Griffin-Lim (momentum 0.99) on the model's STFT.
    """
    mel = model.check_mel(mel)
    mag = mel_to_magnitude(torch.exp(mel.float()), model.mel_extractor.mel_basis, power=1.0)
    length = model.hop_length * (mel.shape[-1] - 1)
    return griffin_lim(mag, model.stft, n_iter=n_iter, length=length)


def score_resynthesis(
    ref: torch.Tensor, est: torch.Tensor, sample_rate: int, names: Sequence[str] = DEFAULT_METRICS
) -> dict[str, float]:
    """Metrics of ``est`` against ``ref`` (both mono ``(T,)``, trimmed to the common length)."""
    n = min(ref.shape[-1], est.shape[-1])
    ref, est = ref[..., :n].reshape(-1), est[..., :n].reshape(-1)
    out = {}
    for name in names:
        if name == "pesq":
            out[name] = metrics.pesq(ref, est, sample_rate)
        elif name == "stoi":
            out[name] = metrics.stoi(ref, est, sample_rate)
        elif name == "mcd":
            out[name] = metrics.mcd(ref, est, sample_rate)
        elif name == "lsd":
            out[name] = metrics.lsd(ref, est)
        elif name == "snr":
            out[name] = metrics.snr(ref, est)
        else:
            raise ValueError(f"unknown metric {name!r}; use {DEFAULT_METRICS}")
    return out


@dataclass
class ResynthesisScores:
    """Per-file scores of the vocoder and of Griffin-Lim, and their means."""

    names: tuple[str, ...]
    vocoder: dict[str, dict[str, float]] = field(default_factory=dict)
    griffin_lim: dict[str, dict[str, float]] = field(default_factory=dict)
    vocoder_seconds: float = 0.0
    audio_seconds: float = 0.0

    def mean(self, which: str) -> dict[str, float]:
        table = self.vocoder if which == "vocoder" else self.griffin_lim
        return {m: sum(r[m] for r in table.values()) / max(len(table), 1) for m in self.names}

    @property
    def rtf(self) -> float:
        return self.vocoder_seconds / self.audio_seconds if self.audio_seconds else math.nan


def evaluate_resynthesis(
    model: SpectralVocoder,
    clips: Iterable[tuple[str, torch.Tensor]],
    names: Sequence[str] = DEFAULT_METRICS,
    gl_iters: int = 32,
    dtype: torch.dtype | None = torch.float32,
    outputs: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> ResynthesisScores:
    """Score analysis-resynthesis of mono clips ``(name, wav (T,))`` at the model's rate.

    If ``outputs`` is a dict, ``outputs[name] = (vocoded, griffin_lim)`` waveforms are stored in it.
    """
    scores = ResynthesisScores(tuple(names))
    for name, wav in clips:
        mel = model.mel(wav)
        t0 = time.perf_counter()
        voc = model.synthesize(mel, dtype=dtype)[0]
        scores.vocoder_seconds += time.perf_counter() - t0
        scores.audio_seconds += voc.shape[-1] / model.sample_rate
        gl = griffin_lim_from_mel(model, mel, gl_iters)[0]
        scores.vocoder[name] = score_resynthesis(wav, voc, model.sample_rate, names)
        scores.griffin_lim[name] = score_resynthesis(wav, gl, model.sample_rate, names)
        if outputs is not None:
            outputs[name] = (voc, gl)
    return scores
