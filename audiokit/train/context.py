"""The :class:`TaskContext`: the run-time state the :class:`~audiokit.train.Trainer` hands to a task.

The Trainer builds one context per run and attaches it with
:meth:`~audiokit.train.TrainingTask.attach`; the task reads it through its ``device``, ``dist``,
``run_dir``, ``autocast_dtype``, ``resumed``, ``step`` and ``epoch`` properties. A task used outside
the Trainer (tests, export) has a default context: CPU, one process, step 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from audiokit.train.distributed import DistInfo

__all__ = ["TaskContext"]


@dataclass
class TaskContext:
    """Run-time state of a task.

    Attributes:
        device: where the models and batches live.
        dist: rank and world size.
        run_dir: the run's folder (checkpoints, logs, samples); ``None`` outside a run.
        autocast_dtype: ``torch.bfloat16`` under ``train.precision="bf16"``, else ``None`` (fp32).
        resumed: whether the run resumed from a checkpoint.
        step: optimizer steps completed so far.
        epoch: the current epoch.
    """

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    dist: DistInfo = field(default_factory=DistInfo)
    run_dir: Path | None = None
    autocast_dtype: torch.dtype | None = None
    resumed: bool = False
    step: int = 0
    epoch: int = 0
