"""A tiny generator/discriminator task for the engine tests (importable by torchrun subprocesses)."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
from torch import nn

from audiokit.data import AudioDataConfig, FileSource
from audiokit.train import TrainingTask, ValidationResult


def write_tones(folder: Path, n: int = 16, sr: int = 8000, seconds: float = 0.3, seed: int = 0) -> Path:
    """``n`` short harmonic tones (random pitch and length) as 16-bit wavs in ``folder``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        length = int(sr * seconds * rng.uniform(0.6, 1.4))
        t = np.arange(length) / sr
        f0 = rng.uniform(120, 400)
        wav = sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.28)) for k in (1, 2, 3))
        sf.write(folder / f"tone_{i:03d}.wav", wav.astype(np.float32), sr, subtype="PCM_16")
    return folder


class TinyGenerator(nn.Module):
    def __init__(self, channels: int = 8):
        super().__init__()
        self.inp = nn.Conv1d(1, channels, 5, padding=2)
        self.out = nn.Conv1d(channels, 1, 5, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, T)
        return self.out(torch.tanh(self.inp(x[:, None])))[:, 0]


class TinyDiscriminator(nn.Module):
    def __init__(self, channels: int = 8):
        super().__init__()
        self.c1 = nn.Conv1d(1, channels, 9, stride=4, padding=4)
        self.c2 = nn.Conv1d(channels, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c2(F.leaky_relu(self.c1(x[:, None]), 0.1))


def halve(audio, sample_rate, source, source_rate, rng):
    """Input simulation for the tests: the generator input is the target at half amplitude."""
    return {"input": 0.5 * audio}


@dataclass
class TinyConfig:
    channels: int = 8
    adv_weight: float = 0.1
    data: AudioDataConfig = field(
        default_factory=lambda: AudioDataConfig(
            train=FileSource(path="tones"), sample_rate=8000, segment_length=1024, val_holdout=2
        )
    )
    interrupt_at_step: int | None = None  # send SIGTERM to this process during that step (tests)
    interrupt_rank: int | None = None  # only this rank gets the signal (None: every rank)
    dump_dir: str | None = None  # write per-rank parameters/diagnostics here at the end


class TinyGANTask(TrainingTask):
    """D step on detached output, then G step (L1 reconstruction + LSGAN), as the vocoder GANs."""

    config_class = TinyConfig

    def __init__(self, config=None, train=None):
        super().__init__(config, train)
        self.seen_indices: list[int] = []
        self.steps_run: list[int] = []
        self.extra_state_calls = 0

    def build_models(self):
        c = self.config.channels
        return {"generator": TinyGenerator(c), "discriminator": TinyDiscriminator(c)}

    def build_optimizers(self):
        from audiokit.train import build_optimizer

        return {
            "g": build_optimizer(self.model("generator").parameters(), self.train.optimizer),
            "d": build_optimizer(self.model("discriminator").parameters(), self.train.optimizer),
        }

    def _datasets(self):
        return self.config.data.datasets(seed=self.train.seed, simulate=halve)

    def train_dataset(self):
        return self._datasets()[0]

    def val_dataset(self):
        return self._datasets()[1]

    def training_step(self, batch):
        interrupt = (
            self.config.interrupt_at_step is not None and self.step + 1 == self.config.interrupt_at_step
        )
        if interrupt and self.config.interrupt_rank in (None, self.dist.rank):
            os.kill(os.getpid(), signal.SIGTERM)
        self.seen_indices.extend(int(i) for i in batch["index"])
        self.steps_run.append(self.step)
        G, D = self.models["generator"], self.models["discriminator"]
        y, x = batch["audio"], batch["input"]
        y_hat = G(x)
        d_real, d_fake = D(torch.cat([y, y_hat.detach()])).chunk(2)
        loss_d = (1 - d_real).pow(2).mean() + d_fake.pow(2).mean()
        stats_d = self.step_optimizer("d", loss_d)
        recon = F.l1_loss(y_hat, y)
        loss_adv = (1 - D(y_hat)).pow(2).mean()
        loss_g = recon + self.config.adv_weight * loss_adv
        stats_g = self.step_optimizer("g", loss_g)
        return {"loss_g": loss_g, "recon": recon, "loss_d": loss_d, **stats_d, **stats_g}

    def validation_step(self, batch, index):
        y, x = batch["audio"], batch["input"]
        y_hat = self.model("generator")(x)
        metrics = {"recon": float(F.l1_loss(y_hat, y)), **self.audio_metrics(y[0], y_hat[0], 8000)}
        return ValidationResult(metrics, {"generated": y_hat[0], "target": y[0]}, 8000)

    def extra_state(self):
        self.extra_state_calls += 1
        return {"writer_rank": self.dist.rank}

    def on_train_end(self, status):
        if self.config.dump_dir is None:
            return
        d = Path(self.config.dump_dir)
        d.mkdir(parents=True, exist_ok=True)
        r = self.dist.rank
        torch.save({n: self.model(n).state_dict() for n in self.models}, d / f"params_rank{r}.pt")
        diag = {"seen": self.seen_indices, "extra_state_calls": self.extra_state_calls, "step": self.step}
        diag.update(steps_run=self.steps_run, status=status, resumed=self.resumed)
        (d / f"diag_rank{r}_{status}.json").write_text(json.dumps(diag))
