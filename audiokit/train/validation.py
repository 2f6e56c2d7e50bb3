"""Validation of the Trainer: the task's ``validation_step`` over its validation set, sharded over
the ranks, metrics averaged over all of them; rank 0 logs them and writes the audio examples to
``run_dir/samples/step_XXXXXXXX/`` (keeping the newest ``train.keep_samples`` folders)."""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from audiokit.data.sampler import ShardSampler
from audiokit.io import save
from audiokit.train import distributed
from audiokit.train.loading import to_device, worker_init
from audiokit.train.logger import MetricAccumulator, RunLogger
from audiokit.train.task import TrainingTask, ValidationResult
from audiokit.train.trainer_config import TrainerConfig

__all__ = ["run_validation", "write_samples", "prune_samples", "format_metrics"]

logger = logging.getLogger(__name__)


def run_validation(
    task: TrainingTask, dataset: Dataset, cfg: TrainerConfig, run_dir: Path, log: RunLogger
) -> dict[str, float]:
    """Run ``task.validation_step`` over its shard of ``dataset`` (models in eval mode, no grad,
    the run's autocast) at ``task.step``; return the metrics averaged over all ranks (a collective
    call: every rank must call it)."""
    info, step = task.dist, task.step
    modes = {n: m.training for n, m in task.models.items()}
    for n in task.models:
        task.model(n).eval()
    sampler = ShardSampler(len(dataset), info.world_size, info.rank, cfg.val_max_items)
    loader = DataLoader(
        dataset,
        batch_size=cfg.val_batch_size,
        sampler=sampler,
        num_workers=min(cfg.num_workers, 2),
        collate_fn=task.val_collate(),
        worker_init_fn=worker_init,
    )
    acc = MetricAccumulator()
    sample_dir = run_dir / "samples" / f"step_{step:08d}"
    t0 = time.time()
    with torch.no_grad(), task.autocast():
        for i, batch in enumerate(loader):
            res = task.validation_step(to_device(batch, task.device), i)
            if isinstance(res, Mapping):
                res = ValidationResult(metrics=dict(res))
            acc.add({k: float(v) for k, v in res.metrics.items()})
            if info.is_main and i < cfg.val_audio_samples and res.audio:
                write_samples(sample_dir, i, res, log, step)
    sums, counts = acc.totals()
    means = distributed.reduce_mean(sums, counts)
    for n, m in task.models.items():
        m.train(modes[n])
    if info.is_main:
        log.log("val", step, means, epoch=task.epoch, seconds=round(time.time() - t0, 2))
        prune_samples(run_dir / "samples", cfg.keep_samples)
        logger.info("step %d validation: %s", step, format_metrics(means))
    return means


def write_samples(directory: Path, index: int, res: ValidationResult, log: RunLogger, step: int) -> None:
    """Write ``res.audio`` as ``directory/<index>_<name>.wav`` (clamped to [-1, 1]) and to the logger;
    empty or non-finite audio is skipped with a warning."""
    if res.sample_rate is None:
        raise ValueError("ValidationResult.audio given without sample_rate")
    for key, wav in res.audio.items():
        w = wav.detach().float().cpu().reshape(-1).clamp(-1.0, 1.0)
        if w.numel() == 0 or not torch.isfinite(w).all():
            logger.warning("validation audio %r of item %d is empty or not finite; not written", key, index)
            continue
        save(directory / f"{index:02d}_{key}.wav", w[None], res.sample_rate)
        log.audio(f"{index:02d}/{key}", w, res.sample_rate, step)


def prune_samples(root: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` ``step_*`` folders of ``root`` (``keep <= 0``: keep all)."""
    if keep <= 0 or not root.is_dir():
        return
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_"))
    for p in dirs[:-keep]:
        shutil.rmtree(p, ignore_errors=True)


def format_metrics(values: Mapping[str, float]) -> str:
    """``"name=value, ..."`` of the finite float metrics."""
    return ", ".join(f"{k}={v:.4g}" for k, v in values.items() if isinstance(v, float) and math.isfinite(v))
