"""Data bundled with audiokit (see ``assets/speech/README.md`` for provenance)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "ASSETS_DIR",
    "PRETRAINED_DIR",
    "speech_files",
    "real_speech_files",
    "speech_path",
    "resolve_pretrained",
]

ASSETS_DIR = Path(__file__).resolve().parent
#: The repository's bundled models (``pretrained/<name>``; present in a source checkout).
PRETRAINED_DIR = ASSETS_DIR.parents[1] / "pretrained"


def speech_files(sample_rate: int | None = None) -> list[Path]:
    """Bundled speech clips, optionally only those at ``sample_rate`` (16000 or 48000)."""
    files = sorted((ASSETS_DIR / "speech").glob("*.wav"))
    if sample_rate is not None:
        files = [f for f in files if f.stem.endswith(f"_{sample_rate // 1000}k")]
    return files


def real_speech_files() -> list[Path]:
    """Bundled clips of recorded human speech (16 kHz, GPL-2.0; see ``assets/speech/real/README.md``)."""
    return sorted((ASSETS_DIR / "speech" / "real").glob("*_16k.wav"))


def speech_path(name: str) -> Path:
    """Path of a bundled clip by file name (e.g. ``"slt_16k.wav"``)."""
    p = ASSETS_DIR / "speech" / name
    if not p.exists():
        raise FileNotFoundError(f"no bundled clip {name!r}; available: {[f.name for f in speech_files()]}")
    return p


def resolve_pretrained(name_or_path: str | os.PathLike) -> Path:
    """A model folder: an existing path, else ``$AUDIOKIT_PRETRAINED/<name>``, else the repository's
    ``pretrained/<name>`` (e.g. ``"ddsp_tiny"``)."""
    p = Path(name_or_path)
    if p.is_dir():
        return p
    candidates = []
    env = os.environ.get("AUDIOKIT_PRETRAINED")
    if env:
        candidates.append(Path(env) / str(name_or_path))
    candidates.append(PRETRAINED_DIR / str(name_or_path))
    for c in candidates:
        if c.is_dir():
            return c
    raise FileNotFoundError(
        f"{name_or_path}: no such model folder (looked in {', '.join(map(str, [p, *candidates]))})"
    )
