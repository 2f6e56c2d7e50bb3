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

Files in ``run_dir``: ``config.yaml`` (resolved config), ``log.jsonl``, ``checkpoints/step_*.pt``,
``samples/``, ``tensorboard/``.
"""

from __future__ import annotations

import logging
import math
import random
import shutil
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from audiokit.data.sampler import DistributedBatchSampler, ShardSampler
from audiokit.train import distributed as D
from audiokit.train.checkpoint import (
    CHECKPOINT_FORMAT,
    capture_rng_state,
    checkpoint_path,
    list_checkpoints,
    load_checkpoint,
    load_initial_weights,
    prune_checkpoints,
    restore_rng_state,
    save_checkpoint,
)
from audiokit.train.config import save_yaml, to_dict
from audiokit.train.logger import MetricAccumulator, RunLogger
from audiokit.train.run_config import RunConfig, TrainerConfig, task_path
from audiokit.train.task import TrainingTask, ValidationResult

__all__ = ["Trainer", "FitResult", "seed_everything"]

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global RNG and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _worker_init(worker_id: int) -> None:
    # torch seeds each worker with base_seed + worker_id, base_seed drawn from the loader's generator
    # (seeded per rank and epoch by the Trainer); derive numpy/python seeds from it.
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)
    # A SIGTERM/SIGINT sent to the whole process group (Ctrl-C, schedulers) must not kill the loader
    # workers: the main process finishes its step, saves a checkpoint and shuts them down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _to_device(batch: Any, device: torch.device) -> Any:
    """Move the tensors of a (nested) batch to ``device``; other values pass through."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=device.type == "cuda")
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, list):
        return [_to_device(v, device) for v in batch]
    if isinstance(batch, tuple):
        return tuple(_to_device(v, device) for v in batch)
    return batch


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
        self._signal: int | None = None
        self._old_handlers: dict[int, Any] = {}

    @classmethod
    def from_config(cls, run: RunConfig) -> Trainer:
        """A Trainer for a validated :class:`RunConfig` (see :func:`load_run_config`)."""
        return cls(run.build(), run.to_dict())

    # ------------------------------------------------------------------ set-up
    def _setup(self) -> None:
        cfg, task = self.cfg, self.task
        if not cfg.run_dir:
            raise ValueError("config key 'train.run_dir' is required (the folder for checkpoints and logs)")
        if cfg.max_steps is None and cfg.max_epochs is None:
            raise ValueError("set config key 'train.max_steps' or 'train.max_epochs' (both are null)")
        self.info, self.device = D.init_distributed(cfg.backend, cfg.device)
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
        task.device = self.device
        task.dist = self.info
        task.run_dir = self.run_dir
        task.autocast_dtype = torch.bfloat16 if cfg.precision == "bf16" else None

        seed_everything(cfg.seed)  # identical initial weights on every rank
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

        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.last_saved_step: int | None = None
        task.resumed = False
        if cfg.resume:
            self._resume()
        # per-rank randomness for training (dropout, noise) unless restored from the checkpoint
        if not task.resumed:
            seed_everything(cfg.seed + 7919 * self.info.rank)
            self._init_from(cfg.init_from)
        task.models = {
            n: D.wrap_ddp(m, self.device, cfg.find_unused_parameters) for n, m in task.models.items()
        }
        for m in task.models.values():
            m.train()
        task.step, task.epoch = self.step, self.epoch

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
            worker_init_fn=_worker_init,
            generator=self.loader_gen,
        )
        self.val_ds = task.val_dataset() if cfg.validate_every or cfg.validate_at_start else None

        self.log = RunLogger(self.run_dir, enabled=self.info.is_main, tensorboard=cfg.tensorboard)
        if self.info.is_main:
            save_yaml(self.run_config, self.run_dir / "config.yaml")
            n_params = {n: sum(p.numel() for p in task.model(n).parameters()) for n in task.models}
            self.log.log(
                "event",
                self.step,
                {},
                event="resume" if task.resumed else "start",
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
        task.on_train_start()

    def _init_from(self, sources: Mapping[str, str]) -> None:
        """Load initial weights into the named models (``train.init_from``), strictly."""
        task = self.task
        for name, source in sources.items():
            if name not in task.models:
                raise ValueError(f"config key 'init_from': no model {name!r} (models: {sorted(task.models)})")
            load_initial_weights(task.models[name], source, name)
            logger.info("initialised model %r from %s", name, source)

    def _resume(self) -> None:
        latest, state = None, None
        if self.info.is_main:
            found = list_checkpoints(self.ckpt_dir)
            # the newest readable checkpoint (a damaged newest one falls back to the previous)
            for step, path in reversed(found):
                try:
                    state = load_checkpoint(path)
                    latest = str(path)
                    break
                except ValueError as e:
                    logger.warning("skipping %s (step %d)", e, step)
        latest = D.broadcast_object(latest)
        if latest is None:
            return
        if state is None:
            state = load_checkpoint(latest)
        task = self.task
        for name, m in task.models.items():
            if name not in state["models"]:
                raise ValueError(
                    f"{latest}: checkpoint has no model {name!r} (has {sorted(state['models'])})"
                )
            try:
                m.load_state_dict(state["models"][name], strict=True)
            except RuntimeError as e:
                raise ValueError(f"{latest}: model {name!r} does not match the checkpoint: {e}") from None
        for kind, objs in (("optimizers", task.optimizers), ("schedulers", task.schedulers)):
            saved = state.get(kind, {})
            for name, obj in objs.items():
                if name not in saved:
                    raise ValueError(f"{latest}: checkpoint has no {kind[:-1]} {name!r}")
                obj.load_state_dict(saved[name])
        if state.get("extra"):
            task.load_extra_state(state["extra"])
        self.step = int(state["step"])
        self.epoch = int(state.get("epoch", 0))
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
            seed_everything(self.cfg.seed + 7919 * self.info.rank + self.step)
        task.resumed = True
        self._warn_config_changes(state.get("config", {}))
        logger.info("resumed from %s (step %d, epoch %d)", latest, self.step, self.epoch)

    def _warn_config_changes(self, saved: Mapping[str, Any]) -> None:
        if not self.info.is_main:
            return
        changed = sorted(_diff(saved, self.run_config))
        if changed:
            logger.warning("config differs from the checkpoint's in: %s", ", ".join(changed))

    # ------------------------------------------------------------------ signals
    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)

    def _restore_signals(self) -> None:
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self._old_handlers.clear()

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._signal is not None:  # second signal: give up immediately
            self._restore_signals()
            signal.raise_signal(signum)
            return
        self._signal = signum
        logger.warning(
            "received %s: saving a checkpoint after this step, then stopping (send again to abort)",
            signal.Signals(signum).name,
        )

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> Path | None:
        """Write a checkpoint of the current state (a collective call: every rank must call it)."""
        task = self.task
        rng = D.all_gather_object(capture_rng_state())
        path = checkpoint_path(self.ckpt_dir, self.step)
        if self.info.is_main:
            state = {
                "format": CHECKPOINT_FORMAT,
                "task": task_path(task),
                "config": self.run_config,
                "step": self.step,
                "epoch": self.epoch,
                "batch_in_epoch": self.batch_in_epoch,
                "models": {n: task.model(n).state_dict() for n in task.models},
                "optimizers": {n: o.state_dict() for n, o in task.optimizers.items()},
                "schedulers": {n: s.state_dict() for n, s in task.schedulers.items()},
                "rng": rng,
                "extra": task.extra_state(),
                "audiokit_version": _version(),
            }
            save_checkpoint(state, path)
            prune_checkpoints(self.ckpt_dir, self.cfg.keep_checkpoints)
            self.log.log("event", self.step, {}, event="checkpoint", path=str(path), epoch=self.epoch)
        self.last_saved_step = self.step
        D.barrier()
        return path

    # ------------------------------------------------------------------ validation
    def validate(self) -> dict[str, float]:
        """Run the task's validation over its (sharded) validation set; return the averaged metrics."""
        task, cfg = self.task, self.cfg
        if self.val_ds is None:
            return {}
        modes = {n: m.training for n, m in task.models.items()}
        for n in task.models:
            task.model(n).eval()
        sampler = ShardSampler(len(self.val_ds), self.info.world_size, self.info.rank, cfg.val_max_items)
        loader = DataLoader(
            self.val_ds,
            batch_size=cfg.val_batch_size,
            sampler=sampler,
            num_workers=min(cfg.num_workers, 2),
            collate_fn=task.val_collate(),
            worker_init_fn=_worker_init,
        )
        acc = MetricAccumulator()
        sample_dir = self.run_dir / "samples" / f"step_{self.step:08d}"
        t0 = time.time()
        with torch.no_grad(), task.autocast():
            for i, batch in enumerate(loader):
                res = task.validation_step(_to_device(batch, self.device), i)
                if isinstance(res, Mapping):
                    res = ValidationResult(metrics=dict(res))
                acc.add({k: float(v) for k, v in res.metrics.items()})
                if self.info.is_main and i < cfg.val_audio_samples and res.audio:
                    self._write_samples(sample_dir, i, res)
        sums, counts = acc.totals()
        means = D.reduce_mean(sums, counts)
        for n, m in task.models.items():
            m.train(modes[n])
        if self.info.is_main:
            self.log.log("val", self.step, means, epoch=self.epoch, seconds=round(time.time() - t0, 2))
            self._prune_samples()
            logger.info("step %d validation: %s", self.step, _fmt(means))
        return means

    def _write_samples(self, directory: Path, index: int, res: ValidationResult) -> None:
        from audiokit.io import save

        if res.sample_rate is None:
            raise ValueError("ValidationResult.audio given without sample_rate")
        for key, wav in res.audio.items():
            w = wav.detach().float().cpu().reshape(-1).clamp(-1.0, 1.0)
            if w.numel() == 0 or not torch.isfinite(w).all():
                logger.warning(
                    "validation audio %r of item %d is empty or not finite; not written", key, index
                )
                continue
            save(directory / f"{index:02d}_{key}.wav", w[None], res.sample_rate)
            self.log.audio(f"{index:02d}/{key}", w, res.sample_rate, self.step)

    def _prune_samples(self) -> None:
        keep = self.cfg.keep_samples
        root = self.run_dir / "samples"
        if keep <= 0 or not root.is_dir():
            return
        dirs = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_"))
        for p in dirs[:-keep]:
            shutil.rmtree(p, ignore_errors=True)

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
        self._install_signals()
        try:
            return self._loop()
        finally:
            self._restore_signals()
            if hasattr(self, "log"):
                self.log.close()
            D.shutdown_distributed()

    def _loop(self) -> FitResult:
        task, cfg, info = self.task, self.cfg, self.info
        from tqdm import tqdm

        bar = tqdm(
            total=cfg.max_steps,
            initial=self.step,
            unit="step",
            dynamic_ncols=True,
            disable=True if not (info.is_main and cfg.progress) else None,
        )
        acc = MetricAccumulator()
        t_last = time.time()
        data_time = 0.0
        if cfg.validate_at_start and self.step == 0:
            self.validate()
        stop_signal: int | None = None
        try:
            while not self._done():
                self.sampler.set_epoch(self.epoch, self.batch_in_epoch)
                if hasattr(self.train_ds, "set_epoch"):
                    self.train_ds.set_epoch(self.epoch)
                self.loader_gen.manual_seed(cfg.seed * 1_000_003 + info.rank * 10_007 + self.epoch)
                it = iter(self.loader)
                while True:
                    t_fetch = time.time()
                    try:
                        batch = next(it)
                    except StopIteration:
                        break
                    data_time += time.time() - t_fetch
                    task.step, task.epoch = self.step, self.epoch
                    with task.autocast():
                        out = task.training_step(_to_device(batch, self.device))
                    self.step += 1
                    self.batch_in_epoch += 1
                    task.step = self.step
                    acc.add(dict(out or {}))
                    self._step_schedulers("step")
                    bar.update(1)

                    if self.step % cfg.log_every == 0:
                        sums, counts = acc.totals()
                        means = D.reduce_mean(sums, counts)
                        acc.reset()
                        now = time.time()
                        timing = {
                            "time/step_s": (now - t_last) / cfg.log_every,
                            "time/data_s": data_time / cfg.log_every,
                        }
                        t_last, data_time = now, 0.0
                        if info.is_main:
                            self.log.log(
                                "train", self.step, {**means, **self._lrs(), **timing}, epoch=self.epoch
                            )
                            bar.set_postfix(_postfix(means), refresh=False)
                    if cfg.validate_every and self.step % cfg.validate_every == 0:
                        self.validate()
                    if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                        self.save()
                    if D.any_true(self._signal is not None, self.device):
                        stop_signal = self._signal if self._signal is not None else signal.SIGTERM
                        break
                    if self._done():
                        break
                del it
                if stop_signal is not None:
                    break
                if self.batch_in_epoch >= len(self.sampler):  # the epoch ran to its end
                    self.epoch += 1
                    self.batch_in_epoch = 0
                    self._step_schedulers("epoch")
                    if info.is_main:
                        self.log.log("event", self.step, self._lrs(), event="epoch_end", epoch=self.epoch)
        finally:
            bar.close()
        if stop_signal is not None:
            # every rank got here at the same step (any_true above), so the save is collective
            path = (
                self.save()
                if self.last_saved_step != self.step
                else checkpoint_path(self.ckpt_dir, self.step)
            )
            if info.is_main:
                self.log.log("event", self.step, {}, event="interrupted", signal=int(stop_signal))
                logger.warning(
                    "stopped by %s at step %d; checkpoint %s (rerun the same command to resume)",
                    signal.Signals(stop_signal).name,
                    self.step,
                    path,
                )
            self.task.on_train_end("interrupted")
            return FitResult("interrupted", self.step, self.epoch, path, int(stop_signal))
        path = self.save() if self.last_saved_step != self.step else checkpoint_path(self.ckpt_dir, self.step)
        if info.is_main:
            self.log.log("event", self.step, {}, event="completed", epoch=self.epoch)
        self.task.on_train_end("completed")
        return FitResult("completed", self.step, self.epoch, path)


def _postfix(means: Mapping[str, float], limit: int = 4) -> dict[str, str]:
    keys = [k for k in means if not k.startswith(("grad_norm/", "time/", "lr/"))][:limit]
    return {k: f"{means[k]:.4g}" for k in keys}


def _fmt(values: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in values.items() if isinstance(v, float) and math.isfinite(v))


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out = []
        for k in set(a) | set(b):
            key = f"{prefix}.{k}" if prefix else str(k)
            if k not in a or k not in b:
                out.append(key)
            else:
                out.extend(_diff(a[k], b[k], key))
        return out
    return [] if a == b else [prefix]


def _version() -> str:
    from audiokit import __version__

    return __version__
