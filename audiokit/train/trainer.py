"""The :class:`Trainer`: runs any :class:`~audiokit.train.TrainingTask`, alone or under torchrun.

What it does around the task's ``training_step``:

* joins the torchrun process group (gloo on CPU, nccl on GPU), picks the device, wraps every model
  with trainable parameters in DistributedDataParallel;
* loads data with a :class:`~audiokit.data.DistributedBatchSampler` (global ``train.batch_size`` split
  over the ranks, reshuffled per epoch, resumable mid-epoch), calls ``dataset.set_epoch(epoch)`` when
  the dataset has it, seeds loader workers deterministically;
* logs the step metrics averaged over ``log_every`` steps and over ranks (rank 0 writes
  ``log.jsonl``, TensorBoard if installed, and a tqdm bar);
* validates every ``validate_every`` steps (sharded over ranks, metrics all-reduced, audio examples
  written by rank 0 to ``samples/step_XXXXXXXX/``);
* saves checkpoints atomically every ``checkpoint_every`` steps, at the end, and on SIGTERM/SIGINT
  (rank 0 writes; all ranks stop at the same step), keeps the newest ``keep_checkpoints``;
* resumes from the newest checkpoint of ``run_dir`` when rerun (models, optimizers, schedulers,
  step, epoch, position in the epoch, every rank's RNG states);
* steps LR schedulers per epoch or per step (their ``interval`` attribute);
* runs ``training_step``/``validation_step`` under bf16 autocast when ``train.precision="bf16"``.

The pieces live in their own modules: :mod:`~audiokit.train.context` (the state handed to the
task), :mod:`~audiokit.train.loading` (seeding, batches to device), :mod:`~audiokit.train.validation`,
:mod:`~audiokit.train.resume` (checkpoint contents, resuming), :mod:`~audiokit.train.signals`; this
module is the set-up and the loop.

Files in ``run_dir``: ``config.yaml`` (resolved config), ``log.jsonl``, ``checkpoints/step_*.pt``,
``samples/``, ``tensorboard/``.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from audiokit.data.sampler import DistributedBatchSampler
from audiokit.train import distributed
from audiokit.train.checkpoint import (
    capture_rng_state,
    checkpoint_path,
    load_initial_weights,
    prune_checkpoints,
    restore_rng_state,
    save_checkpoint,
)
from audiokit.train.config import save_yaml, to_dict
from audiokit.train.context import TaskContext
from audiokit.train.loading import (
    RANK_SEED_STRIDE,
    epoch_loader_seed,
    seed_everything,
    to_device,
    worker_init,
)
from audiokit.train.logger import MetricAccumulator, RunLogger
from audiokit.train.resume import config_diff, find_resume_state, restore_task_state, training_state
from audiokit.train.run_config import RunConfig, task_path
from audiokit.train.signals import GracefulStop
from audiokit.train.task import TrainingTask
from audiokit.train.trainer_config import TrainerConfig
from audiokit.train.validation import run_validation

__all__ = ["Trainer", "FitResult", "seed_everything"]

logger = logging.getLogger(__name__)


@dataclass
class FitResult:
    """Outcome of :meth:`Trainer.fit`.

    ``status`` is ``"completed"`` (max_steps/max_epochs reached) or ``"interrupted"`` (a signal
    arrived; a checkpoint was saved and rerunning the same command resumes). ``signal`` is the
    signal number in the second case.
    """

    status: str
    step: int
    epoch: int
    checkpoint: Path | None
    signal: int | None = None


class Trainer:
    """Runs a :class:`TrainingTask` to ``train.max_steps``/``train.max_epochs``.

    Args:
        task: the task, carrying its config and the engine settings (``task.train``).
        run_config: the resolved config to save as ``run_dir/config.yaml`` and in checkpoints;
            default: built from the task (``task`` import path, ``train``, the task config).

    Example:
        >>> run = load_run_config("recipes/x/config.yaml", ["train.max_steps=100"])  # doctest: +SKIP
        >>> Trainer(run.build()).fit()  # doctest: +SKIP
    """

    def __init__(self, task: TrainingTask, run_config: Mapping[str, Any] | None = None):
        if not isinstance(task, TrainingTask):
            raise TypeError(f"Trainer needs a TrainingTask, got {type(task).__name__}")
        self.task = task
        self.cfg: TrainerConfig = task.train
        if run_config is None:
            run_config = RunConfig(type(task), task.config, task.train).to_dict()
        self.run_config = to_dict(dict(run_config))
        self.ctx = TaskContext()
        self.stop = GracefulStop()

    @classmethod
    def from_config(cls, run: RunConfig) -> Trainer:
        """A Trainer for a validated :class:`RunConfig` (see :func:`load_run_config`)."""
        return cls(run.build(), run.to_dict())

    @property
    def step(self) -> int:
        """Optimizer steps completed (the task context's)."""
        return self.ctx.step

    @property
    def epoch(self) -> int:
        """The current epoch (the task context's)."""
        return self.ctx.epoch

    # ------------------------------------------------------------------ set-up
    def _setup(self) -> None:
        self._init_runtime()
        self._build_models()
        self.batch_in_epoch = 0
        self.last_saved_step: int | None = None
        if self.cfg.resume:
            self._resume()
        if not self.ctx.resumed:  # per-rank randomness for training (dropout, noise)
            seed_everything(self.cfg.seed + RANK_SEED_STRIDE * self.info.rank)
            self._init_from(self.cfg.init_from)
        self._wrap_models()
        self._build_loaders()
        self.log = RunLogger(self.run_dir, enabled=self.info.is_main, tensorboard=self.cfg.tensorboard)
        if self.info.is_main:
            self._announce()
        self.task.on_train_start()

    def _init_runtime(self) -> None:
        """Check the run settings, join the process group, set the backends, attach the context."""
        cfg = self.cfg
        if not cfg.run_dir:
            raise ValueError("config key 'train.run_dir' is required (the folder for checkpoints and logs)")
        if cfg.max_steps is None and cfg.max_epochs is None:
            raise ValueError("set config key 'train.max_steps' or 'train.max_epochs' (both are null)")
        self.info, self.device = distributed.init_distributed(cfg.backend, cfg.device)
        self.run_dir = Path(cfg.run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        if cfg.batch_size % self.info.world_size:
            raise ValueError(
                f"config key 'train.batch_size': {cfg.batch_size} is not divisible by the "
                f"{self.info.world_size} processes"
            )
        self.local_batch = cfg.batch_size // self.info.world_size
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        elif self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.ctx = TaskContext(
            device=self.device,
            dist=self.info,
            run_dir=self.run_dir,
            autocast_dtype=torch.bfloat16 if cfg.precision == "bf16" else None,
        )
        self.task.attach(self.ctx)

    def _build_models(self) -> None:
        """The task's models (identical initial weights on every rank), optimizers and schedulers."""
        task = self.task
        seed_everything(self.cfg.seed)
        models = task.build_models()
        if not isinstance(models, Mapping) or not models:
            raise TypeError(
                f"{type(task).__name__}.build_models() must return a non-empty dict name -> Module"
            )
        for name, m in models.items():
            if not isinstance(m, nn.Module):
                raise TypeError(f"{type(task).__name__}.build_models()[{name!r}] is not an nn.Module")
        task.models = {n: m.to(self.device) for n, m in models.items()}
        task.optimizers = dict(task.build_optimizers())
        task.schedulers = dict(task.build_schedulers())
        for name, sched in task.schedulers.items():
            interval = getattr(sched, "interval", "epoch")
            if interval not in ("epoch", "step"):
                raise ValueError(f"scheduler {name!r}: interval must be 'epoch' or 'step', got {interval!r}")

    def _wrap_models(self) -> None:
        task = self.task
        task.models = {
            n: distributed.wrap_ddp(m, self.device, self.cfg.find_unused_parameters)
            for n, m in task.models.items()
        }
        for m in task.models.values():
            m.train()

    def _build_loaders(self) -> None:
        cfg, task = self.cfg, self.task
        self.train_ds = task.train_dataset()
        self.sampler = DistributedBatchSampler(
            len(self.train_ds),
            self.local_batch,
            self.info.world_size,
            self.info.rank,
            shuffle=True,
            seed=cfg.seed,
        )
        self.loader_gen = torch.Generator()
        self.loader = DataLoader(
            self.train_ds,
            batch_sampler=self.sampler,
            num_workers=cfg.num_workers,
            collate_fn=task.train_collate(),
            pin_memory=self.device.type == "cuda",
            worker_init_fn=worker_init,
            generator=self.loader_gen,
        )
        self.val_ds = task.val_dataset() if cfg.validate_every or cfg.validate_at_start else None

    def _announce(self) -> None:
        """Rank 0: save ``config.yaml``, log the start (or resume) event."""
        task = self.task
        save_yaml(self.run_config, self.run_dir / "config.yaml")
        n_params = {n: sum(p.numel() for p in task.model(n).parameters()) for n in task.models}
        self.log.log(
            "event",
            self.step,
            {},
            event="resume" if self.ctx.resumed else "start",
            epoch=self.epoch,
            world_size=self.info.world_size,
            device=str(self.device),
            parameters=n_params,
            batches_per_epoch=len(self.sampler),
        )
        logger.info(
            "training %s in %s: %s parameters, %d batches/epoch/rank, world size %d, %s",
            task_path(task),
            self.run_dir,
            ", ".join(f"{n}={v:,}" for n, v in n_params.items()),
            len(self.sampler),
            self.info.world_size,
            self.device,
        )

    def _init_from(self, sources: Mapping[str, str]) -> None:
        """Load initial weights into the named models (``train.init_from``), strictly."""
        task = self.task
        for name, source in sources.items():
            if name not in task.models:
                raise ValueError(f"config key 'init_from': no model {name!r} (models: {sorted(task.models)})")
            load_initial_weights(task.models[name], source, name)
            logger.info("initialised model %r from %s", name, source)

    # ------------------------------------------------------------------ resume
    def _resume(self) -> None:
        latest, state = find_resume_state(self.ckpt_dir, self.info.is_main)
        if latest is None or state is None:
            return
        restore_task_state(self.task, state, latest)
        self.ctx.step = int(state["step"])
        self.ctx.epoch = int(state.get("epoch", 0))
        self.batch_in_epoch = int(state.get("batch_in_epoch", 0))
        self.last_saved_step = self.step
        rng = state.get("rng") or []
        if len(rng) == self.info.world_size:
            restore_rng_state(rng[self.info.rank])
        else:
            logger.warning(
                "checkpoint was written by %d process(es), now %d: RNG streams are reseeded",
                len(rng),
                self.info.world_size,
            )
            seed_everything(self.cfg.seed + RANK_SEED_STRIDE * self.info.rank + self.step)
        self.ctx.resumed = True
        self._warn_config_changes(state.get("config", {}))
        logger.info("resumed from %s (step %d, epoch %d)", latest, self.step, self.epoch)

    def _warn_config_changes(self, saved: Mapping[str, Any]) -> None:
        if not self.info.is_main:
            return
        changed = sorted(config_diff(saved, self.run_config))
        if changed:
            logger.warning("config differs from the checkpoint's in: %s", ", ".join(changed))

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> Path | None:
        """Write a checkpoint of the current state (a collective call: every rank must call it)."""
        rng = distributed.all_gather_object(capture_rng_state())
        path = checkpoint_path(self.ckpt_dir, self.step)
        if self.info.is_main:
            save_checkpoint(training_state(self.task, self.run_config, self.batch_in_epoch, rng), path)
            prune_checkpoints(self.ckpt_dir, self.cfg.keep_checkpoints)
            self.log.log("event", self.step, {}, event="checkpoint", path=str(path), epoch=self.epoch)
        self.last_saved_step = self.step
        distributed.barrier()
        return path

    def _final_checkpoint(self) -> Path:
        """Save unless the current step is saved already (a collective call); the path."""
        if self.last_saved_step != self.step:
            return self.save()
        return checkpoint_path(self.ckpt_dir, self.step)

    # ------------------------------------------------------------------ validation
    def validate(self) -> dict[str, float]:
        """Run the task's validation over its (sharded) validation set; return the averaged metrics."""
        if self.val_ds is None:
            return {}
        return run_validation(self.task, self.val_ds, self.cfg, self.run_dir, self.log)

    # ------------------------------------------------------------------ the loop
    def _done(self) -> bool:
        cfg = self.cfg
        return (cfg.max_steps is not None and self.step >= cfg.max_steps) or (
            cfg.max_epochs is not None and self.epoch >= cfg.max_epochs
        )

    def _step_schedulers(self, interval: str) -> None:
        for sched in self.task.schedulers.values():
            if getattr(sched, "interval", "epoch") == interval:
                sched.step()

    def _lrs(self) -> dict[str, float]:
        return {f"lr/{n}": float(o.param_groups[0]["lr"]) for n, o in self.task.optimizers.items()}

    def fit(self) -> FitResult:
        """Train until ``max_steps``/``max_epochs`` or a signal; return how it ended."""
        self._setup()
        try:
            with self.stop:
                return self._loop()
        finally:
            if hasattr(self, "log"):
                self.log.close()
            distributed.shutdown_distributed()

    def _loop(self) -> FitResult:
        cfg, info = self.cfg, self.info
        bar = tqdm(
            total=cfg.max_steps,
            initial=self.step,
            unit="step",
            dynamic_ncols=True,
            disable=True if not (info.is_main and cfg.progress) else None,
        )
        self._acc = MetricAccumulator()
        self._t_last, self._data_time = time.time(), 0.0
        if cfg.validate_at_start and self.step == 0:
            self.validate()
        stop_signal: int | None = None
        try:
            while not self._done() and stop_signal is None:
                stop_signal = self._run_epoch(bar)
        finally:
            bar.close()
        return self._finish(stop_signal)

    def _run_epoch(self, bar: tqdm) -> int | None:
        """Train on the rest of the current epoch (stopping early at the end of training or on a
        signal); roll the epoch over if it ran to its end. Returns the stop signal, if any."""
        cfg, info = self.cfg, self.info
        self.sampler.set_epoch(self.epoch, self.batch_in_epoch)
        if hasattr(self.train_ds, "set_epoch"):
            self.train_ds.set_epoch(self.epoch)
        self.loader_gen.manual_seed(epoch_loader_seed(cfg.seed, info.rank, self.epoch))
        it = iter(self.loader)
        stop_signal: int | None = None
        while True:
            t_fetch = time.time()
            try:
                batch = next(it)
            except StopIteration:
                break
            self._data_time += time.time() - t_fetch
            self._train_step(batch)
            bar.update(1)
            self._after_step(bar)
            if distributed.any_true(self.stop.requested, self.device):
                stop_signal = self.stop.signal if self.stop.signal is not None else signal.SIGTERM
                break
            if self._done():
                break
        del it
        if stop_signal is None and self.batch_in_epoch >= len(self.sampler):  # the epoch ran to its end
            self.ctx.epoch += 1
            self.batch_in_epoch = 0
            self._step_schedulers("epoch")
            if info.is_main:
                self.log.log("event", self.step, self._lrs(), event="epoch_end", epoch=self.epoch)
        return stop_signal

    def _train_step(self, batch: Any) -> None:
        with self.task.autocast():
            out = self.task.training_step(to_device(batch, self.device))
        self.ctx.step += 1
        self.batch_in_epoch += 1
        self._acc.add(dict(out or {}))
        self._step_schedulers("step")

    def _after_step(self, bar: tqdm) -> None:
        """Log every ``log_every``, validate every ``validate_every``, save every ``checkpoint_every``."""
        cfg = self.cfg
        if self.step % cfg.log_every == 0:
            self._log_train(bar)
        if cfg.validate_every and self.step % cfg.validate_every == 0:
            self.validate()
        if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
            self.save()

    def _log_train(self, bar: tqdm) -> None:
        cfg = self.cfg
        sums, counts = self._acc.totals()
        means = distributed.reduce_mean(sums, counts)
        self._acc.reset()
        now = time.time()
        timing = {
            "time/step_s": (now - self._t_last) / cfg.log_every,
            "time/data_s": self._data_time / cfg.log_every,
        }
        self._t_last, self._data_time = now, 0.0
        if self.info.is_main:
            self.log.log("train", self.step, {**means, **self._lrs(), **timing}, epoch=self.epoch)
            bar.set_postfix(_postfix(means), refresh=False)

    def _finish(self, stop_signal: int | None) -> FitResult:
        """The final checkpoint (every rank got here at the same step, so the save is collective),
        the end event, ``on_train_end``."""
        path = self._final_checkpoint()
        if stop_signal is not None:
            if self.info.is_main:
                self.log.log("event", self.step, {}, event="interrupted", signal=int(stop_signal))
                logger.warning(
                    "stopped by %s at step %d; checkpoint %s (rerun the same command to resume)",
                    signal.Signals(stop_signal).name,
                    self.step,
                    path,
                )
            self.task.on_train_end("interrupted")
            return FitResult("interrupted", self.step, self.epoch, path, int(stop_signal))
        if self.info.is_main:
            self.log.log("event", self.step, {}, event="completed", epoch=self.epoch)
        self.task.on_train_end("completed")
        return FitResult("completed", self.step, self.epoch, path)


def _postfix(means: Mapping[str, float], limit: int = 4) -> dict[str, str]:
    keys = [k for k in means if not k.startswith(("grad_norm/", "time/", "lr/"))][:limit]
    return {k: f"{means[k]:.4g}" for k in keys}
