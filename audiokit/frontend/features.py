"""Frame-level features shared by metrics and models (f0; more are added by the models that need them)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["f0_pyin", "PYIN_BLOCK_SECONDS"]

#: Inputs longer than this are analysed by :func:`f0_pyin` in blocks (with context).
PYIN_BLOCK_SECONDS = 20.0


def f0_pyin(
    wav: torch.Tensor | np.ndarray,
    sample_rate: int,
    hop_length: int,
    fmin: float = 50.0,
    fmax: float = 1000.0,
    frame_length: int | None = None,
    center: bool = True,
    block_seconds: float | None = PYIN_BLOCK_SECONDS,
    margin_seconds: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Fundamental frequency by probabilistic YIN (:func:`librosa.pyin`).

    Args:
        wav: mono audio ``(T,)`` (a ``(1, T)`` tensor is accepted).
        hop_length: hop of the output frames in samples; frame ``n`` is centred at ``n * hop_length``
            when ``center=True``.
        fmin, fmax: search range in Hz.
        frame_length: analysis window; defaults to the next power of two >= ``4 * sample_rate / fmin``
            capped below by 1024 (pyin needs several periods of ``fmin``).
        block_seconds: longer inputs (``center=True``) are analysed in blocks of this many seconds,
            each with ``margin_seconds`` of context on both sides, so memory and time grow with the
            block, not the file (pyin's Viterbi decoding is otherwise global over the whole file and
            needs gigabytes for minutes of audio). The frames equal whole-file pyin except where the
            decoding's choice depends on audio more than the margin away (rare; see the tests).
            ``None``: one pass.

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

    def one_pass(seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f0, voiced, _ = librosa.pyin(
            seg,
            fmin=fmin,
            fmax=fmax,
            sr=sample_rate,
            frame_length=frame_length,
            hop_length=hop_length,
            center=center,
        )
        return np.where(voiced, np.nan_to_num(f0, nan=0.0), 0.0).astype(np.float64), voiced.astype(bool)

    block = None if block_seconds is None else max(1, round(block_seconds * sample_rate / hop_length))
    margin = int(np.ceil(margin_seconds * sample_rate / hop_length)) * hop_length
    if not center or block is None or x.shape[0] <= block * hop_length + 2 * margin:
        return one_pass(x)
    n_frames = 1 + x.shape[0] // hop_length
    f0s, voiced = [], []
    for f_start in range(0, n_frames, block):  # frames centred at f * hop, f in [f_start, f_stop)
        f_stop = min(n_frames, f_start + block)
        a = max(0, f_start * hop_length - margin)  # a multiple of hop: frames stay on the grid
        b = min(x.shape[0], (f_stop - 1) * hop_length + margin + 1)
        f, v = one_pass(x[a:b])
        j0 = (f_start * hop_length - a) // hop_length
        f0s.append(f[j0 : j0 + f_stop - f_start])
        voiced.append(v[j0 : j0 + f_stop - f_start])
    return np.concatenate(f0s), np.concatenate(voiced)
