"""The run config: which task to train, the engine's settings (``train:``) and the task's own keys.

A run config YAML looks like::

    task: audiokit.vocoders.training:APNetTask   # import path of a TrainingTask subclass
    train:                                       # TrainerConfig (engine settings)
      run_dir: runs/apnet
      max_steps: 1000000
      batch_size: 16
      optimizer: {lr: 2.0e-4, betas: [0.8, 0.99]}
      lr_decay: {gamma: 0.999, interval: epoch}
    model: {...}                                 # every other top-level key belongs to the
    data: {...}                                  # task's config dataclass (TrainingTask.config_class)

:func:`load_run_config` reads it, applies ``key=value`` overrides and validates everything
(unknown keys and wrong types raise a ``ValueError`` naming the dotted key).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audiokit.train.config import apply_overrides, from_dict, load_yaml, to_dict
from audiokit.train.task import TrainingTask
from audiokit.train.trainer_config import TrainerConfig

__all__ = ["TrainerConfig", "RunConfig", "task_path", "import_task", "load_run_config", "build_task"]


@dataclass
class RunConfig:
    """A validated run config: the task class, its config object and the engine settings."""

    task_cls: type[TrainingTask]
    task_config: Any
    train: TrainerConfig

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data (what ``run_dir/config.yaml`` holds)."""
        out: dict[str, Any] = {"task": task_path(self.task_cls), "train": to_dict(self.train)}
        if self.task_config is not None:
            out.update(to_dict(self.task_config))
        return out

    def build(self) -> TrainingTask:
        """Instantiate the task."""
        return self.task_cls(self.task_config, self.train)


def task_path(cls_or_obj: Any) -> str:
    """``"package.module:QualName"`` of a task class or instance."""
    cls = cls_or_obj if isinstance(cls_or_obj, type) else type(cls_or_obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def import_task(path: str) -> type[TrainingTask]:
    """Import a :class:`~audiokit.train.TrainingTask` subclass from ``"pkg.mod:Class"`` (or
    ``"pkg.mod.Class"``).

    Raises:
        ValueError: the module or class cannot be imported or is not a TrainingTask (names the key).
    """
    if not isinstance(path, str) or not path.strip():
        raise ValueError(
            "config key 'task': missing; set it to the task's import path (package.module:Class)"
        )
    if ":" in path:
        mod_name, _, attr = path.partition(":")
    else:
        mod_name, _, attr = path.rpartition(".")
    if not mod_name or not attr:
        raise ValueError(f"config key 'task': {path!r} is not an import path like package.module:Class")
    try:
        module = importlib.import_module(mod_name)
    except ImportError as e:
        raise ValueError(f"config key 'task': cannot import module {mod_name!r} ({e})") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"config key 'task': module {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, TrainingTask)):
        raise ValueError(f"config key 'task': {path!r} is not a TrainingTask subclass")
    return obj


def build_task(data: dict[str, Any]) -> RunConfig:
    """Validate a plain run-config mapping (``task``, ``train`` and the task's keys)."""
    data = dict(data)
    cls = import_task(data.pop("task", None))
    train = from_dict(TrainerConfig, data.pop("train", None) or {}, _path="train")
    config_cls = cls.config_class
    if config_cls is None:
        if data:
            raise ValueError(f"unknown config key '{next(iter(data))}' ({task_path(cls)} takes no config)")
        task_config = None
    else:
        for reserved in ("task", "train"):
            if any(f == reserved for f in getattr(config_cls, "__dataclass_fields__", {})):
                raise TypeError(f"{config_cls.__qualname__} may not have a field named {reserved!r}")
        task_config = from_dict(config_cls, data)
    return RunConfig(cls, task_config, train)


def load_run_config(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Read a run-config YAML, validate it, apply dotted ``key=value`` overrides and validate again.

    Overrides apply to the *resolved* config (YAML plus defaults), so ``discriminators.mrd.weight=0.2``
    changes one value of a default mapping without dropping its other entries. (An override of
    ``task`` applies to the YAML as written, since the other task's defaults differ.)
    When ``train.run_dir`` is not set it defaults to ``runs/<yaml file stem>``.
    """
    raw = load_yaml(path)
    overrides = list(overrides)
    if any(o.split("=", 1)[0].strip() == "task" for o in overrides):
        run = build_task(apply_overrides(raw, overrides))
    else:
        run = build_task(raw)
        if overrides:
            run = build_task(apply_overrides(run.to_dict(), overrides))
    if not run.train.run_dir:
        run.train.run_dir = str(Path("runs") / Path(path).stem)
    return run
