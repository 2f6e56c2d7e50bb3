"""Finding training audio: wav folders, file lists, LJSpeech and VCTK layouts.

Every function returns absolute :class:`~pathlib.Path` objects in a stable (sorted or listed) order;
existence and readability are checked later by :class:`~audiokit.data.AudioDataset`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from audiokit.batch import find_audio
from audiokit.io import AUDIO_EXTENSIONS

__all__ = [
    "VCTK_TEST_SPEAKERS",
    "FileSource",
    "list_audio_files",
    "read_file_list",
    "ljspeech_files",
    "vctk_files",
    "holdout_split",
]

#: The 8 test speakers of the AP-BWE / NU-Wave / NVSR VCTK split (the other 100 train).
VCTK_TEST_SPEAKERS = ("p360", "p361", "p362", "p363", "p364", "p374", "p376", "s5")

_VCTK_NAME = re.compile(r"^(?P<speaker>[ps]\d+)_(?P<utt>\d+)(?:_(?P<mic>mic\d))?$")


def list_audio_files(root: str | os.PathLike, extensions: tuple[str, ...] = AUDIO_EXTENSIONS) -> list[Path]:
    """Every audio file under ``root`` (recursive, sorted)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such directory")
    return [(root / r).absolute() for r in find_audio(root, extensions)]


def _entry_path(line: str, base: Path) -> str:
    """The audio path or id in one list line (``path``, ``id|text|...``, ``id path`` Kaldi scp)."""
    if "|" in line:
        return line.split("|", 1)[0].strip()
    parts = line.split()
    if (
        len(parts) == 2
        and Path(parts[1]).suffix.lower() in AUDIO_EXTENSIONS
        and Path(parts[0]).suffix.lower() not in AUDIO_EXTENSIONS
        and not (base / line).exists()  # a real path that contains a space wins
    ):
        return parts[1]  # Kaldi wav.scp: "utt_id /path/to/file.wav"
    return line


def read_file_list(
    list_path: str | os.PathLike, root: str | os.PathLike | None = None, ext: str = ".wav"
) -> list[Path]:
    """Audio paths listed in a text file, one per line, in list order.

    Accepted lines: a path (``wavs/a.wav``; APNet's ``.scp``), an id or path as the first
    ``|``-separated field (HiFi-GAN/LJSpeech ``LJ001-0001|text|text``, AP-BWE ``p225_001|...``), or a
    Kaldi ``utt_id path`` pair. Entries without an audio extension get ``ext``; relative entries are
    resolved against ``root`` (default: the list file's folder). Blank lines and ``#`` comments are
    skipped.
    """
    list_path = Path(list_path)
    if not list_path.is_file():
        raise FileNotFoundError(f"{list_path}: no such file list")
    base = Path(root) if root is not None else list_path.parent
    out = []
    for raw in list_path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry = _entry_path(line, base)
        if Path(entry).suffix.lower() not in AUDIO_EXTENSIONS:
            entry = entry + ext
        p = Path(entry)
        out.append((p if p.is_absolute() else base / p).absolute())
    if not out:
        raise ValueError(f"{list_path}: the file list is empty")
    return out


def ljspeech_files(root: str | os.PathLike) -> list[Path]:
    """LJSpeech 1.1: ``root/wavs/<id>.wav`` for every id in ``root/metadata.csv`` (13,100 files)."""
    root = Path(root)
    meta = root / "metadata.csv"
    if not meta.is_file():
        raise FileNotFoundError(f"{root}: not an LJSpeech folder (no metadata.csv)")
    return read_file_list(meta, root / "wavs")


def vctk_files(
    root: str | os.PathLike,
    speakers: list[str] | tuple[str, ...] | None = None,
    exclude_speakers: list[str] | tuple[str, ...] | None = None,
    mic: str | None = "mic1",
) -> list[Path]:
    """VCTK utterances under ``root`` (any layout: 0.92 ``wav48_silence_trimmed/p225/p225_001_mic1.flac``,
    0.80 ``wav48/p225/p225_001.wav``, flattened ``wav48/train/p225_001.wav``), sorted.

    Files are recognised by their name ``<speaker>_<utt>[_micN]``. ``mic`` keeps only that microphone
    among files that carry a mic suffix (the papers use ``mic1``); ``None`` keeps both.
    """
    keep = set(speakers) if speakers else None
    drop = set(exclude_speakers or ())
    out = []
    for p in list_audio_files(root):
        m = _VCTK_NAME.match(p.stem)
        if not m:
            continue
        spk = m.group("speaker")
        if (keep is not None and spk not in keep) or spk in drop:
            continue
        if mic is not None and m.group("mic") not in (None, mic):
            continue
        out.append(p)
    if not out:
        raise ValueError(f"{root}: no VCTK utterances found (names like p225_001[_mic1].wav/.flac)")
    return out


def holdout_split(files: list[Path], n_holdout: int, seed: int = 1234) -> tuple[list[Path], list[Path]]:
    """Deterministically hold out ``n_holdout`` files (a seeded shuffle): ``(train, held_out)``."""
    if n_holdout <= 0:
        return list(files), []
    if n_holdout >= len(files):
        raise ValueError(f"cannot hold out {n_holdout} of {len(files)} files")
    order = np.random.default_rng(seed).permutation(len(files))
    held = sorted(int(i) for i in order[:n_holdout])
    held_set = set(held)
    return [f for i, f in enumerate(files) if i not in held_set], [files[i] for i in held]


Layout = Literal["auto", "folder", "list", "ljspeech", "vctk"]


@dataclass
class FileSource:
    """Where a dataset's files come from (a config section, e.g. ``data.train``).

    Attributes:
        path: a folder of audio, a file list (``.txt``/``.scp``/``.csv``...), an LJSpeech root or a VCTK root.
        layout: ``"auto"`` (detect: a file is a list, ``metadata.csv`` + ``wavs/`` is LJSpeech, a folder
            with ``wav48*`` or ``speaker-info.txt`` is VCTK, else a plain folder) or one of
            ``folder``, ``list``, ``ljspeech``, ``vctk``.
        root: base folder for relative list entries (default: the list's folder).
        ext: extension added to list entries given as ids.
        speakers, exclude_speakers, mic: VCTK filters (see :func:`vctk_files`).
        limit: keep only the first ``limit`` files.
    """

    path: str = ""
    layout: Layout = "auto"
    root: str | None = None
    ext: str = ".wav"
    speakers: list[str] | None = None
    exclude_speakers: list[str] | None = None
    mic: str | None = "mic1"
    limit: int | None = None

    def detect_layout(self) -> str:
        p = Path(self.path)
        if self.layout != "auto":
            return self.layout
        if p.is_file():
            return "list"
        if (p / "metadata.csv").is_file() and (p / "wavs").is_dir():
            return "ljspeech"
        if (p / "speaker-info.txt").is_file() or any(
            (p / d).is_dir() for d in ("wav48_silence_trimmed", "wav48")
        ):
            return "vctk"
        return "folder"

    def resolve(self) -> list[Path]:
        """The listed audio files (absolute paths).

        Raises:
            FileNotFoundError / ValueError: missing path, empty list, nothing found (names the path).
        """
        if not self.path:
            raise ValueError(
                "data source: 'path' is empty (set it to a folder, a file list or a dataset root)"
            )
        p = Path(self.path)
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or directory")
        layout = self.detect_layout()
        if layout == "list":
            files = read_file_list(p, self.root, self.ext)
        elif layout == "ljspeech":
            files = ljspeech_files(p)
        elif layout == "vctk":
            files = vctk_files(p, self.speakers, self.exclude_speakers, self.mic)
        else:
            files = list_audio_files(p)
            if not files:
                raise ValueError(f"{p}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) in this folder")
        return files[: self.limit] if self.limit is not None else files
