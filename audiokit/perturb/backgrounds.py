"""Background sounds for the overlay perturbation: the beds bundled with audiokit
(``audiokit/assets/backgrounds``, made by ``scripts/make_backgrounds.py``) or any folder of audio."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from audiokit.batch import find_audio
from audiokit.io import AUDIO_EXTENSIONS, load

__all__ = ["BACKGROUNDS_DIR", "bundled_backgrounds", "folder_backgrounds", "resolve_bed", "load_bed"]

BACKGROUNDS_DIR = Path(__file__).resolve().parents[1] / "assets" / "backgrounds"


def bundled_backgrounds() -> dict[str, Path]:
    """Bundled beds by name (``babble``, ``cafe``, ``street``, ``rain``, ``baby_cry``, ``car_horn``,
    ``music``); each is mono and normalised to -20 dBFS RMS."""
    return {p.stem: p for p in sorted(BACKGROUNDS_DIR.glob("*")) if p.suffix.lower() in AUDIO_EXTENSIONS}


def folder_backgrounds(folder: str | os.PathLike) -> list[str]:
    """Audio files under ``folder`` (recursive) as absolute path strings, sorted."""
    root = Path(folder).resolve()
    files = [str(root / p) for p in find_audio(root)]
    if not files:
        raise ValueError(f"{folder}: no audio files for backgrounds")
    return files


def resolve_bed(bed: str) -> Path:
    """A bundled bed name or a path to an audio file."""
    beds = bundled_backgrounds()
    if bed in beds:
        return beds[bed]
    p = Path(bed)
    if p.is_file():
        return p
    raise ValueError(f"background {bed!r} is neither a bundled bed ({', '.join(beds)}) nor an existing file")


@functools.lru_cache(maxsize=32)
def _load(path: str, sr: int) -> np.ndarray:
    wav, _ = load(path, sr=sr, mono=True)
    return wav[0].numpy().astype(np.float32)


def load_bed(bed: str, sr: int) -> np.ndarray:
    """The bed as mono ``(T,)`` float32 at ``sr`` (cached per process)."""
    return _load(str(resolve_bed(bed)), int(sr))
