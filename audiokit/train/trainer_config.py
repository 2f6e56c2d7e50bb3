"""The :class:`TrainerConfig`: the engine settings, the ``train:`` section of a run config
(:mod:`audiokit.train.run_config`). A leaf module, so that tasks and the run loading can both use it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from audiokit.metrics import METRICS
from audiokit.train.optim import LRDecayConfig, OptimizerConfig

__all__ = ["TrainerConfig"]


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

        unknown = [m for m in self.val_metrics if m not in METRICS]
        if unknown:
            raise ValueError(f"config key 'val_metrics': unknown metric(s) {unknown}; use {sorted(METRICS)}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"config key 'grad_clip': must be positive or null, got {self.grad_clip}")
