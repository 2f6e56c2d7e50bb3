"""Frame-level features shared by metrics and models (f0; more are added by the models that need them)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["f0_pyin"]


def f0_pyin(
    wav: torch.Tensor | np.ndarray,
    sample_rate: int,
    hop_length: int,
    fmin: float = 50.0,
    fmax: float = 1000.0,
    frame_length: int | None = None,
    center: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Fundamental frequency by probabilistic YIN (:func:`librosa.pyin`).

    Args:
        wav: mono audio ``(T,)`` (a ``(1, T)`` tensor is accepted).
        hop_length: hop of the output frames in samples; frame ``n`` is centred at ``n * hop_length``
            when ``center=True``.
        fmin, fmax: search range in Hz.
        frame_length: analysis window; defaults to the next power of two >= ``4 * sample_rate / fmin``
            capped below by 1024 (pyin needs several periods of ``fmin``).

    Returns:
        ``(f0_hz, voiced)``: float arrays of ``1 + T // hop_length`` frames; ``f0_hz`` is 0 where unvoiced.
    """
    import librosa

    x = wav.detach().cpu().numpy() if isinstance(wav, torch.Tensor) else np.asarray(wav)
    x = (
        np.asarray(x, dtype=np.float64).reshape(-1)
        if x.ndim > 1 and x.shape[0] == 1
        else np.asarray(x, np.float64)
    )
    if x.ndim != 1:
        raise ValueError(f"f0_pyin expects mono audio (T,), got shape {x.shape}")
    if frame_length is None:
        frame_length = max(1024, int(2 ** np.ceil(np.log2(4.0 * sample_rate / fmin))))
    f0, voiced, _ = librosa.pyin(
        x,
        fmin=fmin,
        fmax=fmax,
        sr=sample_rate,
        frame_length=frame_length,
        hop_length=hop_length,
        center=center,
    )
    f0 = np.where(voiced, np.nan_to_num(f0, nan=0.0), 0.0)
    return f0.astype(np.float64), voiced.astype(bool)
