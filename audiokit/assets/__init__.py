"""Data bundled with audiokit (see ``assets/speech/README.md`` for provenance)."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = [
    "ASSETS_DIR",
    "PRETRAINED_DIR",
    "pretrained_dirs",
    "bundled_models",
    "speech_files",
    "real_speech_files",
    "speech_path",
    "resolve_pretrained",
]

ASSETS_DIR = Path(__file__).resolve().parent
_PACKAGE_DIR = ASSETS_DIR.parent
#: The bundled models: the repository's ``pretrained/`` in a source checkout, else the copy a wheel
#: installs as ``audiokit/pretrained/`` (``setup.py`` maps the top-level folder into the package).
PRETRAINED_DIR = next(
    (d for d in (_PACKAGE_DIR.parent / "pretrained", _PACKAGE_DIR / "pretrained") if d.is_dir()),
    _PACKAGE_DIR.parent / "pretrained",
)
_HUB_ID = re.compile(r"^(?:hf://)?([A-Za-z0-9][\w.-]*/[\w.-]+)(?:@([\w./-]+))?$")


def pretrained_dirs() -> list[Path]:
    """Where model names are looked up, in order: ``$AUDIOKIT_PRETRAINED`` (``os.pathsep``-separated
    folders), then :data:`PRETRAINED_DIR`."""
    env = os.environ.get("AUDIOKIT_PRETRAINED", "")
    return [Path(d) for d in env.split(os.pathsep) if d] + [PRETRAINED_DIR]


def bundled_models() -> dict[str, Path]:
    """Every model folder (a folder with ``config.json``) in :func:`pretrained_dirs`, by name; an
    earlier folder hides a later one of the same name."""
    found: dict[str, Path] = {}
    for root in pretrained_dirs():
        if root.is_dir():
            for d in sorted(root.iterdir()):
                if (d / "config.json").is_file() and d.name not in found:
                    found[d.name] = d
    return found


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
    """A model folder from an existing path, a model name or a Hugging Face Hub id.

    In order: an existing folder; ``<dir>/<name>`` for each of :func:`pretrained_dirs` (a leading
    ``pretrained/`` is dropped, so ``"pretrained/apnet_tiny"`` works outside a checkout too); a Hub id
    ``owner/repo`` (or ``hf://owner/repo``, optionally ``@revision``) through
    ``huggingface_hub.snapshot_download`` (the ``[hub]`` extra; ``HF_HUB_OFFLINE=1`` reads only its
    cache).
    """
    p = Path(name_or_path)
    if p.is_dir():
        return p
    name = str(name_or_path)
    short = name[len("pretrained/") :] if name.startswith("pretrained/") else name
    candidates = [d / short for d in pretrained_dirs()]
    for c in candidates:
        if c.is_dir():
            return c
    hub = None if name.startswith("pretrained/") else _HUB_ID.match(name)
    hint = ""
    if hub:
        try:
            from huggingface_hub import snapshot_download
        except ImportError:
            hint = "; Hugging Face Hub ids need huggingface_hub (pip install 'audiokit[hub]')"
        else:
            try:
                return Path(snapshot_download(hub.group(1), revision=hub.group(2)))
            except Exception as e:  # offline without a cached copy, unknown repo, no network ...
                msg = str(e).splitlines()[0] if str(e) else ""
                hint = f"; the Hugging Face Hub gave no copy of {hub.group(1)} ({type(e).__name__}: {msg})"
    raise FileNotFoundError(
        f"{name_or_path}: no such model folder (looked in {', '.join(map(str, [p, *candidates]))}){hint}"
    )
