"""Training data for the masker/gain predictor, in the feature domain.

Every item is a (soundscape, masker, gain, label) tuple. Soundscape and masker features are computed
once per file (and optionally cached on disk); the model mixes them in the feature domain, so a
dataset of 25,000 ARAUS responses needs 396 soundscape and 407 masker feature maps, not 25,000
waveform mixes and STFTs.

* :func:`araus_pairs`: items of an ARAUS split (labels, ARAUS gains ``gain_s`` and ``gain_m``).
* :func:`make_synthetic_pairs`: a split of the synthetic generator with oracle labels, for the tiny
  recipe and the end-to-end tests.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from audiokit.io import atomic_write, load
from audiokit.io import info as audio_info
from audiokit.soundscape.araus import ARAUS, Stimulus
from audiokit.soundscape.features import ARAUS_SAMPLE_RATE, clip_top_db, features
from audiokit.soundscape.mix import fit_length
from audiokit.soundscape.synthetic import (
    SoundInfo,
    level_db,
    noise_std,
    oracle_pleasantness,
    synth_masker,
    synth_soundscape,
)

__all__ = [
    "FeatureCache",
    "PairDataset",
    "SyntheticSplit",
    "araus_pairs",
    "make_synthetic_pairs",
    "band_statistics",
]

log = logging.getLogger(__name__)


class FeatureCache:
    """ARAUS features of audio files, computed once; kept in memory and, with ``cache_dir``, on disk
    (safetensors keyed by path, size and modification time)."""

    def __init__(self, cache_dir: str | os.PathLike | None = None):
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._memory: dict[str, torch.Tensor] = {}

    def _key(self, path: Path, mono: bool, n_samples: int | None) -> str:
        st = path.stat()
        raw = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{mono}|{n_samples}"
        return hashlib.sha1(raw.encode()).hexdigest()[:20]

    def get(self, path: str | os.PathLike, mono: bool = False, n_samples: int | None = None) -> torch.Tensor:
        """``(C, 64, N)`` unclipped dB features of a file (``mono``: channels averaged; ``n_samples``:
        looped/cropped to that many samples at 44.1 kHz first)."""
        from safetensors.torch import load_file, save_file

        path = Path(path)
        key = self._key(path, mono, n_samples)
        if key in self._memory:
            return self._memory[key]
        disk = self.cache_dir / f"{key}.safetensors" if self.cache_dir is not None else None
        if disk is not None and disk.is_file():
            feats = load_file(str(disk))["features_db"]
        else:
            wav, _ = load(path, sr=ARAUS_SAMPLE_RATE, mono=mono)
            if n_samples is not None:
                wav = fit_length(wav, n_samples)
            feats = features(wav, ARAUS_SAMPLE_RATE, name=str(path))
            if disk is not None:
                disk.parent.mkdir(parents=True, exist_ok=True)
                with atomic_write(disk) as tmp:
                    save_file({"features_db": feats.contiguous()}, str(tmp))
        self._memory[key] = feats
        return feats


@dataclass
class PairDataset(Dataset):
    """Items ``{"soundscape_db", "masker_db", "gain_db", "label"}`` over shared feature banks.

    Attributes:
        soundscapes: ``(S, C, 64, N)`` soundscape features (dB, unclipped).
        maskers: ``(M, 1, 64, N)`` masker features.
        soundscape_index, masker_index: ``(P,)`` long.
        soundscape_gain_db, gain_db: ``(P,)`` gains applied to the soundscape / the masker.
        label: ``(P,)`` ISO pleasantness.
        names: optional ``(soundscape names, masker names)``.
    """

    soundscapes: torch.Tensor
    maskers: torch.Tensor
    soundscape_index: torch.Tensor
    masker_index: torch.Tensor
    soundscape_gain_db: torch.Tensor
    gain_db: torch.Tensor
    label: torch.Tensor
    names: tuple[list[str], list[str]] = field(default_factory=lambda: ([], []))

    def __post_init__(self) -> None:
        n = self.label.shape[0]
        for name in ("soundscape_index", "masker_index", "soundscape_gain_db", "gain_db"):
            if getattr(self, name).shape[0] != n:
                raise ValueError(f"{name} has {getattr(self, name).shape[0]} entries for {n} labels")
        if self.soundscapes.shape[-1] != self.maskers.shape[-1]:
            raise ValueError(
                f"soundscape features have {self.soundscapes.shape[-1]} frames, maskers "
                f"{self.maskers.shape[-1]}; fit maskers to the soundscapes' length"
            )

    def __len__(self) -> int:
        return int(self.label.shape[0])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        s = self.soundscapes[self.soundscape_index[i]] + self.soundscape_gain_db[i]
        return {
            "soundscape_db": s,
            "masker_db": self.maskers[self.masker_index[i]],
            "gain_db": self.gain_db[i],
            "label": self.label[i],
        }

    def label_mean_mse(self, mean: float | None = None) -> float:
        """MSE of predicting a constant (this set's label mean, or ``mean``): the ARAUS floor."""
        mu = float(self.label.mean()) if mean is None else mean
        return float(((self.label - mu) ** 2).mean())


def band_statistics(dataset: PairDataset, top_db: float | None = 80.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-mel-band mean and std (dB) of the training soundscapes at their playback gains, for the
    model's input normalisation."""
    idx = torch.unique(dataset.soundscape_index)
    gains = torch.stack([dataset.soundscape_gain_db[dataset.soundscape_index == i][0] for i in idx])
    x = dataset.soundscapes[idx] + gains[:, None, None, None]
    if top_db is not None:
        x = clip_top_db(x, top_db)
    x = x.transpose(0, 2).reshape(x.shape[2], -1)  # (F, S * C * N)
    return x.mean(dim=1), x.std(dim=1)


def araus_pairs(
    dataset: ARAUS, items: Sequence[Stimulus], cache: FeatureCache | None = None, n_samples: int | None = None
) -> PairDataset:
    """Feature-domain items of an ARAUS split: soundscape features at ``20 log10(gain_s)``, masker
    features and ``20 log10(gain_m)`` of the ARAUS mixing rule, ISO pleasantness labels.

    ``n_samples`` (default: the first soundscape's length) fixes every clip's length (ARAUS clips are
    all 30 s; maskers are looped/cropped to it).
    """
    if not items:
        raise ValueError("no items to build a dataset from")
    cache = cache or FeatureCache()
    s_names = sorted({x.soundscape for x in items})
    m_names = sorted({x.masker for x in items})
    if n_samples is None:
        first = audio_info(dataset.soundscape_path(s_names[0]))
        n_samples = round(first.frames * ARAUS_SAMPLE_RATE / first.sample_rate)
    s_feats = [cache.get(dataset.soundscape_path(n), n_samples=n_samples) for n in s_names]
    m_feats = [cache.get(dataset.masker_path(n), mono=True, n_samples=n_samples) for n in m_names]
    s_pos = {n: i for i, n in enumerate(s_names)}
    m_pos = {n: i for i, n in enumerate(m_names)}
    sg = [20.0 * math.log10(dataset.soundscape_gain(x.soundscape)) for x in items]
    mg = []
    for x in items:
        g = dataset.masker_gain(x.masker, x.soundscape, x.smr)
        mg.append(20.0 * math.log10(g) if g > 0 else -math.inf)
    return PairDataset(
        soundscapes=torch.stack(s_feats),
        maskers=torch.stack(m_feats),
        soundscape_index=torch.tensor([s_pos[x.soundscape] for x in items]),
        masker_index=torch.tensor([m_pos[x.masker] for x in items]),
        soundscape_gain_db=torch.tensor(sg, dtype=torch.float32),
        gain_db=torch.tensor(mg, dtype=torch.float32),
        label=torch.tensor([x.pleasantness for x in items], dtype=torch.float32),
        names=(s_names, m_names),
    )


@dataclass
class SyntheticSplit:
    """A synthetic split: the :class:`PairDataset` plus what the generator knows (for oracle checks)."""

    pairs: PairDataset
    soundscape_info: list[SoundInfo]
    masker_info: list[SoundInfo]
    oracle: torch.Tensor  # (P,) noise-free pleasantness of each item
    noise_std: torch.Tensor  # (P,) standard deviation of its label noise

    _TENSORS = (
        "soundscapes",
        "maskers",
        "soundscape_index",
        "masker_index",
        "soundscape_gain_db",
        "gain_db",
        "label",
    )

    def save(self, path: str | os.PathLike, key: dict | None = None) -> Path:
        """Write the split as one safetensors file (tensors; generator info and ``key`` as JSON metadata)."""
        import json

        from safetensors.torch import save_file

        tensors = {k: getattr(self.pairs, k).contiguous() for k in self._TENSORS}
        tensors.update(oracle=self.oracle.contiguous(), noise_std=self.noise_std.contiguous())
        meta = {
            "soundscape_info": json.dumps([i.to_dict() for i in self.soundscape_info]),
            "masker_info": json.dumps([i.to_dict() for i in self.masker_info]),
            "names": json.dumps(self.pairs.names),
            "key": json.dumps(key or {}, sort_keys=True),
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as tmp:
            save_file(tensors, str(tmp), metadata=meta)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> tuple[SyntheticSplit, dict]:
        """Read a split written by :meth:`save`; returns ``(split, key)``."""
        import json

        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
            t = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
        names = json.loads(meta["names"])
        pairs = PairDataset(**{k: t[k] for k in cls._TENSORS}, names=(names[0], names[1]))
        infos = [[SoundInfo(**d) for d in json.loads(meta[k])] for k in ("soundscape_info", "masker_info")]
        return cls(pairs, infos[0], infos[1], t["oracle"], t["noise_std"]), json.loads(meta.get("key", "{}"))


_SPLIT_SALT = {"train": 0, "val": 1, "test": 2}
_MASKER_KINDS = ("bird", "water", "wind", "traffic", "construction", "silence")


def make_synthetic_pairs(
    split: str,
    n_soundscapes: int,
    n_maskers: int,
    pairs_per_soundscape: int,
    seconds: float = 8.0,
    seed: int = 0,
    smr_range: tuple[float, float] = (-12.0, 12.0),
    label_noise: bool = True,
) -> SyntheticSplit:
    """Synthetic soundscapes and maskers (disjoint between ``split`` names for one ``seed``) and
    random (soundscape, masker, gain) items labelled by the oracle plus heteroscedastic noise.

    Gains are drawn so that the (RMS) soundscape-to-masker ratio is uniform in ``smr_range``;
    maskers cycle through bird, water, wind, traffic, construction and silence.
    """
    if split not in _SPLIT_SALT:
        raise ValueError(f"split must be one of {sorted(_SPLIT_SALT)}, got {split!r}")
    rng = np.random.default_rng([seed, _SPLIT_SALT[split]])
    sr = ARAUS_SAMPLE_RATE
    s_feats, s_info, m_feats, m_info = [], [], [], []
    for _ in range(n_soundscapes):
        x, info = synth_soundscape(seconds, sr, rng)
        s_feats.append(features(x, sr))
        s_info.append(info)
    for i in range(n_maskers):
        kind = _MASKER_KINDS[i % len(_MASKER_KINDS)]
        x, info = synth_masker(kind, seconds, sr, rng, level=float(rng.uniform(-40, -20)))
        info.level_db = level_db(x)
        m_feats.append(features(x, sr))
        m_info.append(info)
    p = n_soundscapes * pairs_per_soundscape
    si = np.repeat(np.arange(n_soundscapes), pairs_per_soundscape)
    mi = rng.integers(0, n_maskers, p)
    smr = rng.uniform(*smr_range, p)
    gain = np.empty(p)
    oracle = np.empty(p)
    sd = np.empty(p)
    for k in range(p):
        s, m = s_info[si[k]], m_info[mi[k]]
        gain[k] = (s.level_db - m.level_db - smr[k]) if m.kind != "silence" else 0.0
        oracle[k] = float(oracle_pleasantness(s, m, gain[k]))
        sd[k] = float(noise_std(m, smr[k] if m.kind != "silence" else 0.0))
    label = oracle + (rng.standard_normal(p) * sd if label_noise else 0.0)
    pairs = PairDataset(
        soundscapes=torch.stack(s_feats),
        maskers=torch.stack(m_feats),
        soundscape_index=torch.from_numpy(si),
        masker_index=torch.from_numpy(mi),
        soundscape_gain_db=torch.zeros(p),
        gain_db=torch.tensor(gain, dtype=torch.float32),
        label=torch.tensor(np.clip(label, -1, 1), dtype=torch.float32),
        names=(
            [f"{split}_scene_{i:03d}" for i in range(n_soundscapes)],
            [f"{split}_{m.kind}_{i:03d}" for i, m in enumerate(m_info)],
        ),
    )
    return SyntheticSplit(
        pairs,
        s_info,
        m_info,
        torch.tensor(oracle, dtype=torch.float32),
        torch.tensor(sd, dtype=torch.float32),
    )
