"""The training engine: configs, the TrainingTask base class, the Trainer, checkpoints, DDP, export.

Typical use (what ``audiokit train CONFIG.yaml key=value ...`` does)::

    from audiokit.train import Trainer, load_run_config

    run = load_run_config("recipes/apnet_tiny/config.yaml", ["train.max_steps=100"])
    result = Trainer.from_config(run).fit()   # resumes from run_dir/checkpoints if present

A model's training code subclasses :class:`TrainingTask` (see its docstring). Modules:

* :mod:`~audiokit.train.config` - dataclass <-> dict/YAML, strict validation, dotted overrides
* :mod:`~audiokit.train.run_config` - :class:`TrainerConfig` (the ``train:`` section), run-config loading
* :mod:`~audiokit.train.task` - :class:`TrainingTask`, :class:`ValidationResult`, :class:`ExportBundle`
* :mod:`~audiokit.train.trainer` - :class:`Trainer` (set-up and the loop)
* :mod:`~audiokit.train.context` - :class:`TaskContext`, the run-time state the Trainer hands a task
* :mod:`~audiokit.train.loading` - seeding, loader workers, batches to the device
* :mod:`~audiokit.train.validation` - the validation pass and its audio samples
* :mod:`~audiokit.train.resume` - what a checkpoint holds, resuming, strict model loading
* :mod:`~audiokit.train.signals` - graceful stop on SIGTERM/SIGINT
* :mod:`~audiokit.train.optim` - optimizer/LR-decay configs, :class:`ExponentialDecay`
* :mod:`~audiokit.train.distributed` - torchrun/DDP helpers
* :mod:`~audiokit.train.checkpoint` - checkpoint files, RNG state
* :mod:`~audiokit.train.logger` - JSON-lines/TensorBoard logging
* :mod:`~audiokit.train.export` - safetensors + config.json export
* :mod:`~audiokit.train.gan` - :class:`~audiokit.train.gan.AmplitudePhaseGANTask`, the shared
  APNet/APNet2/AP-BWE training (import it from ``audiokit.train.gan``); its configs and presets in
  :mod:`~audiokit.train.gan_config`, its losses in :mod:`~audiokit.train.gan_objective`
"""

from audiokit.train.checkpoint import latest_checkpoint, load_checkpoint, resolve_checkpoint
from audiokit.train.config import apply_overrides, from_dict, load_yaml, save_yaml, to_dict
from audiokit.train.context import TaskContext
from audiokit.train.distributed import DistInfo
from audiokit.train.export import export_checkpoint, load_task_from_checkpoint
from audiokit.train.logger import read_log
from audiokit.train.optim import (
    ExponentialDecay,
    LRDecayConfig,
    OptimizerConfig,
    build_optimizer,
    build_scheduler,
)
from audiokit.train.run_config import RunConfig, TrainerConfig, build_task, import_task, load_run_config
from audiokit.train.task import ExportBundle, TrainingTask, ValidationResult
from audiokit.train.trainer import FitResult, Trainer, seed_everything

__all__ = [
    "DistInfo",
    "ExponentialDecay",
    "ExportBundle",
    "FitResult",
    "LRDecayConfig",
    "OptimizerConfig",
    "RunConfig",
    "TaskContext",
    "Trainer",
    "TrainerConfig",
    "TrainingTask",
    "ValidationResult",
    "apply_overrides",
    "build_optimizer",
    "build_scheduler",
    "build_task",
    "export_checkpoint",
    "from_dict",
    "import_task",
    "latest_checkpoint",
    "load_checkpoint",
    "load_run_config",
    "load_task_from_checkpoint",
    "load_yaml",
    "read_log",
    "resolve_checkpoint",
    "save_yaml",
    "seed_everything",
    "to_dict",
]
