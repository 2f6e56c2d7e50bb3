"""Data bundled with audiokit (see ``assets/speech/README.md`` for provenance)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ASSETS_DIR", "speech_files", "speech_path"]

ASSETS_DIR = Path(__file__).resolve().parent


def speech_files(sample_rate: int | None = None) -> list[Path]:
    """Bundled speech clips, optionally only those at ``sample_rate`` (16000 or 48000)."""
    files = sorted((ASSETS_DIR / "speech").glob("*.wav"))
    if sample_rate is not None:
        files = [f for f in files if f.stem.endswith(f"_{sample_rate // 1000}k")]
    return files


def speech_path(name: str) -> Path:
    """Path of a bundled clip by file name (e.g. ``"slt_16k.wav"``)."""
    p = ASSETS_DIR / "speech" / name
    if not p.exists():
        raise FileNotFoundError(f"no bundled clip {name!r}; available: {[f.name for f in speech_files()]}")
    return p
