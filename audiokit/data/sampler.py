"""Samplers for training under one or many processes, resumable in the middle of an epoch."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

__all__ = ["DistributedBatchSampler", "ShardSampler"]


class DistributedBatchSampler(Sampler[list[int]]):
    """Batches of dataset indices for one rank, reshuffled every epoch, resumable mid-epoch.

    Each epoch draws one permutation of ``range(num_items)`` from ``seed + epoch`` (identical on all
    ranks, as :class:`torch.utils.data.DistributedSampler`), deals it to the ranks round-robin and cuts
    each rank's share into batches of ``batch_size``, dropping the incomplete last batch (the
    ``drop_last=True`` of the official recipes). Every rank gets the same number of batches. With one
    rank it reproduces ``DataLoader(shuffle=True, drop_last=True)`` batch counts.

    :meth:`set_epoch` takes ``start_batch`` to skip the batches consumed before a checkpoint, so a
    resumed run sees exactly the batches it would have seen.
    """

    def __init__(
        self,
        num_items: int,
        batch_size: int,
        num_replicas: int = 1,
        rank: int = 0,
        shuffle: bool = True,
        seed: int = 0,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} out of range for {num_replicas} replicas")
        per_rank = num_items // num_replicas
        if per_rank < batch_size:
            raise ValueError(
                f"the dataset has {num_items} items: too few for one batch of {batch_size} per process "
                f"on {num_replicas} process(es) (lower train.batch_size or add data)"
            )
        self.num_items = num_items
        self.batch_size = batch_size
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.start_batch = 0

    def __len__(self) -> int:
        """Batches per epoch for this rank (the full epoch, regardless of ``start_batch``)."""
        return (self.num_items // self.num_replicas) // self.batch_size

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch's permutation and skip its first ``start_batch`` batches."""
        self.epoch = int(epoch)
        self.start_batch = max(0, int(start_batch))

    def epoch_indices(self) -> list[int]:
        """This rank's indices for the current epoch (before batching)."""
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.num_items, generator=g).tolist()
        else:
            order = list(range(self.num_items))
        usable = (self.num_items // self.num_replicas) * self.num_replicas
        return order[:usable][self.rank :: self.num_replicas]

    def __iter__(self) -> Iterator[list[int]]:
        idx = self.epoch_indices()
        n = len(self)
        for b in range(self.start_batch, n):
            yield idx[b * self.batch_size : (b + 1) * self.batch_size]


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + N, ...`` of the first ``limit`` items, in order (validation sharding:
    every item is seen exactly once across the ranks, nothing is padded)."""

    def __init__(self, num_items: int, num_replicas: int = 1, rank: int = 0, limit: int | None = None):
        self.total = num_items if limit is None else min(num_items, limit)
        self.num_replicas = num_replicas
        self.rank = rank

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.total, self.num_replicas))

    def __len__(self) -> int:
        return len(range(self.rank, self.total, self.num_replicas))
