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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from audiokit.train.config import apply_overrides, from_dict, load_yaml, to_dict
from audiokit.train.optim import LRDecayConfig, OptimizerConfig

if TYPE_CHECKING:
    from audiokit.train.task import TrainingTask

__all__ = ["TrainerConfig", "RunConfig", "task_path", "import_task", "load_run_config", "build_task"]


@dataclass
class TrainerConfig:
    """Engine settings, the ``train:`` section of a run config.

    Steps count optimizer iterations (one call of ``training_step``); ``checkpoint_every``,
    ``validate_every`` and ``log_every`` are in steps. ``batch_size`` is the **global** batch: under
    torchrun each of the N processes loads ``batch_size / N`` items (as the official DDP code does).
    """

    run_dir: str = ""  #: output folder (checkpoints/, samples/, log.jsonl, config.yaml); required
    seed: int = 1234
    max_steps: int | None = None  #: stop after this many steps (None: only max_epochs)
    max_epochs: int | None = None  #: stop after this many epochs (None: only max_steps)
    batch_size: int = 16  #: global batch size (divided by the number of processes)
    num_workers: int = 2  #: DataLoader worker processes per rank
    val_batch_size: int = 1
    val_max_items: int | None = None  #: validate on at most this many items (None: all)
    val_audio_samples: int = 3  #: audio examples written per validation (rank 0)
    val_metrics: list[str] = field(default_factory=lambda: ["pesq", "stoi", "lsd"])
    keep_samples: int = 10  #: keep the audio of the last N validations (0: all)
    log_every: int = 10
    validate_every: int = 5000  #: 0 disables validation
    validate_at_start: bool = False  #: also validate before the first step
    checkpoint_every: int = 5000  #: 0: only at the end and on SIGTERM/SIGINT
    keep_checkpoints: int = 3  #: keep the newest K checkpoints (0: all)
    resume: bool = True  #: continue from the newest checkpoint in run_dir/checkpoints
    #: warm start (fine-tuning): model name -> weights loaded before step 0 of a new run (a pretrained
    #: folder, a ``.safetensors``/official generator file, or an audiokit training checkpoint); ignored
    #: when the run resumes from its own checkpoint
    init_from: dict[str, str] = field(default_factory=dict)
    precision: Literal["fp32", "bf16"] = "fp32"  #: bf16 runs the forward passes under autocast
    grad_clip: float | None = None  #: default max L2 norm for TrainingTask.step_optimizer
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    lr_decay: LRDecayConfig = field(default_factory=LRDecayConfig)
    device: str = "auto"  #: auto | cpu | cuda | cuda:N
    backend: Literal["auto", "gloo", "nccl"] = "auto"
    find_unused_parameters: bool = False
    deterministic: bool = False  #: torch.use_deterministic_algorithms, cudnn.benchmark off
    tensorboard: bool = True  #: write TensorBoard events when the tensorboard package is installed
    progress: bool = True  #: tqdm progress bar on rank 0 (hidden when not a terminal)

    def __post_init__(self) -> None:
        positive = {"batch_size": self.batch_size, "val_batch_size": self.val_batch_size}
        positive["log_every"] = self.log_every
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"config key '{name}': must be >= 1, got {value}")
        nonneg = {
            "num_workers": self.num_workers,
            "validate_every": self.validate_every,
            "checkpoint_every": self.checkpoint_every,
            "keep_checkpoints": self.keep_checkpoints,
            "keep_samples": self.keep_samples,
            "val_audio_samples": self.val_audio_samples,
        }
        for name, value in nonneg.items():
            if value < 0:
                raise ValueError(f"config key '{name}': must be >= 0, got {value}")
        for name in ("max_steps", "max_epochs", "val_max_items"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"config key '{name}': must be >= 1 or null, got {value}")
        from audiokit.metrics import METRICS

        unknown = [m for m in self.val_metrics if m not in METRICS]
        if unknown:
            raise ValueError(f"config key 'val_metrics': unknown metric(s) {unknown}; use {sorted(METRICS)}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"config key 'grad_clip': must be positive or null, got {self.grad_clip}")


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
    from audiokit.train.task import TrainingTask

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
