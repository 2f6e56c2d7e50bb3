"""A tiny mel -> amplitude/phase generator on the shared GAN task (importable by subprocesses)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from audiokit.data import AudioDataConfig, FileSource, MelTransform
from audiokit.train.gan import (
    AmplitudePhaseGANConfig,
    AmplitudePhaseGANTask,
    DiscriminatorConfig,
    GANLossConfig,
    GeneratorOutput,
    SpectrumConfig,
)
from tests.train.tiny_tasks import Diagnostics

SR, N_FFT, HOP, N_MELS = 8000, 128, 32, 16

TINY_OPTIONS = {
    "mpd": {"periods": [2, 3], "channels": [4, 8, 8, 8, 8]},
    "mrd": {"resolutions": [[128, 32, 128], [256, 64, 256]], "channels": 4},
    "mrad": {"resolutions": [[128, 32, 128], [256, 64, 256]], "channels": 4},
    "mrpd": {"resolutions": [[128, 32, 128], [256, 64, 256]], "channels": 4},
    "msd": {},  # the MSD has no size options: official size
}


def tiny_discriminators(weights: dict[str, tuple[float, float]], **extra) -> dict[str, DiscriminatorConfig]:
    return {
        name: DiscriminatorConfig(w, fm, {**TINY_OPTIONS[name], **extra.get(name, {})})
        for name, (w, fm) in weights.items()
    }


class TinyAPGenerator(nn.Module):
    """APNet-shaped in miniature: mel -> shared conv -> log-amplitude head and (R, I) phase heads."""

    def __init__(self, n_mels: int = N_MELS, n_bins: int = N_FFT // 2 + 1, channels: int = 16):
        super().__init__()
        self.inp = nn.Conv1d(n_mels, channels, 3, padding=1)
        self.amp = nn.Conv1d(channels, n_bins, 3, padding=1)
        self.re = nn.Conv1d(channels, n_bins, 3, padding=1)
        self.im = nn.Conv1d(channels, n_bins, 3, padding=1)

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.nn.functional.leaky_relu(self.inp(mel), 0.1)
        return self.amp(h) - 3.0, torch.atan2(self.im(h), self.re(h))


@dataclass
class TinyAPConfig(AmplitudePhaseGANConfig):
    data: AudioDataConfig = field(
        default_factory=lambda: AudioDataConfig(
            train=FileSource(path="tones"), sample_rate=SR, segment_length=1024, val_holdout=2
        )
    )
    stft: SpectrumConfig = field(default_factory=lambda: SpectrumConfig(N_FFT, HOP, N_FFT, 1e-5))
    loss: GANLossConfig = field(default_factory=lambda: GANLossConfig(mel_n_mels=N_MELS))
    discriminators: dict[str, DiscriminatorConfig] = field(
        default_factory=lambda: tiny_discriminators({"mrd": (0.1, 0.1), "mpd": (1.0, 1.0)})
    )
    channels: int = 16
    interrupt_at_step: int | None = None  # test instrumentation (see tests.train.tiny_tasks.Diagnostics)
    interrupt_rank: int | None = None
    dump_dir: str | None = None


class TinyAPTask(Diagnostics, AmplitudePhaseGANTask):
    config_class = TinyAPConfig

    def __init__(self, config=None, train=None):
        super().__init__(config, train)
        self._init_diagnostics()

    def build_generator(self):
        return TinyAPGenerator(channels=self.config.channels)

    def feature_transform(self):
        return MelTransform(sample_rate=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS)

    def generate(self, generator, batch):
        log_amp, phase = generator(batch["mel"])
        return GeneratorOutput(log_amp, phase)

    def training_step(self, batch):
        self._observe(batch)
        return super().training_step(batch)
