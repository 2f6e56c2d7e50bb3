"""Training examples for DDSP: fixed-length windows of audio with frame-aligned f0.

:class:`DDSPExamples` cuts every recording of a folder into ``example_seconds`` windows every
``hop_seconds`` (magenta's ``ddsp_prepare_tfrecord``: 4 s examples with a 1 s hop at 16 kHz and
250 Hz frames). f0 comes from, in order of preference, a sibling ``<name>.npz`` with ``f0_hz`` (and
optionally ``f0_confidence``), as :func:`audiokit.ddsp.synthetic.write_dataset` writes, or the f0
extractor (pYIN by default), cached as ``.npz`` files under ``cache_dir`` so it runs once per file.
Loudness is not stored: the training task computes it from the audio (magenta's
``F0LoudnessPreprocessor(compute_loudness=True)``), so it always matches the model's definition.
Unreadable files are reported once and skipped.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import torch

from audiokit.batch import find_audio
from audiokit.ddsp.features import F0Extractor, fill_unvoiced, get_f0_extractor
from audiokit.io import atomic_write, load

__all__ = ["DDSPExamples", "file_f0"]

log = logging.getLogger(__name__)


def _cache_key(path: Path, sample_rate: int, hop: int, extra: str) -> str:
    st = path.stat()
    raw = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{sample_rate}|{hop}|{extra}"
    return hashlib.sha1(raw.encode()).hexdigest()[:20]


def file_f0(
    path: Path,
    audio: np.ndarray,
    sample_rate: int,
    hop: int,
    cache_dir: Path | None,
    extractor: str | F0Extractor = "pyin",
    f0_min: float = 50.0,
    f0_max: float = 2000.0,
) -> tuple[np.ndarray, np.ndarray]:
    """f0 (Hz, unvoiced frames filled) and confidence, ``len(audio) // hop`` frames, for one file."""
    n_frames = audio.size // hop
    side = path.with_suffix(".npz")
    if side.is_file():
        with np.load(side) as z:
            if "f0_hz" in z:
                f0 = np.asarray(z["f0_hz"], dtype=np.float64)[:n_frames]
                conf = (
                    np.asarray(z["f0_confidence"], dtype=np.float64)[:n_frames]
                    if "f0_confidence" in z
                    else np.ones_like(f0)
                )
                if f0.size < n_frames:
                    raise ValueError(f"{side}: {f0.size} f0 frames for {n_frames} audio frames")
                return f0, conf
    name = extractor if isinstance(extractor, str) else getattr(extractor, "__name__", "custom")
    cached = None
    if cache_dir is not None:
        cached = cache_dir / f"{_cache_key(path, sample_rate, hop, f'{name}|{f0_min}|{f0_max}')}.npz"
        if cached.is_file():
            with np.load(cached) as z:
                return z["f0_hz"], z["f0_confidence"]
    kwargs = {"fmin": f0_min, "fmax": f0_max} if extractor == "pyin" else {}
    f0, conf = get_f0_extractor(extractor, **kwargs)(audio.astype(np.float64), sample_rate, hop)
    f0 = np.asarray(f0, dtype=np.float64)[:n_frames]
    conf = np.asarray(conf, dtype=np.float64)[:n_frames]
    f0 = fill_unvoiced(f0, conf > 0.5)
    if not (f0 > 0).any():
        f0 = np.full(n_frames, 440.0)  # no pitch anywhere: a neutral value; confidence stays 0
    if cached is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(cached) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, f0_hz=f0, f0_confidence=conf)
    return f0, conf


def _resolve_extractor(extractor: str | F0Extractor) -> str | F0Extractor:
    """``"pyin"``, a callable, or ``"package.module:function"`` imported here."""
    if callable(extractor) or extractor == "pyin":
        return extractor
    import importlib

    mod, _, name = str(extractor).partition(":")
    try:
        fn = getattr(importlib.import_module(mod), name)
    except (ImportError, AttributeError, ValueError) as e:
        raise ValueError(
            f"f0 extractor {extractor!r}: cannot import ({e}); use 'pyin' or 'package.module:function'"
        ) from None
    if not callable(fn):
        raise ValueError(f"f0 extractor {extractor!r} is not callable")
    return fn


class DDSPExamples(torch.utils.data.Dataset):
    """``{"audio": (T,), "f0_hz": (F,), "f0_confidence": (F,)}`` windows of a folder of mono audio.

    Args:
        root: folder searched recursively for audio files (or pass ``files``).
        sample_rate, frame_rate: the model's rates (audio is resampled on load).
        example_seconds, hop_seconds: window length and step; a file shorter than one window gives
            one window padded with silence (if it is at least ``min_seconds`` long).
        cache_dir: where extracted f0 is cached (default ``<root>/.ddsp_cache``).
        f0_extractor, f0_min, f0_max: the pitch tracker for files without ``.npz`` ground truth; a
            callable, ``"pyin"`` or an import path ``"package.module:function"``.
        split: ``"all"``, ``"train"`` or ``"val"``. Every file is cut into ``chunk_seconds`` chunks
            (the last one may be shorter) and every ``val_every``-th chunk (counting over the whole
            folder) is held out for validation, as magenta's train/eval split of 20 s chunks; windows
            never cross a chunk boundary.
        normalize_peak_db: scale every file to this peak level (e.g. -1 dBFS); quiet recordings make
            the magnitude term of the spectral loss vanish next to its log term.
    """

    def __init__(
        self,
        root: str | Path | None = None,
        sample_rate: int = 16000,
        frame_rate: int = 250,
        example_seconds: float = 4.0,
        hop_seconds: float = 1.0,
        cache_dir: str | Path | None = None,
        f0_extractor: str | F0Extractor = "pyin",
        f0_min: float = 50.0,
        f0_max: float = 2000.0,
        files: list[str | Path] | None = None,
        min_seconds: float = 0.5,
        split: str = "all",
        val_every: int = 20,
        chunk_seconds: float = 20.0,
        normalize_peak_db: float | None = None,
    ):
        if split not in ("all", "train", "val"):
            raise ValueError(f"split must be 'all', 'train' or 'val', got {split!r}")
        f0_extractor = _resolve_extractor(f0_extractor)
        if files is None:
            if root is None:
                raise ValueError("DDSPExamples needs a root folder or a list of files")
            root = Path(root)
            files = [root / r for r in find_audio(root)]
        self.hop = sample_rate // frame_rate
        self.frames_per_example = int(round(example_seconds * frame_rate))
        self.samples_per_example = self.frames_per_example * self.hop
        hop_frames = max(1, int(round(hop_seconds * frame_rate)))
        chunk_frames = max(self.frames_per_example, int(round(chunk_seconds * frame_rate)))
        chunk_index = 0
        cache = (
            Path(cache_dir)
            if cache_dir is not None
            else (Path(root) / ".ddsp_cache" if root is not None else None)
        )
        self.audio: list[np.ndarray] = []
        self.f0: list[np.ndarray] = []
        self.conf: list[np.ndarray] = []
        self.index: list[tuple[int, int]] = []
        self.skipped: list[tuple[str, str]] = []
        for path in map(Path, files):
            try:
                wav, _ = load(path, sr=sample_rate, mono=True)
                x = wav[0].numpy()
                peak = float(np.abs(x).max()) if x.size else 0.0
                if normalize_peak_db is not None and peak > 0:
                    x = x * (10.0 ** (normalize_peak_db / 20.0) / peak)
                if x.size < min_seconds * sample_rate:
                    raise ValueError(f"shorter than {min_seconds} s")
                f0, conf = file_f0(path, x, sample_rate, self.hop, cache, f0_extractor, f0_min, f0_max)
            except (ValueError, OSError) as e:
                log.warning("skipping %s: %s", path, e)
                self.skipped.append((str(path), str(e)))
                continue
            n_frames = min(f0.size, x.size // self.hop)
            fi = len(self.audio)
            self.audio.append(x[: n_frames * self.hop].astype(np.float32))
            self.f0.append(f0[:n_frames].astype(np.float32))
            self.conf.append(conf[:n_frames].astype(np.float32))
            for c0 in range(0, n_frames, chunk_frames):
                held_out = chunk_index % val_every == val_every - 1
                chunk_index += 1
                if (split == "train" and held_out) or (split == "val" and not held_out):
                    continue
                c1 = min(n_frames, c0 + chunk_frames)
                if c1 - c0 < self.frames_per_example and c0 > 0:
                    continue  # a short tail chunk (the file's first chunk is kept, padded)
                last = max(c0, c1 - self.frames_per_example)
                self.index.extend((fi, s) for s in range(c0, last + 1, hop_frames))
        if not self.index:
            raise ValueError(
                f"no usable audio in {root if root is not None else 'the file list'} "
                f"({len(self.skipped)} skipped)"
            )

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        fi, s = self.index[i]
        nf, ns = self.frames_per_example, self.samples_per_example
        audio = self.audio[fi][s * self.hop : s * self.hop + ns]
        f0, conf = self.f0[fi][s : s + nf], self.conf[fi][s : s + nf]
        if f0.size < nf:  # short file: pad with silence, hold the pitch
            audio = np.pad(audio, (0, ns - audio.size))
            conf = np.pad(conf, (0, nf - conf.size))
            f0 = np.pad(f0, (0, nf - f0.size), mode="edge")
        return {
            "audio": torch.from_numpy(np.ascontiguousarray(audio)),
            "f0_hz": torch.from_numpy(np.ascontiguousarray(f0)),
            "f0_confidence": torch.from_numpy(np.ascontiguousarray(conf)),
        }

    def statistics(self) -> dict[str, float]:
        """Mean f0 (MIDI) over confident frames, for the model config's timbre-transfer defaults."""
        f0 = np.concatenate(self.f0)
        conf = np.concatenate(self.conf)
        sel = (conf > 0.5) & (f0 > 0)
        midi = 12 * np.log2(f0[sel] / 440.0) + 69 if sel.any() else np.array([np.nan])
        return {"f0_mean_midi": float(np.mean(midi))}
