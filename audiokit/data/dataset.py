"""Audio datasets for training: fixed-length random segments, resampling, simulation and feature hooks.

One item of :class:`AudioDataset` is a dict::

    {"audio": (T,) float32, "length": int, "path": str, "index": int, **simulated, **features}

``length`` is the number of real samples (the rest, if any, is zero padding). Randomness (the crop
offset and anything a hook draws) comes from an ``np.random.Generator`` seeded by
``(seed, epoch, index)``: an item is a pure function of its index and epoch, whatever the number of
workers or processes and across a resumed run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from audiokit.data.files import FileSource, holdout_split
from audiokit.io import load, resample

__all__ = [
    "AudioDataset",
    "AudioDataConfig",
    "MelTransform",
    "Simulation",
    "Transform",
    "collate_padded",
    "check_audio_files",
]

logger = logging.getLogger(__name__)

#: ``simulate(audio, sample_rate, source, source_rate, rng) -> dict``: derive inputs from a whole
#: utterance before cropping. ``audio`` is the target ``(T,)`` at the dataset rate, ``source`` the file's
#: own samples ``(T0,)`` at ``source_rate`` (AP-BWE makes its narrowband input from the source).
#: 1-D tensors returned are aligned signals: trimmed or zero-padded to ``T`` and cropped with the
#: same offset as ``audio``; any other value (numbers, 0-d tensors) is passed through.
Simulation = Callable[..., Mapping[str, Any]]
#: ``transform(item, rng) -> item``: per-segment processing after cropping (e.g. features).
Transform = Callable[[dict, np.random.Generator], dict]


def check_audio_files(files: Sequence[str | os.PathLike]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Split ``files`` into readable ones and ``(path, reason)`` for the missing/unreadable/empty.

    Only headers are read (fast); corrupt sample data is caught later, when an item is loaded.
    """
    good, bad = [], []
    for f in files:
        p = Path(f)
        try:
            info = sf.info(str(p))
        except Exception as e:
            reason = "missing" if not p.exists() else f"unreadable ({str(e).strip().splitlines()[-1][:80]})"
            bad.append((p, reason))
            continue
        if info.frames <= 0:
            bad.append((p, "zero length"))
        else:
            good.append(p)
    return good, bad


class AudioDataset(Dataset):
    """Audio files as (optionally fixed-length) training items.

    Args:
        files: audio paths (see :class:`~audiokit.data.FileSource`).
        sample_rate: every file is resampled to this rate (``resampler``, default soxr VHQ).
        segment_length: samples per item. Longer files give a random crop (``random_crop``) or their
            start; shorter ones are zero-padded at the end, as the official APNet/AP-BWE/HiFi-GAN code.
            ``None`` returns whole files (validation; use batch size 1 or :func:`collate_padded`).
        random_crop: random offset (training) or offset 0.
        mono: average the channels into ``(T,)``; ``False`` keeps ``(C, T)``.
        simulate: see :data:`Simulation` (e.g. AP-BWE's narrowband input).
        transform: see :data:`Transform` (e.g. :class:`MelTransform`).
        seed: base seed of the per-item RNG.
        check_files: read every header at construction; missing, unreadable or empty files are
            reported once (one warning) and dropped.
        resampler: ``(wav, orig_sr, target_sr) -> wav`` replacing :func:`audiokit.io.resample`.

    Raises:
        ValueError: no readable file at all.
    """

    def __init__(
        self,
        files: Sequence[str | os.PathLike],
        sample_rate: int,
        segment_length: int | None = None,
        *,
        random_crop: bool = True,
        mono: bool = True,
        simulate: Simulation | None = None,
        transform: Transform | None = None,
        seed: int = 1234,
        check_files: bool = True,
        resampler: Callable[[torch.Tensor, int, int], torch.Tensor] | None = None,
    ):
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        if segment_length is not None and segment_length < 1:
            raise ValueError(f"segment_length must be >= 1 or None, got {segment_length}")
        paths = [Path(f) for f in files]
        if check_files:
            paths, bad = check_audio_files(paths)
            if bad:
                shown = "; ".join(f"{p} ({why})" for p, why in bad[:5])
                more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
                logger.warning("skipping %d of %d audio files: %s%s", len(bad), len(files), shown, more)
        if not paths:
            raise ValueError(f"no readable audio files ({len(files)} listed)")
        self.files = paths
        self.sample_rate = int(sample_rate)
        self.segment_length = segment_length
        self.random_crop = random_crop
        self.mono = mono
        self.simulate = simulate
        self.transform = transform
        self.seed = int(seed)
        self.resampler = resampler or resample
        self.epoch = 0
        self._reported: set[int] = set()

    def __len__(self) -> int:
        return len(self.files)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random crops :meth:`__getitem__` draws (the Trainer calls this)."""
        self.epoch = int(epoch)

    def rng(self, index: int) -> np.random.Generator:
        """The RNG of item ``index`` in the current epoch."""
        return np.random.default_rng([self.seed, self.epoch, int(index)])

    def load(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        """``(audio at sample_rate, source samples, source rate)`` of file ``index``, uncropped."""
        path = self.files[index]
        wav, sr = load(path)
        if self.mono:
            wav = wav.mean(dim=0)
        target = wav if sr == self.sample_rate else self.resampler(wav, sr, self.sample_rate)
        return target.to(torch.float32), wav, sr

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self.files)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} files")
        index = index % n
        for attempt in range(min(n, 20)):
            i = (index + attempt) % n
            try:
                return self._item(i)
            except (ValueError, FileNotFoundError, RuntimeError) as e:
                if i not in self._reported:
                    self._reported.add(i)
                    logger.warning("skipping unreadable audio %s: %s", self.files[i], e)
        raise ValueError(
            f"{min(n, 20)} consecutive audio files failed to load, starting at {self.files[index]}"
        )

    def _item(self, index: int) -> dict[str, Any]:
        rng = self.rng(index)
        audio, source, source_rate = self.load(index)
        total = audio.shape[-1]
        extras: dict[str, Any] = {}
        if self.simulate is not None:
            sim = self.simulate(
                audio=audio, sample_rate=self.sample_rate, source=source, source_rate=source_rate, rng=rng
            )
            for k, v in sim.items():
                if isinstance(v, torch.Tensor) and v.dim() >= 1 and k != "length":
                    v = v[..., :total]
                    if v.shape[-1] < total:
                        v = F.pad(v, (0, total - v.shape[-1]))
                extras[k] = v
        start, length = 0, total
        seg = self.segment_length
        if seg is not None:
            if total >= seg:
                start = int(rng.integers(0, total - seg + 1)) if self.random_crop else 0
                length = seg
            audio = _crop(audio, start, seg)
            extras = {
                k: _crop(v, start, seg) if isinstance(v, torch.Tensor) and v.dim() >= 1 else v
                for k, v in extras.items()
            }
        item = {"audio": audio, "length": length, "path": str(self.files[index]), "index": index, **extras}
        if self.transform is not None:
            item = self.transform(item, rng)
        return item


def _crop(x: torch.Tensor, start: int, seg: int) -> torch.Tensor:
    x = x[..., start : start + seg]
    if x.shape[-1] < seg:
        x = F.pad(x, (0, seg - x.shape[-1]))
    return x


class MelTransform:
    """Adds a log-mel of ``item[source]`` as ``item[key]`` ``(n_mels, N)`` through
    :class:`audiokit.frontend.MelSpectrogram` (constructed from ``mel_kwargs`` or given)."""

    def __init__(
        self, mel: torch.nn.Module | None = None, source: str = "audio", key: str = "mel", **mel_kwargs
    ):
        if mel is None:
            from audiokit.frontend import MelSpectrogram

            mel = MelSpectrogram(**mel_kwargs)
        self.mel = mel
        self.source = source
        self.key = key

    def __call__(self, item: dict, rng: np.random.Generator | None = None) -> dict:
        with torch.no_grad():
            item[self.key] = self.mel(item[self.source].reshape(1, -1))[0]
        return item


def collate_padded(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Collate items of different lengths: tensors are zero-padded at the end of their last dim to the
    longest, numbers become tensors, strings lists. ``length`` keeps each item's real length."""
    out: dict[str, Any] = {}
    for key in items[0]:
        values = [it[key] for it in items]
        if isinstance(values[0], torch.Tensor):
            if values[0].dim() == 0:
                out[key] = torch.stack(values)
                continue
            longest = max(v.shape[-1] for v in values)
            out[key] = torch.stack([F.pad(v, (0, longest - v.shape[-1])) for v in values])
        elif isinstance(values[0], bool | int | float):
            out[key] = torch.tensor(values)
        else:
            out[key] = values
    return out


@dataclass
class AudioDataConfig:
    """Config section for an audio dataset pair (training segments, whole-utterance validation).

    Attributes:
        train: training files.
        val: validation files; ``None`` holds out ``val_holdout`` training files instead (or no
            validation when that is 0).
        val_holdout: number of training files held out for validation when ``val`` is not given.
        sample_rate: rate every file is resampled to.
        segment_length: training segment in samples (``None``: whole files).
        val_segment_length: validation crop (``None``: whole utterances, the official behaviour).
        mono: average channels.
        check_files: header check at start-up (unreadable files reported once and dropped).
    """

    train: FileSource = field(default_factory=FileSource)
    val: FileSource | None = None
    val_holdout: int = 0
    sample_rate: int = 22050
    segment_length: int | None = 8192
    val_segment_length: int | None = None
    mono: bool = True
    check_files: bool = True

    def files(self, seed: int = 1234) -> tuple[list[Path], list[Path]]:
        """``(train_files, val_files)``."""
        train = self.train.resolve()
        if self.val is not None:
            return train, self.val.resolve()
        return holdout_split(train, self.val_holdout, seed)

    def datasets(
        self,
        seed: int = 1234,
        simulate: Simulation | None = None,
        transform: Transform | None = None,
        val_transform: Transform | None = None,
        resampler: Callable[[torch.Tensor, int, int], torch.Tensor] | None = None,
    ) -> tuple[AudioDataset, AudioDataset | None]:
        """``(train_dataset, val_dataset or None)``; ``val_transform`` defaults to ``transform``."""
        train_files, val_files = self.files(seed)
        common = {"sample_rate": self.sample_rate, "mono": self.mono, "simulate": simulate, "seed": seed}
        common.update(check_files=self.check_files, resampler=resampler)
        train = AudioDataset(train_files, segment_length=self.segment_length, transform=transform, **common)
        val = None
        if val_files:
            val = AudioDataset(
                val_files,
                segment_length=self.val_segment_length,
                random_crop=False,
                transform=val_transform if val_transform is not None else transform,
                **common,
            )
        return train, val
