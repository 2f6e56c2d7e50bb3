"""The masker/gain pleasantness predictor ("audiokit variant" of Watcharasupat et al., SPL 2022).

The paper describes the network only in outline (no code is public): modular blocks, a soundscape
branch and a masker branch, feature-domain augmentation conditioned on the digital gain, attention,
and a probabilistic head predicting the mean and log standard deviation of ISO pleasantness. This
module is our reconstruction of that outline:

1. **Time pooling in power.** ARAUS features ``(C, 64, N)`` in dB are converted to power and
   averaged over ``time_pool`` frames. Averaging commutes with the power-domain mix
   ``P_s + g^2 P_m``, so mixing the pooled features is exactly as accurate as mixing full-resolution
   ones (and the random-phase cross term averages down further).
2. **Soundscape branch** and **masker branch**: a 1x1 projection of the (channels x mels) input and
   residual temporal convolutions, each run *once* per soundscape / masker and cached.
3. **Augmentation branch** ("post-mix blocks"): the feature-domain mix
   ``10 log10(P_s + 10^(G/10) P_m)`` of each (masker, gain) pair through the same kind of encoder,
   FiLM-conditioned on the gain. The gain enters as :func:`gain_features`: the digital gain and the
   masker-to-soundscape level ratio it produces (from the cached mean levels), so the network sees
   the SMR of each pair; with ``film_context`` the FiLM also sees the soundscape/masker summary.
4. **Fusion and attention**: the augmentation sequence plus projections of the cached soundscape and
   masker sequences, multi-head attention pooling over time with a query from the soundscape and
   masker summaries.
5. **Probabilistic head**: an MLP on the pooled sequence, the summaries and the gain features ->
   ``(mean, log_std)`` of pleasantness, trained with the Gaussian NLL (:func:`gaussian_nll`).

Inference (:meth:`MaskerGainPredictor.search`) encodes the soundscape once, the masker bank once, and
evaluates all masker x gain pairs in chunked batched passes of steps 3-5.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.assets import resolve_pretrained
from audiokit.checkpoints import PretrainedMixin
from audiokit.io import release_free_memory
from audiokit.soundscape.features import ARAUS_N_MELS, FLOOR_DB, POWER_FLOOR, clip_top_db
from audiokit.soundscape.mix import mix_power

__all__ = [
    "MaskerGainConfig",
    "MaskerGainPredictor",
    "EncodedSoundscape",
    "EncodedMaskers",
    "gaussian_nll",
    "pool_power",
    "resolve_pretrained",
]


@dataclass
class MaskerGainConfig:
    """Architecture of :class:`MaskerGainPredictor` (round-trips through a dict / JSON / YAML)."""

    n_mels: int = ARAUS_N_MELS
    channels: int = 2  # soundscape channels (binaural)
    time_pool: int = 16  # frames averaged in power before the network (644 -> 41 for 30 s)
    top_db: float | None = 80.0  # dynamic range of the network inputs, as the ARAUS features
    hidden: int = 48
    context_layers: int = 3  # residual temporal conv blocks of the soundscape/masker branches (run once)
    mix_layers: int = 2  # blocks of the augmentation branch (run per masker x gain pair)
    kernel_size: int = 3
    heads: int = 4
    gain_embedding: int = 32
    film_context: bool = True  # the gain FiLM also sees the soundscape/masker summary
    dropout: float = 0.1
    log_std_min: float = -5.0
    log_std_max: float = 1.0
    min_gain_db: float = -60.0  # gains below this are embedded as this value (the mix stays exact)

    @classmethod
    def from_dict(cls, d: dict) -> MaskerGainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown MaskerGainConfig key(s): {', '.join(unknown)}")
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)


def gaussian_nll(mean: torch.Tensor, log_std: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Gaussian negative log-likelihood ``0.5 ((y - mu) / sigma)^2 + log sigma + 0.5 log 2 pi``."""
    z = (target - mean) * torch.exp(-log_std)
    return (0.5 * z.square() + log_std).mean() + 0.5 * math.log(2 * math.pi)


def _level_db(power: torch.Tensor) -> torch.Tensor:
    """Mean power over all but the first dim, in dB (floored at -100 dB): ``(B, ...) -> (B,)``."""
    return 10.0 * torch.log10(torch.clamp(power.flatten(1).mean(dim=1), min=POWER_FLOOR))


def pool_power(power: torch.Tensor, factor: int) -> torch.Tensor:
    """Average ``(..., F, N)`` power over groups of ``factor`` frames -> ``(..., F, ceil(N / factor))``
    (the last group averages the frames it has)."""
    if factor == 1:
        return power
    lead = power.shape[:-1]
    x = power.reshape(-1, 1, power.shape[-1])
    y = F.avg_pool1d(x, factor, factor, ceil_mode=True, count_include_pad=False)
    return y.reshape(*lead, y.shape[-1])


class _ResBlock(nn.Module):
    """``x + Dropout(Conv1d(GELU(GroupNorm(x))))`` over time, ``(B, H, T) -> (B, H, T)``.

    GroupNorm with one group normalises each sequence on its own (independent of the batch)."""

    def __init__(self, dim: int, kernel_size: int, dropout: float):
        super().__init__()
        self.norm = nn.GroupNorm(1, dim)
        self.conv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop(self.conv(F.gelu(self.norm(x))))


class SequenceEncoder(nn.Module):
    """Mel-frame encoder ``(B, in_dim, T) -> (B, hidden, T)``: a 1x1 projection then residual
    temporal convolutions; ``film`` optionally scales and shifts the projection (gain conditioning)."""

    def __init__(self, in_dim: int, hidden: int, layers: int, kernel_size: int, dropout: float):
        super().__init__()
        self.proj = nn.Conv1d(in_dim, hidden, 1)
        self.blocks = nn.ModuleList(_ResBlock(hidden, kernel_size, dropout) for _ in range(layers))
        self.out_norm = nn.GroupNorm(1, hidden)

    def forward(self, x: torch.Tensor, film: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        h = self.proj(x)
        if film is not None:
            scale, shift = film
            h = h * (1.0 + scale.unsqueeze(-1)) + shift.unsqueeze(-1)
        for block in self.blocks:
            h = block(h)
        return self.out_norm(h)


def gain_features(
    gain_db: torch.Tensor, soundscape_level: torch.Tensor, masker_level: torch.Tensor, min_gain_db: float
) -> torch.Tensor:
    """Gain conditioning ``(P, 3)``: the digital gain, the masker-to-soundscape level ratio it gives
    (``L_m + G - L_s``, mean mel power in dB; the negative of an SMR) and a silent-masker flag.
    Gains are in units of 20 dB, clamped to ``[min_gain_db, +inf)`` and the ratio to +-60 dB."""
    silent = (gain_db <= min_gain_db) | (masker_level <= FLOOR_DB + 1.0)
    g = torch.clamp(gain_db, min=min_gain_db)
    ratio = torch.clamp(masker_level + g - soundscape_level, -60.0, 60.0)
    ratio = torch.where(silent, torch.full_like(ratio, -60.0), ratio)
    return torch.stack([g / 20.0, ratio / 20.0, silent.to(g.dtype)], dim=-1)


class GainEmbedding(nn.Module):
    """Gain features ``(P, 3)`` (:func:`gain_features`), optionally with a context vector ``(P, C)``
    (the soundscape/masker summary, so that the effect of a level can depend on the masker) ->
    FiLM ``(scale, shift)``, each ``(P, hidden)``."""

    def __init__(self, dim: int, hidden: int, context: int = 0):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(3 + context, dim), nn.GELU(), nn.Linear(dim, 2 * hidden))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mlp(features).chunk(2, dim=-1)


class AttentionPool(nn.Module):
    """Multi-head attention pooling over time, ``(P, H, T) -> (P, H)``.

    Each head scores every frame against a query (a learned vector plus ``query`` ``(P, H)``, derived
    from the pair's soundscape and masker) and averages the frames with those weights.
    """

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden ({hidden}) must be a multiple of heads ({heads})")
        self.heads = heads
        self.key = nn.Conv1d(hidden, hidden, 1)
        self.value = nn.Conv1d(hidden, hidden, 1)
        self.query = nn.Parameter(torch.zeros(hidden))
        self.out = nn.Linear(hidden, hidden)

    def forward(self, h: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        p, dim, t = h.shape
        d = dim // self.heads
        q = (self.query + query).expand(p, -1).reshape(p, self.heads, d, 1)
        k = self.key(h).reshape(p, self.heads, d, t)
        w = torch.softmax((k * q).sum(dim=2) / math.sqrt(d), dim=-1)  # (P, heads, T)
        v = self.value(h).reshape(p, self.heads, d, t)
        return self.out((v * w.unsqueeze(2)).sum(dim=-1).reshape(p, dim))


@dataclass
class EncodedSoundscape:
    """Cached soundscape branch: pooled mel power ``(B, C, F, T)``, the context sequence added to
    every pair's augmentation sequence ``(B, H, T)``, its attention-query/summary term ``(B, H)`` and
    its mean mel power in dB ``(B,)``."""

    power: torch.Tensor
    context: torch.Tensor
    query: torch.Tensor
    level: torch.Tensor


@dataclass
class EncodedMaskers:
    """Cached masker branch: pooled mel power ``(M, 1|C, F, T)``, context ``(M, H, T)``,
    attention-query/summary term ``(M, H)`` and mean mel power in dB at unit gain ``(M,)``."""

    power: torch.Tensor
    context: torch.Tensor
    query: torch.Tensor
    level: torch.Tensor

    def __len__(self) -> int:
        return self.power.shape[0]

    def select(self, index: torch.Tensor) -> EncodedMaskers:
        tensors = (self.power, self.context, self.query, self.level)
        return EncodedMaskers(*(t.index_select(0, index) for t in tensors))


#: Largest number of pooled feature elements (pairs x channels x bands x pooled frames) mixed per
#: batch by :meth:`MaskerGainPredictor.search` (4 MB of float32; the branch's activations take about
#: five times that): 200 pairs of a 30 s ARAUS soundscape, 10 of a 10 min one.
SEARCH_BATCH_ELEMENTS = 1 << 20


class MaskerGainPredictor(PretrainedMixin, nn.Module):
    """Predicts the distribution of ISO pleasantness of ``soundscape + gain * masker``.

    Inputs are unclipped ARAUS features in dB (:func:`~audiokit.soundscape.features`): soundscapes
    ``(B, C, 64, N)``, maskers ``(B, 1, 64, N)`` (mono, added to every channel) or ``(B, C, 64, N)``,
    gains in dB ``(B,)``.

    Example:
        >>> model = MaskerGainPredictor(MaskerGainConfig(hidden=16)).eval()
        >>> s, m = torch.randn(1, 2, 64, 100) - 50, torch.randn(5, 1, 64, 100) - 50
        >>> mean, log_std = model.search(model.encode_soundscape(s), model.encode_maskers(m),
        ...                              torch.arange(-6.0, 7.0, 3.0))
        >>> mean.shape                                      # (maskers, gains)
        torch.Size([5, 5])
    """

    model_type: ClassVar[str] = "masker"
    config_class: ClassVar[type] = MaskerGainConfig
    task: ClassVar[str] = "masker gain prediction"

    band_mean: torch.Tensor
    band_std: torch.Tensor

    def __init__(self, config: MaskerGainConfig | None = None):
        super().__init__()
        cfg = config or MaskerGainConfig()
        self.config = cfg
        h = cfg.hidden
        ctx, mix = cfg.context_layers, cfg.mix_layers
        self.soundscape_branch = SequenceEncoder(
            cfg.channels * cfg.n_mels, h, ctx, cfg.kernel_size, cfg.dropout
        )
        self.masker_branch = SequenceEncoder(cfg.n_mels, h, ctx, cfg.kernel_size, cfg.dropout)
        self.augmented_branch = SequenceEncoder(
            cfg.channels * cfg.n_mels, h, mix, cfg.kernel_size, cfg.dropout
        )
        self.gain_embedding = GainEmbedding(cfg.gain_embedding, h, h if cfg.film_context else 0)
        self.soundscape_proj = nn.Conv1d(h, h, 1)
        self.masker_proj = nn.Conv1d(h, h, 1)
        self.soundscape_query = nn.Linear(h, h)
        self.masker_query = nn.Linear(h, h, bias=False)
        self.attention = AttentionPool(h, cfg.heads)
        # head on [attention-pooled sequence, soundscape+masker summary, gain features]
        self.head = nn.Sequential(
            nn.Linear(2 * h + 3, h),
            nn.GELU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(h, h),
            nn.GELU(),
            nn.Linear(h, 2),
        )
        # per-mel-band input normalisation (dB); set from training data with set_normalization
        self.register_buffer("band_mean", torch.full((cfg.n_mels,), -60.0))
        self.register_buffer("band_std", torch.full((cfg.n_mels,), 20.0))

    # -- input handling -----------------------------------------------------------------------
    def set_normalization(self, mean_db: torch.Tensor, std_db: torch.Tensor) -> None:
        """Set the per-band input normalisation ``(x - mean) / std`` (``(n_mels,)`` each, dB)."""
        self.band_mean.copy_(torch.as_tensor(mean_db, dtype=self.band_mean.dtype).reshape(-1))
        self.band_std.copy_(
            torch.clamp(torch.as_tensor(std_db, dtype=self.band_std.dtype).reshape(-1), min=1e-3)
        )

    def pooled_power(self, features_db: torch.Tensor) -> torch.Tensor:
        """dB features ``(..., F, N)`` -> time-pooled linear power ``(..., F, ceil(N / time_pool))``.

        Values at the dB floor (digital silence, -100 dB) become zero power, so a silent masker adds
        exactly nothing."""
        if features_db.shape[-2] != self.config.n_mels:
            raise ValueError(
                f"expected {self.config.n_mels} mel bands, got features of shape {tuple(features_db.shape)}"
            )
        power = torch.where(features_db <= FLOOR_DB, 0.0, torch.pow(10.0, features_db / 10.0))
        return pool_power(power, self.config.time_pool)

    def _network_input(self, power: torch.Tensor) -> torch.Tensor:
        """Pooled power ``(P, C, F, T)`` -> normalised dB ``(P, C * F, T)``."""
        db = 10.0 * torch.log10(torch.clamp(power, min=POWER_FLOOR))
        if self.config.top_db is not None:
            db = clip_top_db(db, self.config.top_db)
        x = (db - self.band_mean[:, None]) / self.band_std[:, None]
        return x.flatten(1, 2)

    # -- branches -----------------------------------------------------------------------------
    def encode_soundscape(self, soundscape_db: torch.Tensor) -> EncodedSoundscape:
        """Soundscape branch on ``(B, C, F, N)`` (or ``(C, F, N)``) dB features; run once per soundscape."""
        if soundscape_db.dim() == 3:
            soundscape_db = soundscape_db.unsqueeze(0)
        if soundscape_db.dim() != 4 or soundscape_db.shape[1] != self.config.channels:
            raise ValueError(
                f"soundscape features must be (B, {self.config.channels}, {self.config.n_mels}, N); "
                f"got {tuple(soundscape_db.shape)} (repeat a mono recording to {self.config.channels} "
                "channels)"
            )
        power = self.pooled_power(soundscape_db)
        ctx = self.soundscape_branch(self._network_input(power))
        query = self.soundscape_query(ctx.mean(dim=-1))
        return EncodedSoundscape(power, self.soundscape_proj(ctx), query, _level_db(power))

    def encode_maskers(self, masker_db: torch.Tensor) -> EncodedMaskers:
        """Masker branch on ``(M, 1|C, F, N)`` (or ``(F, N)`` for one mono masker) dB features; run once
        per masker (the masker branch sees the channel-averaged power)."""
        if masker_db.dim() == 2:
            masker_db = masker_db[None, None]
        if masker_db.dim() != 4 or masker_db.shape[1] not in (1, self.config.channels):
            raise ValueError(
                f"masker features must be (M, 1 or {self.config.channels}, {self.config.n_mels}, N); "
                f"got {tuple(masker_db.shape)}"
            )
        power = self.pooled_power(masker_db)
        mono = power.mean(dim=1, keepdim=True)
        ctx = self.masker_branch(self._network_input(mono))
        return EncodedMaskers(
            power, self.masker_proj(ctx), self.masker_query(ctx.mean(dim=-1)), _level_db(mono)
        )

    # -- prediction ---------------------------------------------------------------------------
    def predict(
        self,
        soundscape: EncodedSoundscape,
        maskers: EncodedMaskers,
        gain_db: torch.Tensor,
        augmented_db: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, log_std)``, each ``(P,)``, for ``P`` (soundscape, masker, gain) pairs.

        ``soundscape`` and ``maskers`` hold ``P`` rows or one row (broadcast to all pairs); ``gain_db``
        is ``(P,)``. The augmented features are the feature-domain mix unless ``augmented_db``
        ``(P, C, F, N)`` (features of a real waveform mix) is given instead.
        """
        gain_db = torch.as_tensor(
            gain_db, dtype=soundscape.power.dtype, device=soundscape.power.device
        ).reshape(-1)
        if soundscape.power.shape[-1] != maskers.power.shape[-1]:
            raise ValueError(
                f"soundscape has {soundscape.power.shape[-1]} pooled frames but the maskers have "
                f"{maskers.power.shape[-1]}; loop or crop maskers to the soundscape's length"
            )
        if augmented_db is None:
            aug = mix_power(soundscape.power, maskers.power, gain_db)  # (P, C, F, T)
        else:
            aug = self.pooled_power(augmented_db)
        n = aug.shape[0]
        cond = gain_features(
            gain_db, soundscape.level.expand(n), maskers.level.expand(n), self.config.min_gain_db
        )
        summary = (soundscape.query + maskers.query).expand(n, -1)
        film_in = torch.cat([cond, summary], dim=-1) if self.config.film_context else cond
        h = self.augmented_branch(self._network_input(aug), self.gain_embedding(film_in))
        h = h + soundscape.context + maskers.context
        out = self.head(torch.cat([self.attention(h, summary), summary, cond], dim=-1))
        mean = out[:, 0]
        cfg = self.config
        log_std = cfg.log_std_min + (cfg.log_std_max - cfg.log_std_min) * torch.sigmoid(out[:, 1])
        return mean, log_std

    def forward(
        self, soundscape_db: torch.Tensor, masker_db: torch.Tensor, gain_db: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Paired prediction (training): ``(B, C, F, N)``, ``(B, 1|C, F, N)``, ``(B,)`` -> two ``(B,)``."""
        return self.predict(self.encode_soundscape(soundscape_db), self.encode_maskers(masker_db), gain_db)

    @torch.no_grad()
    def search(
        self,
        soundscape: EncodedSoundscape,
        maskers: EncodedMaskers,
        gains_db: torch.Tensor,
        chunk_size: int = 512,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """All masker x gain pairs for one soundscape: ``(mean, log_std)``, each ``(M, G)``.

        The soundscape (one row) and the masker bank are encoded already. ``gains_db`` is a grid
        ``(G,)`` shared by every masker or a matrix ``(M, G)`` of per-masker gains; pairs are evaluated
        in batches of ``chunk_size``, fewer for long soundscapes, so that a batch's mixed features stay
        within :data:`SEARCH_BATCH_ELEMENTS` (memory bounded by the batch, not the recording).
        """
        if soundscape.power.shape[0] != 1:
            raise ValueError("search ranks maskers for one soundscape; encode a single soundscape")
        m = len(maskers)
        gains = torch.as_tensor(gains_db, dtype=soundscape.power.dtype, device=soundscape.power.device)
        if gains.dim() <= 1:
            gains = gains.reshape(1, -1).expand(m, -1)
        if gains.dim() != 2 or gains.shape[0] != m:
            raise ValueError(f"gains_db must be (G,) or ({m}, G), got {tuple(gains.shape)}")
        g = gains.shape[1]
        chunk_size = max(1, min(chunk_size, SEARCH_BATCH_ELEMENTS // max(1, soundscape.power[0].numel())))
        masker_index = torch.arange(m, device=gains.device).repeat_interleave(g)
        pair_gain = gains.reshape(-1)
        means, log_stds = [], []
        for i in range(0, m * g, chunk_size):
            idx = masker_index[i : i + chunk_size]
            mu, ls = self.predict(soundscape, maskers.select(idx), pair_gain[i : i + chunk_size])
            means.append(mu)
            log_stds.append(ls)
            release_free_memory()
        return torch.cat(means).reshape(m, g), torch.cat(log_stds).reshape(m, g)
