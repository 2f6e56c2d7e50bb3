"""Optimizers and learning-rate decay as the papers use them.

* APNet, APNet2, AP-BWE, HiFi-GAN: ``AdamW(lr=2e-4, betas=(0.8, 0.99))`` (torch's default weight
  decay 0.01) and ``ExponentialLR(gamma=0.999)`` stepped once per **epoch**:
  ``LRDecayConfig(gamma=0.999, interval="epoch")`` (the default).
* DDSP (magenta): ``lr * 0.98 ** (step / 10000)`` (Keras ``ExponentialDecay``, smooth):
  ``LRDecayConfig(gamma=0.98, interval="step", every=10000, staircase=False)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import torch
from torch.optim.lr_scheduler import LRScheduler

__all__ = ["OptimizerConfig", "LRDecayConfig", "ExponentialDecay", "build_optimizer", "build_scheduler"]


@dataclass
class OptimizerConfig:
    """Optimizer settings (``train.optimizer`` in a run config).

    Defaults are those of APNet/APNet2/AP-BWE/HiFi-GAN: AdamW, lr 2e-4, betas (0.8, 0.99), torch's
    default weight decay 0.01 and eps 1e-8.
    """

    name: Literal["adamw", "adam", "sgd"] = "adamw"
    lr: float = 2e-4
    betas: tuple[float, float] = (0.8, 0.99)
    weight_decay: float = 0.01
    eps: float = 1e-8
    momentum: float = 0.0  # sgd only

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"config key 'lr': learning rate must be positive, got {self.lr}")
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"config key 'betas': each beta must be in [0, 1), got {self.betas}")


@dataclass
class LRDecayConfig:
    """Exponential learning-rate decay (``train.lr_decay``): ``lr = base_lr * gamma ** (n / every)``.

    ``n`` counts epochs (``interval="epoch"``) or optimizer steps (``interval="step"``). With
    ``staircase=True`` the exponent is ``n // every`` (decay in discrete jumps). ``gamma=1`` keeps the
    learning rate constant.
    """

    gamma: float = 0.999
    interval: Literal["epoch", "step"] = "epoch"
    every: int = 1
    staircase: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"config key 'gamma': must be in (0, 1], got {self.gamma}")
        if self.every < 1:
            raise ValueError(f"config key 'every': must be >= 1, got {self.every}")


class ExponentialDecay(LRScheduler):
    """``lr = base_lr * gamma ** (n / every)`` (or ``n // every`` with ``staircase``), closed form.

    With ``every=1`` it equals :class:`torch.optim.lr_scheduler.ExponentialLR`. The attribute
    ``interval`` (``"epoch"`` or ``"step"``) tells the :class:`~audiokit.train.Trainer` when to call
    :meth:`step`. Its state dict holds only numbers, so it loads with ``weights_only=True``.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        gamma: float,
        every: int = 1,
        staircase: bool = True,
        interval: Literal["epoch", "step"] = "epoch",
        last_epoch: int = -1,
    ):
        self.gamma = float(gamma)
        self.every = int(every)
        self.staircase = bool(staircase)
        self.interval = interval
        super().__init__(optimizer, last_epoch)

    def _factor(self, n: int) -> float:
        exponent = (n // self.every) if self.staircase else (n / self.every)
        return self.gamma**exponent

    def get_lr(self) -> list[float]:
        return [base * self._factor(self.last_epoch) for base in self.base_lrs]

    def _get_closed_form_lr(self) -> list[float]:
        return self.get_lr()


def build_optimizer(params: Iterable[torch.nn.Parameter], config: OptimizerConfig) -> torch.optim.Optimizer:
    """The optimizer named by ``config`` over ``params`` (parameters without grad are skipped)."""
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("build_optimizer: no trainable parameters")
    if config.name == "adamw":
        return torch.optim.AdamW(
            params, lr=config.lr, betas=config.betas, eps=config.eps, weight_decay=config.weight_decay
        )
    if config.name == "adam":
        return torch.optim.Adam(
            params, lr=config.lr, betas=config.betas, eps=config.eps, weight_decay=config.weight_decay
        )
    if config.name == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    raise ValueError(f"unknown optimizer {config.name!r}")


def build_scheduler(optimizer: torch.optim.Optimizer, config: LRDecayConfig) -> ExponentialDecay:
    """The :class:`ExponentialDecay` described by ``config`` for ``optimizer``."""
    return ExponentialDecay(
        optimizer, config.gamma, every=config.every, staircase=config.staircase, interval=config.interval
    )
