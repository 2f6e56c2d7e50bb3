"""The :class:`TrainingTask` base class: what a model's training code provides to the Trainer.

A task owns its models, optimizers, datasets and the body of one training step; the
:class:`~audiokit.train.Trainer` owns everything around it (devices, DDP, data loading, logging,
validation loop, checkpoints, LR decay, signals). Optimisation is manual: ``training_step`` runs
its own forward and backward passes and steps the optimizers through :meth:`step_optimizer`, so
GAN tasks (discriminator first, then generator) and plain tasks are written the same way::

    @dataclass
    class MyConfig:
        hidden: int = 64
        data: AudioDataConfig = field(default_factory=AudioDataConfig)

    class MyTask(TrainingTask):
        config_class = MyConfig

        def build_models(self):
            return {"net": Net(self.config.hidden)}

        def train_dataset(self):
            train, _ = self.config.data.datasets(seed=self.train.seed)
            return train

        def training_step(self, batch):
            loss = self.models["net"](batch["audio"]).pow(2).mean()
            stats = self.step_optimizer("main", loss)
            return {"loss": loss, **stats}

Set by the Trainer before ``training_step`` runs: ``models`` (name -> module, wrapped in DDP under
torchrun: call these in the step), ``optimizers``, ``schedulers`` (what the task's ``build_*`` made),
and the run-time :class:`~audiokit.train.context.TaskContext` (:meth:`TrainingTask.attach`), read
through the properties ``device``, ``dist`` (rank/world size), ``step`` (optimizer steps completed so
far), ``epoch``, ``run_dir``, ``resumed`` and ``autocast_dtype``.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from audiokit import metrics as M
from audiokit.train.config import to_dict
from audiokit.train.context import TaskContext
from audiokit.train.distributed import DistInfo, unwrap
from audiokit.train.optim import build_optimizer, build_scheduler
from audiokit.train.trainer_config import TrainerConfig

__all__ = ["TrainingTask", "ValidationResult", "ExportBundle"]

logger = logging.getLogger(__name__)


@dataclass
class ValidationResult:
    """What :meth:`TrainingTask.validation_step` returns for one validation batch.

    Attributes:
        metrics: name -> value; the Trainer averages each over all validation batches of all ranks.
        audio: name -> waveform ``(T,)`` or ``(1, T)`` to write as ``<index>_<name>.wav`` for the first
            ``train.val_audio_samples`` batches (e.g. ``{"generated": y_hat, "target": y}``).
        sample_rate: rate of ``audio`` (required when ``audio`` is given).
    """

    metrics: dict[str, float] = field(default_factory=dict)
    audio: dict[str, torch.Tensor] = field(default_factory=dict)
    sample_rate: int | None = None


@dataclass
class ExportBundle:
    """Released weights: ``model.safetensors`` (``weights``) and ``config.json`` (``config``).

    ``metadata`` (str -> str) goes into the safetensors header next to the provenance the exporter adds.
    """

    weights: dict[str, torch.Tensor]
    config: dict[str, Any]
    metadata: dict[str, str] = field(default_factory=dict)


class TrainingTask:
    """Base class of every training task; subclass it and implement the marked methods.

    Must implement: :meth:`build_models`, :meth:`train_dataset`, :meth:`training_step`.
    May override: :meth:`build_optimizers`, :meth:`build_schedulers`, :meth:`val_dataset`,
    :meth:`validation_step`, :meth:`train_collate`, :meth:`val_collate`, :meth:`export`,
    :meth:`on_train_start`, :meth:`on_train_end`, :meth:`extra_state`, :meth:`load_extra_state`.

    Args:
        config: an instance of :attr:`config_class` (``None`` when the task has no config).
        train: the engine settings (``train:`` section of the run config).
    """

    #: dataclass of the task's own config (the top-level YAML keys other than ``task``/``train``).
    config_class: ClassVar[type | None] = None

    def __init__(self, config: Any = None, train: TrainerConfig | None = None):
        if config is None and self.config_class is not None:
            config = self.config_class()
        self.config = config
        self.train = train if train is not None else TrainerConfig()
        self.models: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, Any] = {}
        self.context = TaskContext()
        self.skipped_steps: dict[str, int] = {}

    # ------------------------------------------------------------------ run-time context
    def attach(self, context: TaskContext) -> None:
        """Use ``context`` (the Trainer's, shared: the Trainer advances its ``step``/``epoch``)."""
        self.context = context

    @property
    def device(self) -> torch.device:
        """Where the models and batches live."""
        return self.context.device

    @device.setter
    def device(self, value: torch.device) -> None:
        self.context.device = value

    @property
    def dist(self) -> DistInfo:
        """Rank and world size."""
        return self.context.dist

    @dist.setter
    def dist(self, value: DistInfo) -> None:
        self.context.dist = value

    @property
    def run_dir(self) -> Path | None:
        """The run's folder (``None`` outside a run)."""
        return self.context.run_dir

    @run_dir.setter
    def run_dir(self, value: Path | None) -> None:
        self.context.run_dir = value

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The autocast dtype of the run's precision (``None``: fp32)."""
        return self.context.autocast_dtype

    @autocast_dtype.setter
    def autocast_dtype(self, value: torch.dtype | None) -> None:
        self.context.autocast_dtype = value

    @property
    def resumed(self) -> bool:
        """Whether the run resumed from a checkpoint."""
        return self.context.resumed

    @resumed.setter
    def resumed(self, value: bool) -> None:
        self.context.resumed = value

    @property
    def step(self) -> int:
        """Optimizer steps completed so far."""
        return self.context.step

    @step.setter
    def step(self, value: int) -> None:
        self.context.step = value

    @property
    def epoch(self) -> int:
        """The current epoch."""
        return self.context.epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self.context.epoch = value

    # ------------------------------------------------------------------ to implement
    def build_models(self) -> dict[str, nn.Module]:
        """Create the models (name -> module), on CPU; must not read any data.

        Called once by the Trainer (and by ``audiokit export``, which loads a checkpoint into them).
        """
        raise NotImplementedError

    def train_dataset(self) -> torch.utils.data.Dataset:
        """The training dataset (items collated by :meth:`train_collate`)."""
        raise NotImplementedError

    def training_step(self, batch: Any) -> Mapping[str, float | torch.Tensor]:
        """One optimisation step on ``batch`` (already on :attr:`device`).

        Run the forward passes through ``self.models[...]``, then :meth:`step_optimizer` for each
        optimizer. Return scalars to log (tensors are detached and averaged over ``log_every`` steps and
        over ranks).
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ optional
    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Default: one optimizer ``"main"`` (``train.optimizer``) over all models' parameters."""
        params = [p for m in self.models.values() for p in unwrap(m).parameters()]
        return {"main": build_optimizer(params, self.train.optimizer)}

    def build_schedulers(self) -> dict[str, Any]:
        """Default: one :class:`~audiokit.train.ExponentialDecay` (``train.lr_decay``) per optimizer.

        A scheduler's ``interval`` attribute (``"epoch"``, default, or ``"step"``) says when the
        Trainer calls its ``step()``.
        """
        return {name: build_scheduler(opt, self.train.lr_decay) for name, opt in self.optimizers.items()}

    def val_dataset(self) -> torch.utils.data.Dataset | None:
        """The validation dataset, or ``None`` for no validation."""
        return None

    def validation_step(self, batch: Any, index: int) -> ValidationResult:
        """Evaluate one validation batch (models in eval mode, under ``torch.no_grad``).

        ``index`` counts this rank's validation batches. Use :meth:`model` (unwrapped modules) here.
        Return a :class:`ValidationResult` (or a plain dict of metrics).
        """
        raise NotImplementedError(f"{type(self).__name__} has a val_dataset but no validation_step")

    def train_collate(self) -> Any:
        """Collate function of the training loader (``None``: torch's default collate)."""
        return None

    def val_collate(self) -> Any:
        """Collate function of the validation loader (``None``: torch's default collate)."""
        return None

    def export(self) -> ExportBundle:
        """What ``audiokit export`` writes.

        Default: the model named ``"generator"`` if there is one, else every model with its name as a
        key prefix; ``config`` is the task config as plain data.
        """
        if "generator" in self.models:
            weights = dict(self.model("generator").state_dict())
        else:
            weights = {f"{n}.{k}": v for n in self.models for k, v in self.model(n).state_dict().items()}
        config = to_dict(self.config) if self.config is not None else {}
        return ExportBundle(weights=weights, config=config)

    def on_train_start(self) -> None:
        """Called once after models, optimizers and any resumed state are in place (all ranks).

        ``self.resumed`` tells whether a checkpoint was loaded (e.g. initialise from pretrained weights
        only when it is False).
        """

    def on_train_end(self, status: str) -> None:
        """Called once on every rank when :meth:`Trainer.fit` ends (``status`` is ``"completed"`` or
        ``"interrupted"``), after the final checkpoint."""

    def extra_state(self) -> dict[str, Any]:
        """Additional state saved in checkpoints (tensors/numbers/strings only)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned."""

    # ------------------------------------------------------------------ helpers
    @property
    def is_main(self) -> bool:
        """True on rank 0."""
        return self.dist.is_main

    def model(self, name: str) -> nn.Module:
        """The plain (un-DDP-wrapped) module ``name``: use it for attributes, validation and export."""
        if name not in self.models:
            raise KeyError(f"no model named {name!r}; models: {sorted(self.models)}")
        return unwrap(self.models[name])

    @contextlib.contextmanager
    def autocast(self, enabled: bool = True) -> Iterator[None]:
        """Autocast context of the run's precision (a no-op for fp32, or with ``enabled=False``).

        The Trainer already runs ``training_step``/``validation_step`` inside it; use
        ``autocast(enabled=False)`` around numerically sensitive code (STFT losses) and cast inputs
        with ``.float()``.
        """
        if self.autocast_dtype is None:
            yield
            return
        with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=enabled):
            yield

    def step_optimizer(
        self,
        name: str,
        loss: torch.Tensor,
        *,
        max_norm: float | None | Literal["config"] = "config",
        clip_groups: Mapping[str, nn.Module | Iterable[nn.Parameter]] | None = None,
        zero_grad: bool = True,
    ) -> dict[str, float]:
        """Backward ``loss``, clip gradients and step optimizer ``name``; return gradient norms.

        Args:
            name: key in :attr:`optimizers`.
            loss: scalar loss; its backward runs outside autocast.
            max_norm: clip the L2 norm of each group to this value; ``"config"`` (default) uses
                ``train.grad_clip``; ``None`` never clips.
            clip_groups: name -> module or parameters, each clipped separately (AP-BWE clips the
                generator, MPD, MRAD and MRPD each to 10). Default: one group, all parameters of the
                optimizer.
            zero_grad: zero the optimizer's gradients before the backward pass.

        Returns:
            ``{"grad_norm/<group>": norm before clipping}``. When any norm is not finite (NaN/Inf loss
            or gradients; the same on every rank since gradients are all-reduced first) the update is
            skipped and counted in ``skipped_steps[name]``.
        """
        if name not in self.optimizers:
            raise KeyError(f"no optimizer named {name!r}; optimizers: {sorted(self.optimizers)}")
        opt = self.optimizers[name]
        if zero_grad:
            opt.zero_grad(set_to_none=True)
        with self.autocast(enabled=False):
            loss.backward()
        if max_norm == "config":
            max_norm = self.train.grad_clip
        if clip_groups is None:
            groups = {name: [p for g in opt.param_groups for p in g["params"]]}
        else:
            groups = {
                k: list(v.parameters()) if isinstance(v, nn.Module) else list(v)
                for k, v in clip_groups.items()
            }
        norms: dict[str, float] = {}
        finite = True
        for group, params in groups.items():
            grads = [p for p in params if p.grad is not None]
            if not grads:
                continue
            if max_norm is not None:
                norm = torch.nn.utils.clip_grad_norm_(grads, max_norm=max_norm, norm_type=2.0)
            else:
                norm = _total_norm(grads)
            value = float(norm)
            norms[f"grad_norm/{group}"] = value
            finite = finite and math.isfinite(value)
        if finite:
            opt.step()
        else:
            opt.zero_grad(set_to_none=True)
            self.skipped_steps[name] = self.skipped_steps.get(name, 0) + 1
            logger.warning(
                "step %d: non-finite gradient norm for optimizer %r; update skipped (%d so far)",
                self.step,
                name,
                self.skipped_steps[name],
            )
        return norms

    def audio_metrics(
        self,
        reference: torch.Tensor,
        estimate: torch.Tensor,
        sample_rate: int,
        names: Iterable[str] | None = None,
    ) -> dict[str, float]:
        """Objective metrics of ``estimate`` against ``reference`` (mono ``(T,)``/``(1, T)``).

        ``names`` defaults to ``train.val_metrics`` (e.g. pesq, stoi, lsd; see
        :data:`audiokit.metrics.METRICS`). A metric that fails on an item (PESQ on silence, too short
        for STOI) is left out for that item, with a debug log line.
        """
        names = list(self.train.val_metrics if names is None else names)
        unknown = [n for n in names if n not in M.METRICS]
        if unknown:
            raise ValueError(
                f"config key 'train.val_metrics': unknown metric(s) {unknown}; use {sorted(M.METRICS)}"
            )
        ref = reference.detach().float().cpu().reshape(-1)
        est = estimate.detach().float().cpu().reshape(-1)
        out = {}
        for n in names:
            try:
                out[n] = float(M.METRICS[n](ref, est, sample_rate))
            except Exception as e:  # metric undefined for this item
                logger.debug("metric %s failed on a validation item: %s", n, e)
        return out


def _total_norm(params: list[nn.Parameter]) -> torch.Tensor:
    norms = [torch.linalg.vector_norm(p.grad.detach(), 2.0) for p in params]
    return torch.linalg.vector_norm(torch.stack([n.to(norms[0].device) for n in norms]), 2.0)
