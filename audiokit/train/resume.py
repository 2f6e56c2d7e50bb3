"""What goes into a training checkpoint and back out of it: the state dict the Trainer saves
(:func:`training_state`), the newest readable checkpoint of a run (:func:`find_resume_state`), and
loading models, optimizers and schedulers from a checkpoint strictly (:func:`load_models`,
:func:`restore_task_state`). The file format itself is :mod:`audiokit.train.checkpoint`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from audiokit import __version__
from audiokit.train import distributed
from audiokit.train.checkpoint import CHECKPOINT_FORMAT, list_checkpoints, load_checkpoint
from audiokit.train.run_config import task_path
from audiokit.train.task import TrainingTask

__all__ = ["training_state", "find_resume_state", "load_models", "restore_task_state", "config_diff"]

logger = logging.getLogger(__name__)


def training_state(
    task: TrainingTask,
    run_config: Mapping[str, Any],
    batch_in_epoch: int,
    rng: list[dict[str, Any]],
) -> dict[str, Any]:
    """The checkpoint dict of ``task`` at its ``step``/``epoch`` (format of
    :mod:`audiokit.train.checkpoint`); ``rng`` holds every rank's RNG state."""
    return {
        "format": CHECKPOINT_FORMAT,
        "task": task_path(task),
        "config": run_config,
        "step": task.step,
        "epoch": task.epoch,
        "batch_in_epoch": batch_in_epoch,
        "models": {n: task.model(n).state_dict() for n in task.models},
        "optimizers": {n: o.state_dict() for n, o in task.optimizers.items()},
        "schedulers": {n: s.state_dict() for n, s in task.schedulers.items()},
        "rng": rng,
        "extra": task.extra_state(),
        "audiokit_version": __version__,
    }


def find_resume_state(ckpt_dir: Path, is_main: bool) -> tuple[str | None, dict[str, Any] | None]:
    """``(path, state)`` of the newest readable checkpoint in ``ckpt_dir`` (a damaged newest one
    falls back to the previous), or ``(None, None)``. A collective call: rank 0 looks, the path is
    broadcast, the other ranks load it."""
    latest, state = None, None
    if is_main:
        for step, path in reversed(list_checkpoints(ckpt_dir)):
            try:
                state = load_checkpoint(path)
                latest = str(path)
                break
            except ValueError as e:
                logger.warning("skipping %s (step %d)", e, step)
    latest = distributed.broadcast_object(latest)
    if latest is None:
        return None, None
    if state is None:
        state = load_checkpoint(latest)
    return latest, state


def load_models(models: Mapping[str, nn.Module], state: Mapping[str, Any], source: str | Path) -> None:
    """Load every model of ``models`` from ``state["models"]`` strictly.

    Raises:
        ValueError: a model is missing from the checkpoint or does not match it (names ``source``).
    """
    for name, module in models.items():
        if name not in state["models"]:
            raise ValueError(f"{source}: checkpoint has no model {name!r} (has {sorted(state['models'])})")
        try:
            module.load_state_dict(state["models"][name], strict=True)
        except RuntimeError as e:
            raise ValueError(f"{source}: model {name!r} does not match the checkpoint: {e}") from None


def restore_task_state(task: TrainingTask, state: Mapping[str, Any], source: str | Path) -> None:
    """Load the task's models, optimizers, schedulers and extra state from a checkpoint, strictly."""
    load_models(task.models, state, source)
    for kind, objs in (("optimizers", task.optimizers), ("schedulers", task.schedulers)):
        saved = state.get(kind, {})
        for name, obj in objs.items():
            if name not in saved:
                raise ValueError(f"{source}: checkpoint has no {kind[:-1]} {name!r}")
            obj.load_state_dict(saved[name])
    if state.get("extra"):
        task.load_extra_state(state["extra"])


def config_diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested mappings (or a key only one has)."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out = []
        for k in set(a) | set(b):
            key = f"{prefix}.{k}" if prefix else str(k)
            if k not in a or k not in b:
                out.append(key)
            else:
                out.extend(config_diff(a[k], b[k], key))
        return out
    return [] if a == b else [prefix]
