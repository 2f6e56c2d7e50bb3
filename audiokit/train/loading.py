"""Data loading of the Trainer: loader worker seeding, moving batches to the device, and the
per-rank seed mixers."""

from __future__ import annotations

import random
import signal
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["RANK_SEED_STRIDE", "epoch_loader_seed", "seed_everything", "to_device", "worker_init"]

#: ``train.seed + RANK_SEED_STRIDE * rank`` seeds each rank's training randomness (a prime)
RANK_SEED_STRIDE = 7919
#: multipliers of the loader generator's per-epoch seed (primes): seed, rank
_LOADER_SEED_MIX = (1_000_003, 10_007)


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global RNG and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_loader_seed(seed: int, rank: int, epoch: int) -> int:
    """The seed of the training loader's generator for ``rank`` in ``epoch``."""
    return seed * _LOADER_SEED_MIX[0] + rank * _LOADER_SEED_MIX[1] + epoch


def worker_init(worker_id: int) -> None:
    """``worker_init_fn`` of the loaders: seeds numpy/python from torch's per-worker seed, ignores
    SIGTERM/SIGINT."""
    # torch seeds each worker with base_seed + worker_id, base_seed drawn from the loader's generator
    # (seeded per rank and epoch by the Trainer); derive numpy/python seeds from it.
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)
    # A SIGTERM/SIGINT sent to the whole process group (Ctrl-C, schedulers) must not kill the loader
    # workers: the main process finishes its step, saves a checkpoint and shuts them down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def to_device(batch: Any, device: torch.device) -> Any:
    """Move the tensors of a (nested) batch to ``device``; other values pass through."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=device.type == "cuda")
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, list):
        return [to_device(v, device) for v in batch]
    if isinstance(batch, tuple):
        return tuple(to_device(v, device) for v in batch)
    return batch
