"""Spectrogram pictures for the demo and reports (matplotlib, imported lazily, Agg backend)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from audiokit.frontend import STFT
from audiokit.io import atomic_write

__all__ = ["save_spectrograms", "save_curves", "pyplot"]


def pyplot():  # noqa: ANN201 - matplotlib.pyplot is imported lazily (optional extra)
    """``matplotlib.pyplot`` on the Agg backend (the ``plot`` extra; ImportError naming it if missing)."""
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - depends on the install
        raise ImportError("plots need matplotlib: pip install 'audiokit[plot]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _db_spectrogram(wav: torch.Tensor | np.ndarray, sr: int, n_fft: int) -> np.ndarray:
    x = torch.as_tensor(np.asarray(wav, dtype=np.float32)).reshape(-1)
    spec = STFT(n_fft, n_fft // 4)(x)[0].abs()
    return 20 * np.log10(np.maximum(spec.numpy(), 1e-5))


def save_spectrograms(
    path: str | os.PathLike,
    signals: Sequence[tuple[str, torch.Tensor | np.ndarray, int]],
    n_fft: int = 1024,
    title: str | None = None,
) -> Path:
    """Save log-magnitude spectrograms of ``(label, wav, sample_rate)`` signals stacked vertically."""
    plt = pyplot()
    fig, axes = plt.subplots(len(signals), 1, figsize=(10, 2.6 * len(signals)), squeeze=False)
    for ax, (label, wav, sr) in zip(axes[:, 0], signals):
        db = _db_spectrogram(wav, sr, n_fft)
        dur = db.shape[1] * (n_fft // 4) / sr
        im = ax.imshow(
            db,
            origin="lower",
            aspect="auto",
            cmap="magma",
            vmin=db.max() - 90,
            vmax=db.max(),
            extent=(0, dur, 0, sr / 2000),
        )
        ax.set_title(label, fontsize=9)
        ax.set_ylabel("kHz")
        fig.colorbar(im, ax=ax, label="dB")
    axes[-1, 0].set_xlabel("seconds")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return path


def save_curves(
    path: str | os.PathLike,
    x: Sequence[float],
    curves: dict[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    title: str | None = None,
) -> Path:
    """Save a line plot of several named curves over ``x``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, y in curves.items():
        ax.plot(x, y, marker="o", markersize=3, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return path
