"""Ranking masker x gain candidates for a soundscape by predicted pleasantness.

:class:`MaskerBank` holds the features of a set of maskers, computed once (looped or cropped to a
length) and reusable across soundscapes (and savable to disk); :func:`rank_maskers` encodes a
soundscape once, the bank once, evaluates every masker x gain pair in batched passes of the model and
returns a :class:`Ranking`, best first, by the predicted mean or by a risk-aware score
``mean - k * std``, with the probability that pleasantness exceeds a threshold.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from audiokit.batch import find_audio
from audiokit.io import atomic_write, check_audio, load, release_free_memory, resample, resample_blocks
from audiokit.soundscape.features import (
    ARAUS_N_FFT,
    ARAUS_SAMPLE_RATE,
    LevelMeter,
    MelPowerStream,
    features,
    leq_db,
    num_frames,
    power_to_db,
)
from audiokit.soundscape.mix import fit_length
from audiokit.soundscape.model import MaskerGainPredictor

__all__ = [
    "DEFAULT_MODEL",
    "MIN_MASKER_SECONDS",
    "MaskerBank",
    "RankedPair",
    "Ranking",
    "check_masker_length",
    "load_model",
    "rank_maskers",
    "rank_maskers_stream",
]

log = logging.getLogger(__name__)

#: The model used when none is given: the tiny predictor trained on synthetic data.
DEFAULT_MODEL = "masker_tiny"
_BANK_VERSION = "1"


def load_model(model: MaskerGainPredictor | str | os.PathLike | None = None) -> MaskerGainPredictor:
    """A predictor from an instance, a model folder, a bundled name, or ``None`` (:data:`DEFAULT_MODEL`)."""
    if isinstance(model, MaskerGainPredictor):
        return model.eval()
    return MaskerGainPredictor.from_pretrained(model if model is not None else DEFAULT_MODEL)


#: Shortest masker accepted, in seconds: one analysis frame of the features (4096 samples at 44.1 kHz).
#: Shorter ones would be looped into a buzz (a 1-sample masker into a constant) and ranked as if real.
MIN_MASKER_SECONDS = ARAUS_N_FFT / ARAUS_SAMPLE_RATE
#: Samples per block (10 s at 44.1 kHz) when soundscapes and looped maskers are analysed as streams.
STREAM_BLOCK_SAMPLES = 441000


def check_masker_length(n_samples: int, sample_rate: int, name: str) -> None:
    """``ValueError`` naming ``name`` if a masker of ``n_samples`` at ``sample_rate`` is shorter than
    :data:`MIN_MASKER_SECONDS`."""
    if n_samples < MIN_MASKER_SECONDS * sample_rate:
        unit = "sample" if n_samples == 1 else "samples"
        raise ValueError(
            f"{name}: masker too short to loop ({n_samples} {unit} at {sample_rate} Hz; "
            f"at least {MIN_MASKER_SECONDS * 1000:.0f} ms needed)"
        )


def _prepare_masker(
    wav: torch.Tensor | np.ndarray, sr: int, n_samples: int | None, name: str
) -> torch.Tensor:
    """Mono, 44.1 kHz, looped/cropped to ``n_samples`` (``None``: as it is)."""
    x = torch.as_tensor(wav, dtype=torch.float32)
    if x.dim() == 1:
        x = x.unsqueeze(0)
    if x.dim() != 2:
        raise ValueError(f"{name}: expected masker audio (T,) or (C, T), got shape {tuple(x.shape)}")
    check_audio(x, name)
    check_masker_length(x.shape[-1], sr, name)
    x = x.mean(dim=0, keepdim=True)
    if sr != ARAUS_SAMPLE_RATE:
        x = resample(x, sr, ARAUS_SAMPLE_RATE)
    return x if n_samples is None else fit_length(x, n_samples)


def _looped_blocks(
    x: torch.Tensor, n_samples: int, block: int = STREAM_BLOCK_SAMPLES
) -> Iterator[torch.Tensor]:
    """``fit_length(x, n_samples)`` as ``(C, t)`` blocks of ``block`` samples (the last shorter),
    never built whole."""
    t, i = x.shape[-1], 0
    while i < n_samples:
        pieces, j = [], i
        while j < min(n_samples, i + block):
            a = j % t
            take = min(i + block, n_samples) - j
            pieces.append(x[..., a : a + take])
            j += pieces[-1].shape[-1]
        yield pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=-1)
        i = j


def _summary(x: torch.Tensor, n_samples: int, name: str, streamed: bool) -> tuple[torch.Tensor, float]:
    """Unclipped features ``(C, 64, N)`` and A-weighted level of ``x`` looped/cropped to ``n_samples``:
    whole (exact level) or, ``streamed``, block by block (memory of a block; the level from
    :class:`~audiokit.soundscape.features.LevelMeter`)."""
    if not streamed:
        y = fit_length(x, n_samples)
        return features(y, ARAUS_SAMPLE_RATE, name=name), leq_db(y, ARAUS_SAMPLE_RATE, name=name)
    mel, meter = MelPowerStream(name=name), LevelMeter(ARAUS_SAMPLE_RATE, "A", name=name)
    for b in _looped_blocks(x, n_samples):
        mel.push(b)
        meter.push(b)
        release_free_memory()
    return power_to_db(mel.finish()), meter.level_db()


@dataclass
class MaskerBank:
    """Features of ``M`` maskers, each looped or cropped to ``n_samples`` at 44.1 kHz.

    Attributes:
        names: masker names (file names relative to the bank folder, or given keys).
        features_db: ``(M, 1, 64, N)`` unclipped ARAUS features of the mono maskers.
        levels_db: ``(M,)`` A-weighted levels (dBFS) of the looped maskers, for SMR gains.
        n_samples: length the maskers were fitted to; a bank serves any soundscape up to this length
            (its frames are cropped, which is exact for a looped masker).
    """

    names: list[str]
    features_db: torch.Tensor
    levels_db: torch.Tensor
    n_samples: int
    failures: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def from_waveforms(
        cls,
        maskers: Mapping[str, tuple[torch.Tensor | np.ndarray, int]],
        n_samples: int,
        streamed: bool = False,
    ) -> MaskerBank:
        """Bank of in-memory maskers ``{name: (wav, sample_rate)}`` (mono or multichannel, averaged).
        ``streamed``: analyse each looped masker block by block (for long soundscapes: memory of a
        block, not of ``n_samples``)."""
        names, feats, levels = [], [], []
        for name, (wav, sr) in maskers.items():
            f, level = _summary(_prepare_masker(wav, sr, None, name), n_samples, name, streamed)
            names.append(name)
            feats.append(f)
            levels.append(level)
        if not names:
            raise ValueError("no maskers given")
        return cls(names, torch.stack(feats), torch.tensor(levels, dtype=torch.float64), n_samples)

    @classmethod
    def from_files(
        cls,
        paths: Iterable[str | os.PathLike],
        n_samples: int,
        root: Path | None = None,
        streamed: bool = False,
    ) -> MaskerBank:
        """Bank of audio files; a file that cannot be read is recorded in ``failures`` and skipped
        (``streamed``: see :meth:`from_waveforms`).

        Raises:
            ValueError: no file could be used.
        """
        names, feats, levels, failures = [], [], [], {}
        for path in paths:
            path = Path(path)
            name = str(path.relative_to(root)) if root is not None else path.name
            try:
                wav, sr = load(path)
                x = _prepare_masker(wav, sr, None, str(path))
                f, level = _summary(x, n_samples, str(path), streamed)
                feats.append(f)
                levels.append(level)
                names.append(name)
            except (ValueError, FileNotFoundError) as e:
                failures[name] = str(e)
                log.warning("skipping masker %s: %s", name, e)
        if not names:
            raise ValueError("no usable masker: " + "; ".join(f"{k}: {v}" for k, v in failures.items()))
        return cls(names, torch.stack(feats), torch.tensor(levels, dtype=torch.float64), n_samples, failures)

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, n_samples: int, streamed: bool = False) -> MaskerBank:
        """Bank of every audio file under ``folder`` (recursive, sorted)."""
        folder = Path(folder)
        files = find_audio(folder)
        if not files:
            raise ValueError(f"{folder}: no audio files found")
        return cls.from_files([folder / f for f in files], n_samples, root=folder, streamed=streamed)

    def cropped(self, n_frames: int) -> MaskerBank:
        """The bank cut to ``n_frames`` feature frames (for a shorter soundscape)."""
        if n_frames > self.features_db.shape[-1]:
            raise ValueError(
                f"masker bank has {self.features_db.shape[-1]} frames, fewer than the {n_frames} needed; "
                "rebuild it for the longer soundscape"
            )
        return MaskerBank(
            self.names, self.features_db[..., :n_frames], self.levels_db, self.n_samples, dict(self.failures)
        )

    def save(self, path: str | os.PathLike, sources: Mapping[str, str] | None = None) -> Path:
        """Write the bank as one safetensors file (names and ``sources`` in its metadata)."""
        import json

        from safetensors.torch import save_file

        path = Path(path)
        meta = {
            "version": _BANK_VERSION,
            "names": json.dumps(self.names),
            "n_samples": str(self.n_samples),
            "sources": json.dumps(dict(sources or {})),
        }
        with atomic_write(path) as tmp:
            save_file(
                {"features_db": self.features_db.contiguous(), "levels_db": self.levels_db.contiguous()},
                str(tmp),
                metadata=meta,
            )
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> tuple[MaskerBank, dict[str, str]]:
        """Read a bank written by :meth:`save`; returns ``(bank, sources)``."""
        import json

        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such masker bank")
        try:
            with safe_open(str(path), "pt") as f:
                meta = f.metadata() or {}
                feats, levels = f.get_tensor("features_db"), f.get_tensor("levels_db")
            if meta.get("version") != _BANK_VERSION:
                raise ValueError(f"unsupported masker bank version {meta.get('version')!r}")
            names = json.loads(meta["names"])
            bank = cls(names, feats, levels, int(meta["n_samples"]))
            sources = json.loads(meta.get("sources", "{}"))
        except Exception as e:  # safetensors raises its own SafetensorError on a corrupt file
            raise ValueError(f"{path}: not a masker bank ({e})") from None
        if len(names) != feats.shape[0]:
            raise ValueError(f"{path}: {len(names)} names for {feats.shape[0]} feature maps")
        return bank, sources


@dataclass
class RankedPair:
    """One row of a :class:`Ranking`."""

    rank: int
    masker: str
    gain_db: float
    smr_db: float
    mean: float
    std: float
    p_exceed: float
    score: float


@dataclass
class Ranking:
    """Masker x gain candidates, best first.

    ``score`` is ``mean`` (``select="mean"``) or ``mean - risk_k * std`` (``select="risk"``);
    ``p_exceed`` is ``P(pleasantness > threshold)`` under the predicted normal distribution.
    """

    rows: list[RankedPair]
    select: str
    risk_k: float
    threshold: float
    gains_db: list[float]
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def best(self) -> RankedPair:
        return self.rows[0]

    def top(self, k: int) -> list[RankedPair]:
        return self.rows[:k]

    def best_per_masker(self) -> list[RankedPair]:
        """The best gain of each masker, in ranking order."""
        seen, out = set(), []
        for r in self.rows:
            if r.masker not in seen:
                seen.add(r.masker)
                out.append(r)
        return out

    def curve(self, masker: str) -> tuple[list[float], list[float], list[float]]:
        """``(gains_db, means, stds)`` of one masker, by increasing gain."""
        rows = sorted((r for r in self.rows if r.masker == masker), key=lambda r: r.gain_db)
        if not rows:
            raise KeyError(masker)
        return [r.gain_db for r in rows], [r.mean for r in rows], [r.std for r in rows]

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write every row (atomic)."""
        path = Path(path)
        names = list(RankedPair.__dataclass_fields__)
        with atomic_write(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=names)
            w.writeheader()
            for r in self.rows:
                d = asdict(r)
                w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in d.items()})
        return path


def _soundscape_channels(wav: torch.Tensor | np.ndarray, channels: int) -> torch.Tensor:
    x = torch.as_tensor(wav, dtype=torch.float32)
    if x.dim() == 1:
        x = x.unsqueeze(0)
    if x.dim() != 2:
        raise ValueError(f"soundscape: expected audio (T,) or (C, T), got shape {tuple(x.shape)}")
    if x.shape[0] == 1 and channels > 1:
        x = x.expand(channels, -1)  # a mono recording is heard by both ears
    if x.shape[0] != channels:
        raise ValueError(f"soundscape has {x.shape[0]} channels; the model expects {channels} (or mono)")
    return x


def _as_bank(maskers, n_samples: int, streamed: bool = False) -> MaskerBank:
    if isinstance(maskers, MaskerBank):
        return maskers
    if isinstance(maskers, (str, os.PathLike)):
        p = Path(maskers)
        if p.is_dir():
            return MaskerBank.from_folder(p, n_samples, streamed)
        raise FileNotFoundError(f"{p}: not a folder of maskers")
    if isinstance(maskers, Mapping):
        return MaskerBank.from_waveforms(maskers, n_samples, streamed)
    if isinstance(maskers, Sequence):
        return MaskerBank.from_files(maskers, n_samples, streamed=streamed)
    raise ValueError(
        f"maskers must be a MaskerBank, a folder, a list of files or a dict, not {type(maskers)}"
    )


def _normal_sf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.erfc(x / math.sqrt(2.0))


def rank_maskers(
    soundscape_wav: torch.Tensor | np.ndarray,
    sr: int,
    maskers: MaskerBank | str | os.PathLike | Sequence | Mapping,
    gains_db: Sequence[float] | torch.Tensor,
    model: MaskerGainPredictor | str | os.PathLike | None = None,
    select: str = "mean",
    risk_k: float = 1.0,
    threshold: float = 0.0,
    gain_reference: str = "digital",
    soundscape_gain_db: float = 0.0,
    chunk_size: int = 512,
) -> Ranking:
    """Rank every (masker, gain) pair for a soundscape by predicted ISO pleasantness.

    Args:
        soundscape_wav: ``(C, T)`` (binaural) or ``(T,)``/``(1, T)`` (mono, heard by both ears).
        sr: its sample rate (resampled to 44.1 kHz for the features).
        maskers: a :class:`MaskerBank`, a folder of audio files, a list of files, or
            ``{name: (wav, sample_rate)}``; maskers are made mono and looped/cropped to the soundscape.
        gains_db: candidate gains in dB (``-6:6:1`` in the CLI).
        model: a predictor, a model folder or bundled name (default :data:`DEFAULT_MODEL`).
        select: ``"mean"`` (highest predicted mean first) or ``"risk"`` (highest ``mean - risk_k*std``).
        risk_k: the ``k`` of the risk-aware score.
        threshold: pleasantness threshold of ``p_exceed``.
        gain_reference: ``"digital"``: gains are applied to the masker file as it is; ``"smr"``: gains
            are ARAUS-style soundscape-to-masker ratios, ``gain = L_A(soundscape) - L_A(masker) - SMR``.
        soundscape_gain_db: digital gain applied to the soundscape before everything (to bring a
            recording to the level convention the model was trained with).
        chunk_size: pairs per batched model pass.

    Returns:
        A :class:`Ranking` of ``M * G`` rows, best first.
    """
    grid = _check_rank_args(select, gain_reference, gains_db)
    net = load_model(model)
    x = _soundscape_channels(soundscape_wav, net.config.channels)
    if sr != ARAUS_SAMPLE_RATE:
        x = resample(x, sr, ARAUS_SAMPLE_RATE)
    x = x * 10.0 ** (soundscape_gain_db / 20.0)
    n = x.shape[-1]
    if num_frames(n) == 0:
        raise ValueError(f"soundscape of {n / ARAUS_SAMPLE_RATE:.3f} s is shorter than one feature frame")
    s_db = features(x, ARAUS_SAMPLE_RATE, name="soundscape")
    l_s = leq_db(x, ARAUS_SAMPLE_RATE)
    del x
    return _rank(net, s_db, l_s, n, maskers, grid, select, risk_k, threshold, gain_reference, chunk_size)


def rank_maskers_stream(
    blocks: Iterable[torch.Tensor | np.ndarray],
    sr: int,
    maskers: MaskerBank | str | os.PathLike | Sequence | Mapping,
    gains_db: Sequence[float] | torch.Tensor,
    model: MaskerGainPredictor | str | os.PathLike | None = None,
    select: str = "mean",
    risk_k: float = 1.0,
    threshold: float = 0.0,
    gain_reference: str = "digital",
    soundscape_gain_db: float = 0.0,
    chunk_size: int = 512,
) -> Ranking:
    """:func:`rank_maskers` of a soundscape that arrives in ``(C, t)`` blocks (read once), with memory
    bounded by a block, not the recording: resampled by soxr's streaming resampler, its features
    computed frame block by frame block (identical to the one-pass features) and its A-weighted level
    by :class:`~audiokit.soundscape.features.LevelMeter` (within 0.02 dB of the whole-signal level);
    maskers built here are looped and analysed block by block too."""
    grid = _check_rank_args(select, gain_reference, gains_db)
    net = load_model(model)
    mel = MelPowerStream(name="soundscape")
    meter = LevelMeter(ARAUS_SAMPLE_RATE, "A", name="soundscape")
    gain = 10.0 ** (soundscape_gain_db / 20.0)
    channels = (_soundscape_channels(b, net.config.channels) for b in blocks)
    for b in resample_blocks(channels, sr, ARAUS_SAMPLE_RATE):
        b = b * gain
        mel.push(b)
        meter.push(b)
    n = mel.n_samples
    if num_frames(n) == 0:
        raise ValueError(f"soundscape of {n / ARAUS_SAMPLE_RATE:.3f} s is shorter than one feature frame")
    s_db = power_to_db(mel.finish())
    return _rank(
        net,
        s_db,
        meter.level_db(),
        n,
        maskers,
        grid,
        select,
        risk_k,
        threshold,
        gain_reference,
        chunk_size,
        True,
    )


def _check_rank_args(select: str, gain_reference: str, gains_db) -> torch.Tensor:
    if select not in ("mean", "risk"):
        raise ValueError(f"select must be 'mean' or 'risk', got {select!r}")
    if gain_reference not in ("digital", "smr"):
        raise ValueError(f"gain_reference must be 'digital' or 'smr', got {gain_reference!r}")
    grid = torch.as_tensor(gains_db, dtype=torch.float64).reshape(-1)
    if grid.numel() == 0 or not torch.isfinite(grid).all():
        raise ValueError("gains_db must be a non-empty list of finite values")
    return grid


def _rank(
    net: MaskerGainPredictor,
    s_db: torch.Tensor,
    l_s: float,
    n: int,
    maskers,
    grid: torch.Tensor,
    select: str,
    risk_k: float,
    threshold: float,
    gain_reference: str,
    chunk_size: int,
    streamed: bool = False,
) -> Ranking:
    """Rank every pair from the soundscape's features ``(C, 64, N)``, level and length (44.1 kHz)."""
    bank = _as_bank(maskers, n, streamed)
    if bank.n_samples < n:
        raise ValueError(f"masker bank was built for {bank.n_samples} samples; the soundscape has {n}")
    bank = bank.cropped(s_db.shape[-1])
    levels = bank.levels_db
    m, g = len(bank), grid.numel()
    audible = torch.isfinite(levels)[:, None]
    if gain_reference == "smr":
        smr = grid.repeat(m, 1)  # (M, G); a silent masker keeps 0 dB (its gain changes nothing)
        gain = torch.where(audible, l_s - levels[:, None] - smr, torch.zeros_like(smr))
        smr = torch.where(audible, smr, torch.full_like(smr, math.inf))
    else:
        gain = grid.repeat(m, 1)
        smr = l_s - levels[:, None] - gain
    with torch.inference_mode():
        enc_s = net.encode_soundscape(s_db)
        enc_m = net.encode_maskers(bank.features_db)
        mean, log_std = net.search(enc_s, enc_m, gain.float(), chunk_size)
    std = torch.exp(log_std)
    p_exceed = _normal_sf((threshold - mean) / std)
    score = mean - risk_k * std if select == "risk" else mean
    order = torch.argsort(score.reshape(-1), descending=True, stable=True)
    rows = []
    for rank, k in enumerate(order.tolist(), start=1):
        i, j = divmod(k, g)
        rows.append(
            RankedPair(
                rank=rank,
                masker=bank.names[i],
                gain_db=float(gain[i, j]),
                smr_db=float(smr[i, j]),
                mean=float(mean[i, j]),
                std=float(std[i, j]),
                p_exceed=float(p_exceed[i, j]),
                score=float(score[i, j]),
            )
        )
    return Ranking(rows, select, risk_k, threshold, grid.tolist(), dict(bank.failures))
