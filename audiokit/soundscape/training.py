"""Training the masker/gain predictor with the audiokit training engine.

``audiokit train recipes/masker_tiny/config.yaml`` (synthetic data) or
``audiokit train recipes/masker_araus/config.yaml data.araus.root=/path/to/ARAUS data.araus.val_fold=1``.
The task trains :class:`~audiokit.soundscape.MaskerGainPredictor` with the Gaussian negative
log-likelihood on feature-domain mixes (:mod:`audiokit.soundscape.data`); DDP under torchrun comes
from the engine. Validation reports the MSE of the predicted mean (the paper's headline metric),
the NLL and the label-mean baseline of the validation set; :func:`evaluate` gives the exact
figures of a model on a dataset, :func:`select_checkpoint` picks the checkpoint with the best
validation MSE (the ARAUS baselines' early stopping, done after training).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from audiokit.checkpoints import pretrained_config_json
from audiokit.soundscape.araus import ARAUS
from audiokit.soundscape.data import (
    FeatureCache,
    PairDataset,
    SyntheticSplit,
    araus_pairs,
    band_statistics,
    make_synthetic_pairs,
)
from audiokit.soundscape.model import MaskerGainConfig, MaskerGainPredictor, gaussian_nll
from audiokit.soundscape.synthetic import oracle_pleasantness
from audiokit.train import ExportBundle, TrainingTask, ValidationResult, load_task_from_checkpoint, to_dict
from audiokit.train.checkpoint import list_checkpoints

__all__ = [
    "SplitSize",
    "SyntheticDataConfig",
    "ARAUSDataConfig",
    "MaskerDataConfig",
    "MaskerTaskConfig",
    "MaskerGainTask",
    "evaluate",
    "predict",
    "select_checkpoint",
    "selection_check",
]

log = logging.getLogger(__name__)


@dataclass
class SplitSize:
    """Size of one synthetic split."""

    soundscapes: int = 32
    maskers: int = 12
    pairs_per_soundscape: int = 32


@dataclass
class SyntheticDataConfig:
    """Synthetic scenes/maskers with oracle labels (:func:`~audiokit.soundscape.data.make_synthetic_pairs`).

    Train, validation and test use disjoint soundscapes and maskers. ``cache`` (a folder) keeps the
    generated splits, so reruns and resumed runs skip the generation.
    """

    seed: int = 0
    seconds: float = 8.0
    smr_min: float = -12.0
    smr_max: float = 12.0
    train: SplitSize = field(default_factory=lambda: SplitSize(160, 48, 48))
    val: SplitSize = field(default_factory=SplitSize)
    test: SplitSize = field(default_factory=SplitSize)
    cache: str = ""


@dataclass
class ARAUSDataConfig:
    """An ARAUS folder (:class:`~audiokit.soundscape.ARAUS`) and the cross-validation round."""

    root: str = ""
    csv_dir: str = ""  # default ROOT/data (ROOT/datav2 for ARAUSv2)
    soundscape_dir: str = ""  # default ROOT/soundscapes
    masker_dir: str = ""  # default ROOT/maskers
    val_fold: int = 1
    cv_folds: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    test_fold: int | None = 0
    cache_dir: str = ""  # feature cache (default ROOT/.audiokit_features)


@dataclass
class MaskerDataConfig:
    source: Literal["synthetic", "araus"] = "synthetic"
    synthetic: SyntheticDataConfig = field(default_factory=SyntheticDataConfig)
    araus: ARAUSDataConfig = field(default_factory=ARAUSDataConfig)


@dataclass
class MaskerTaskConfig:
    """Task config: the model architecture, the data, and the loss (``nll``: Gaussian NLL of
    (mean, log std), the paper's probabilistic loss; ``mse``: the mean only, an ablation)."""

    model: MaskerGainConfig = field(default_factory=MaskerGainConfig)
    data: MaskerDataConfig = field(default_factory=MaskerDataConfig)
    loss: Literal["nll", "mse"] = "nll"


def _synthetic_split(cfg: SyntheticDataConfig, split: str) -> SyntheticSplit:
    size: SplitSize = getattr(cfg, split)
    cache = Path(cfg.cache) / f"{split}.safetensors" if cfg.cache else None
    key = {"seed": cfg.seed, "seconds": cfg.seconds, "smr": [cfg.smr_min, cfg.smr_max], **to_dict(size)}
    if cache is not None and cache.is_file():
        data, saved_key = SyntheticSplit.load(cache)
        if saved_key == key:
            return data
        log.info("synthetic %s cache %s is for other settings; regenerating", split, cache)
    data = make_synthetic_pairs(
        split,
        size.soundscapes,
        size.maskers,
        size.pairs_per_soundscape,
        seconds=cfg.seconds,
        seed=cfg.seed,
        smr_range=(cfg.smr_min, cfg.smr_max),
    )
    if cache is not None:
        data.save(cache, key)
    return data


def _araus_splits(cfg: ARAUSDataConfig) -> dict[str, PairDataset]:
    if not cfg.root:
        raise ValueError("config key 'data.araus.root' is required (the ARAUS dataset folder)")
    ds = ARAUS(
        cfg.root,
        csv_dir=cfg.csv_dir or None,
        soundscape_dir=cfg.soundscape_dir or None,
        masker_dir=cfg.masker_dir or None,
    )
    ds.check_folds(cfg.cv_folds)
    train, val, test = ds.split(cfg.val_fold, cfg.cv_folds, cfg.test_fold)
    cache = FeatureCache(cfg.cache_dir or Path(cfg.root) / ".audiokit_features")
    out = {"train": araus_pairs(ds, train, cache), "val": araus_pairs(ds, val, cache)}
    if test:
        out["test"] = araus_pairs(ds, test, cache)
    return out


class MaskerGainTask(TrainingTask):
    """Trains :class:`MaskerGainPredictor` (model name ``"predictor"``) on feature-domain pairs."""

    config_class = MaskerTaskConfig

    def __init__(self, config: MaskerTaskConfig | None = None, train=None):
        super().__init__(config, train)
        self._data: dict[str, PairDataset] | None = None
        self._synthetic: dict[str, SyntheticSplit] = {}

    # -- data ---------------------------------------------------------------------------------
    def datasets(self) -> dict[str, PairDataset]:
        """``{"train", "val"[, "test"]}`` pair datasets (built once)."""
        if self._data is None:
            d = self.config.data
            if d.source == "synthetic":
                self._synthetic = {s: _synthetic_split(d.synthetic, s) for s in ("train", "val", "test")}
                self._data = {s: x.pairs for s, x in self._synthetic.items()}
            else:
                self._data = _araus_splits(d.araus)
            if self._data["train"].soundscapes.shape[1] != self.config.model.channels:
                raise ValueError(
                    f"config key 'model.channels' is {self.config.model.channels} but the soundscapes "
                    f"have {self._data['train'].soundscapes.shape[1]} channels"
                )
        return self._data

    def synthetic_split(self, name: str) -> SyntheticSplit:
        """The synthetic split with its oracle information (synthetic source only)."""
        self.datasets()
        if name not in self._synthetic:
            raise ValueError(f"no synthetic split {name!r} (data.source is {self.config.data.source!r})")
        return self._synthetic[name]

    def train_dataset(self) -> PairDataset:
        return self.datasets()["train"]

    def val_dataset(self) -> PairDataset:
        return self.datasets()["val"]

    # -- model and steps ----------------------------------------------------------------------
    def build_models(self) -> dict[str, MaskerGainPredictor]:
        return {"predictor": MaskerGainPredictor(self.config.model)}

    def on_train_start(self) -> None:
        if not self.resumed:  # the normalisation is a buffer: saved in (and restored from) checkpoints
            mean, std = band_statistics(self.train_dataset(), self.config.model.top_db)
            self.model("predictor").set_normalization(mean.to(self.device), std.to(self.device))
            log.info("input normalisation: band means %.1f..%.1f dB", float(mean.min()), float(mean.max()))

    def _loss(self, mean: torch.Tensor, log_std: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        if self.config.loss == "mse":
            return F.mse_loss(mean, label)
        return gaussian_nll(mean, log_std, label)

    def training_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float | torch.Tensor]:
        mean, log_std = self.models["predictor"](batch["soundscape_db"], batch["masker_db"], batch["gain_db"])
        loss = self._loss(mean, log_std, batch["label"])
        stats = self.step_optimizer("main", loss)
        mse = F.mse_loss(mean.detach(), batch["label"])
        return {"loss": loss.detach(), "mse": mse, "std": log_std.detach().exp().mean(), **stats}

    def validation_step(self, batch: dict[str, torch.Tensor], index: int) -> ValidationResult:
        mean, log_std = self.model("predictor")(batch["soundscape_db"], batch["masker_db"], batch["gain_db"])
        y = batch["label"]
        train_mean = float(self.train_dataset().label.mean())
        return ValidationResult(
            {
                "mse": float(F.mse_loss(mean, y)),
                "nll": float(gaussian_nll(mean, log_std, y)),
                "label_mean_mse": float(((y - train_mean) ** 2).mean()),
            }
        )

    def export(self) -> ExportBundle:
        """``model.safetensors`` + ``config.json`` loadable by :meth:`MaskerGainPredictor.from_pretrained`."""
        weights = dict(self.model("predictor").state_dict())
        d = self.config.data
        config = pretrained_config_json(
            MaskerGainPredictor.model_type,
            self.config.model.to_dict(),
            features={
                "sample_rate": 44100,
                "n_fft": 4096,
                "hop_length": 2048,
                "n_mels": 64,
                "f_min": 20.0,
                "f_max": 20000.0,
                "center": False,
                "db": "10*log10(max(power, 1e-10)), unclipped",
            },
            target="normalised ISO 12913-3 pleasantness in [-1, 1]",
            training={
                "loss": self.config.loss,
                "data": to_dict(d.synthetic if d.source == "synthetic" else d.araus),
                "source": d.source,
                "step": self.step,
            },
        )
        metadata = {"model_type": MaskerGainPredictor.model_type}
        return ExportBundle(weights=weights, config=config, metadata=metadata)


@torch.no_grad()
def predict(
    model: MaskerGainPredictor, pairs: PairDataset, batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean, log_std)`` of ``model`` for every item of ``pairs`` (eval mode, batched)."""
    model = model.eval()
    means, log_stds = [], []
    for i in range(0, len(pairs), batch_size):
        b = torch.utils.data.default_collate([pairs[j] for j in range(i, min(i + batch_size, len(pairs)))])
        mu, ls = model(b["soundscape_db"], b["masker_db"], b["gain_db"])
        means.append(mu)
        log_stds.append(ls)
    return torch.cat(means), torch.cat(log_stds)


def evaluate(
    model: MaskerGainPredictor,
    pairs: PairDataset,
    batch_size: int = 256,
    train_label_mean: float | None = None,
) -> dict[str, float]:
    """Exact metrics of ``model`` on ``pairs``: ``mse`` of the mean, ``nll``, the ``label_mean_mse``
    baseline (a constant prediction: ``train_label_mean`` or this set's mean), ``n``, the mean
    predicted ``std`` and the Spearman correlation of predicted std with the absolute error."""
    from scipy.stats import spearmanr

    mu, ls = predict(model, pairs, batch_size)
    y = pairs.label
    err = mu - y
    rho = float(spearmanr(ls.numpy(), err.abs().numpy()).statistic) if len(y) > 2 else math.nan
    return {
        "n": float(len(pairs)),
        "mse": float((err**2).mean()),
        "nll": float(gaussian_nll(mu, ls, y)),
        "label_mean_mse": pairs.label_mean_mse(train_label_mean),
        "mean_std": float(ls.exp().mean()),
        "std_vs_abs_error_spearman": rho,
    }


def select_checkpoint(
    run_dir: str | os.PathLike, split: str = "val"
) -> tuple[Path, dict[str, float], list[tuple[Path, float]]]:
    """Evaluate every checkpoint of a run on ``split`` and return ``(best checkpoint, its metrics,
    [(checkpoint, mse), ...])``, best = lowest MSE (early stopping after the fact)."""
    ckpts = list_checkpoints(Path(run_dir) / "checkpoints")
    if not ckpts:
        raise FileNotFoundError(f"{run_dir}: no checkpoints")
    task = None
    scores = []
    best = (math.inf, None, None)
    for _, c in ckpts:
        t, _ = load_task_from_checkpoint(c)
        if task is None:
            task = t
        data = task.datasets()
        m = evaluate(t.model("predictor"), data[split], train_label_mean=float(data["train"].label.mean()))
        scores.append((c, m["mse"]))
        if m["mse"] < best[0]:
            best = (m["mse"], c, m)
    return best[1], best[2], scores


@torch.no_grad()
def selection_check(
    model: MaskerGainPredictor,
    split: SyntheticSplit,
    smr_grid: tuple[float, float, float] = (-12.0, 12.0, 1.0),
) -> dict[str, float]:
    """How well the model picks masker and gain on synthetic scenes, against the oracle.

    For every soundscape of ``split``, every masker of the split at every SMR of the grid
    (``start, stop, step``; gain = L_s - L_m - SMR, RMS levels) is ranked by the model (one
    :meth:`~MaskerGainPredictor.search`) and by the oracle. Returns the fraction of scenes where the
    chosen masker's class is the oracle's (``class_match``), the fraction where the model's best gain
    for the oracle's best masker is within 3 dB of the oracle's (``gain_within_3db``), the mean
    ``regret`` (oracle pleasantness lost by taking the model's choice) and the mean ``gain_over_none``
    (oracle pleasantness of the model's choice minus that of no masker).
    """
    import numpy as np

    model = model.eval()
    pairs = split.pairs
    smr = np.arange(smr_grid[0], smr_grid[1] + smr_grid[2] / 2, smr_grid[2])
    levels = np.array([m.level_db for m in split.masker_info])
    audible = np.isfinite(levels)
    enc_m = model.encode_maskers(pairs.maskers)
    matches, within, regrets, gains_over_none = [], [], [], []
    for si, s_info in enumerate(split.soundscape_info):
        gains = np.where(
            audible[:, None], s_info.level_db - np.where(audible, levels, 0.0)[:, None] - smr, 0.0
        )
        mean, _ = model.search(
            model.encode_soundscape(pairs.soundscapes[si]), enc_m, torch.tensor(gains, dtype=torch.float32)
        )
        truth = np.stack([oracle_pleasantness(s_info, m, gains[i]) for i, m in enumerate(split.masker_info)])
        mi, gi = divmod(int(mean.argmax()), len(smr))
        ti, tg = divmod(int(np.argmax(truth)), len(smr))
        matches.append(split.masker_info[mi].kind == split.masker_info[ti].kind)
        within.append(abs(float(gains[ti, int(mean[ti].argmax())] - gains[ti, tg])) <= 3.0 or not audible[ti])
        regrets.append(float(truth[ti, tg] - truth[mi, gi]))
        none = float(oracle_pleasantness(s_info, split.masker_info[0], -np.inf))
        gains_over_none.append(float(truth[mi, gi]) - none)
    return {
        "scenes": float(len(matches)),
        "class_match": float(np.mean(matches)),
        "gain_within_3db": float(np.mean(within)),
        "regret": float(np.mean(regrets)),
        "gain_over_none": float(np.mean(gains_over_none)),
    }
