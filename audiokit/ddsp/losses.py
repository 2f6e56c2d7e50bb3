"""The multi-scale spectral loss of DDSP (magenta's ``losses.SpectralLoss``).

``L = sum_n [ mag_w * mean|S_n - S'_n| + logmag_w * mean|safe_log S_n - safe_log S'_n| (+ options) ]``
over FFT sizes ``n`` = 2048, 1024, 512, 256, 128, 64 with 75% overlap: magnitudes of unnormalised
periodic-Hann STFTs (a unit sine on a bin centre peaks at ``n / 4``), means over batch, frames and
bins, sizes *summed*. ``safe_log`` replaces zeros by 1e-5 (so two silences compare equal). Weights
default to magenta's gin configs (``mag_weight = logmag_weight = 1``).

The STFTs come from :class:`audiokit.frontend.STFT` with centred frames and zero padding
(``1 + T // hop`` frames); magenta frames from the first sample and zero-pads the end
(``ceil(T / hop)`` frames), which changes which samples share a frame but not what the loss measures.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from audiokit.ddsp.core import safe_log
from audiokit.ddsp.features import compute_loudness
from audiokit.frontend import STFT

__all__ = ["SpectralLoss", "mean_difference"]


def mean_difference(target: torch.Tensor, value: torch.Tensor, loss_type: str = "L1") -> torch.Tensor:
    """``mean|t - v|`` (L1), ``mean (t - v)^2`` (L2) or ``mean(1 - cos(t, v))`` along the last axis."""
    kind = loss_type.upper()
    if kind == "L1":
        return (target - value).abs().mean()
    if kind == "L2":
        return (target - value).square().mean()
    if kind == "COSINE":
        return (1.0 - torch.nn.functional.cosine_similarity(target, value, dim=-1, eps=1e-12)).mean()
    raise ValueError(f"loss_type must be 'L1', 'L2' or 'COSINE', got {loss_type!r}")


class SpectralLoss(nn.Module):
    """Multi-scale spectrogram loss; ``forward(target (B, T), value (B, T)) -> scalar``.

    Args:
        fft_sizes: STFT sizes (window = FFT size, hop = ``size * (1 - overlap)``).
        loss_type: ``"L1"`` (default), ``"L2"`` or ``"COSINE"``.
        mag_weight, logmag_weight: weights of the linear and log magnitude terms.
        delta_time_weight, delta_freq_weight: weights of first differences along time / frequency.
        cumsum_freq_weight: weight of the cumulative sum over frequency (a 1-D Wasserstein-like term).
        loudness_weight: weight of the L1 between loudness curves (n_fft 2048, current definition).
        sample_rate, frame_rate: only for the loudness term.
    """

    def __init__(
        self,
        fft_sizes: Sequence[int] = (2048, 1024, 512, 256, 128, 64),
        loss_type: str = "L1",
        mag_weight: float = 1.0,
        logmag_weight: float = 1.0,
        delta_time_weight: float = 0.0,
        delta_freq_weight: float = 0.0,
        cumsum_freq_weight: float = 0.0,
        loudness_weight: float = 0.0,
        overlap: float = 0.75,
        sample_rate: int = 16000,
        frame_rate: float = 250,
    ):
        super().__init__()
        if not 0.0 <= overlap < 1.0:
            raise ValueError(f"overlap must be in [0, 1), got {overlap}")
        mean_difference(torch.zeros(1), torch.zeros(1), loss_type)  # validate early
        self.fft_sizes = tuple(int(n) for n in fft_sizes)
        self.loss_type = loss_type
        self.mag_weight = mag_weight
        self.logmag_weight = logmag_weight
        self.delta_time_weight = delta_time_weight
        self.delta_freq_weight = delta_freq_weight
        self.cumsum_freq_weight = cumsum_freq_weight
        self.loudness_weight = loudness_weight
        self.sample_rate = sample_rate
        self.frame_rate = frame_rate
        self.stfts = nn.ModuleList(
            STFT(n, max(1, int(n * (1.0 - overlap))), padding="center", pad_mode="constant")
            for n in self.fft_sizes
        )

    def magnitudes(self, audio: torch.Tensor) -> list[torch.Tensor]:
        """``|STFT|`` at every size, each ``(B, n // 2 + 1, N)``."""
        return [stft(audio).abs() for stft in self.stfts]

    def forward(self, target: torch.Tensor, value: torch.Tensor, return_parts: bool = False):
        if target.shape != value.shape:
            raise ValueError(f"target {tuple(target.shape)} and value {tuple(value.shape)} differ")
        diff = lambda a, b: mean_difference(a, b, self.loss_type)  # noqa: E731
        parts: dict[str, torch.Tensor] = {}

        def add(key: str, v: torch.Tensor) -> None:
            parts[key] = parts.get(key, 0.0) + v

        for t_mag, v_mag in zip(self.magnitudes(target), self.magnitudes(value)):
            if self.mag_weight > 0:
                add("mag", self.mag_weight * diff(t_mag, v_mag))
            if self.logmag_weight > 0:
                add("logmag", self.logmag_weight * diff(safe_log(t_mag), safe_log(v_mag)))
            if self.delta_time_weight > 0:
                add("delta_time", self.delta_time_weight * diff(t_mag.diff(dim=2), v_mag.diff(dim=2)))
            if self.delta_freq_weight > 0:
                add("delta_freq", self.delta_freq_weight * diff(t_mag.diff(dim=1), v_mag.diff(dim=1)))
            if self.cumsum_freq_weight > 0:
                add("cumsum_freq", self.cumsum_freq_weight * diff(t_mag.cumsum(1), v_mag.cumsum(1)))
        if self.loudness_weight > 0:
            ld = [compute_loudness(x, self.sample_rate, self.frame_rate, n_fft=2048) for x in (target, value)]
            add("loudness", self.loudness_weight * diff(ld[0], ld[1]))
        total = sum(parts.values()) if parts else target.new_zeros(())
        return (total, parts) if return_parts else total
