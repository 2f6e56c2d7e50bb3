"""Distributed helpers: torchrun environment, process group, DDP wrapping, collective reductions.

The same code runs as one plain process (world size 1, no process group) and under
``torchrun --nproc_per_node=N`` (``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` in the environment). The
backend is ``nccl`` when the device is CUDA and ``gloo`` otherwise (CPU). Every collective here is a
no-op at world size 1.
"""

from __future__ import annotations

import datetime
import inspect
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "DistInfo",
    "env_dist_info",
    "init_distributed",
    "resolve_device",
    "wrap_ddp",
    "unwrap",
    "shutdown_distributed",
    "barrier",
    "all_gather_object",
    "broadcast_object",
    "reduce_mean",
    "any_true",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Rank and world size of this process (``rank 0 of 1`` outside torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only rank that logs and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def env_dist_info() -> DistInfo:
    """Rank/world size from the torchrun environment variables (defaults: single process)."""

    def _int(name: str, default: int) -> int:
        raw = os.environ.get(name)
        if raw in (None, ""):
            return default
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"environment variable {name}={raw!r} is not an integer") from None

    world = _int("WORLD_SIZE", 1)
    rank = _int("RANK", 0)
    local = _int("LOCAL_RANK", rank)
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"bad distributed environment: RANK={rank}, WORLD_SIZE={world}")
    return DistInfo(rank, world, local)


def resolve_device(device: str, info: DistInfo) -> torch.device:
    """``"auto"`` -> ``cuda:LOCAL_RANK`` when CUDA is available, else ``cpu``; ``"cuda"`` gets the
    local rank's GPU under torchrun; anything else is passed to :class:`torch.device`."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("config key 'train.device': 'cuda' requested but CUDA is not available")
        return torch.device("cuda", info.local_rank % max(torch.cuda.device_count(), 1))
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"config key 'train.device': unknown device {device!r}") from None
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n == 0:
            raise ValueError(f"config key 'train.device': {device!r} requested but CUDA is not available")
        if dev.index is not None and dev.index >= n:
            raise ValueError(
                f"config key 'train.device': {device!r} requested but this machine has {n} GPU(s)"
            )
    elif dev.type != "cpu":
        raise ValueError(f"config key 'train.device': {device!r}; use auto, cpu, cuda or cuda:N")
    return dev


def init_distributed(
    backend: str = "auto", device: str = "auto", timeout_s: float = 1800.0
) -> tuple[DistInfo, torch.device]:
    """Join the torchrun process group if ``WORLD_SIZE > 1`` and pick this rank's device.

    ``backend="auto"`` chooses ``nccl`` for CUDA devices and ``gloo`` otherwise. An already
    initialised default process group is reused. Returns ``(info, device)``.
    """
    info = env_dist_info()
    dev = resolve_device(device, info)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if info.distributed and not dist.is_initialized():
        if backend == "auto":
            backend = "nccl" if dev.type == "cuda" else "gloo"
        for var in ("MASTER_ADDR", "MASTER_PORT"):
            if var not in os.environ:
                raise ValueError(f"WORLD_SIZE={info.world_size} but {var} is not set; launch with torchrun")
        kwargs: dict[str, Any] = {"timeout": datetime.timedelta(seconds=timeout_s)}
        if dev.type == "cuda" and "device_id" in inspect.signature(dist.init_process_group).parameters:
            kwargs["device_id"] = dev  # torch >= 2.3: eager NCCL init bound to this rank's GPU
        dist.init_process_group(
            backend=backend, init_method="env://", rank=info.rank, world_size=info.world_size, **kwargs
        )
        global _OWNED_GROUP
        _OWNED_GROUP = True
        logger.info("joined process group: rank %d of %d (%s, %s)", info.rank, info.world_size, backend, dev)
    elif dist.is_initialized():
        info = DistInfo(dist.get_rank(), dist.get_world_size(), info.local_rank)
    return info, dev


_OWNED_GROUP = False


def shutdown_distributed() -> None:
    """Destroy the process group if :func:`init_distributed` created it (a no-op otherwise)."""
    global _OWNED_GROUP
    if _OWNED_GROUP and dist.is_initialized():
        dist.destroy_process_group()
    _OWNED_GROUP = False


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def wrap_ddp(module: nn.Module, device: torch.device, find_unused_parameters: bool = False) -> nn.Module:
    """Wrap ``module`` in :class:`~torch.nn.parallel.DistributedDataParallel` when a process group
    with more than one rank is active and the module has trainable parameters; else return it."""
    if not _active() or not any(p.requires_grad for p in module.parameters()):
        return module
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(
        module, device_ids=device_ids, find_unused_parameters=find_unused_parameters
    )


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module inside a DDP (or ``torch.compile``) wrapper."""
    while True:
        if isinstance(module, nn.parallel.DistributedDataParallel):
            module = module.module
        elif hasattr(module, "_orig_mod"):
            module = module._orig_mod
        else:
            return module


def barrier() -> None:
    if _active():
        dist.barrier()


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (a list of ``world_size`` items; ``[obj]`` at world size 1)."""
    if not _active():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank."""
    if not _active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def reduce_mean(sums: Mapping[str, float], counts: Mapping[str, float] | None = None) -> dict[str, float]:
    """Mean over all ranks of per-key sums: ``sum_r sums[k] / sum_r counts[k]``.

    ``counts`` defaults to 1 per key per rank (a plain mean of per-rank values). Keys present on only
    some ranks are averaged over the ranks that have them.
    """
    counts = {k: 1.0 for k in sums} if counts is None else counts
    gathered = all_gather_object(({k: float(v) for k, v in sums.items()}, dict(counts)))
    total: dict[str, float] = {}
    n: dict[str, float] = {}
    for s, c in gathered:
        for k, v in s.items():
            total[k] = total.get(k, 0.0) + v
            n[k] = n.get(k, 0.0) + float(c.get(k, 1.0))
    return {k: total[k] / n[k] for k in total if n[k] > 0}


def any_true(flag: bool, device: torch.device | None = None) -> bool:
    """True on every rank if ``flag`` is true on any rank (one tiny all-reduce)."""
    if not _active():
        return bool(flag)
    if device is None or (dist.get_backend() == "nccl" and device.type != "cuda"):
        device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)
