"""AP-BWE training on the shared amplitude/phase GAN task.

Only what is model-specific lives here (``ap_bwe.md`` section 6):

* the generator (:class:`~audiokit.bwe.APBWE`) and its input: the STFT log-amplitude and phase
  of the narrowband signal;
* the narrowband simulation as a dataset hook (:meth:`APBWETask.input_simulation`): each whole
  utterance is degraded ``source -> lr -> hr`` with torchaudio's sinc resampler (as the official
  dataset), before the random 8000-sample crop; targets are resampled to ``hr`` with the same
  resampler;
* the published weights (:func:`audiokit.train.gan.gan_preset` ``"ap_bwe"``):
  ``45 L_A + 100 (L_IP + L_GD + L_IAF) + 90 L_C + 90 L_S`` + hinge MPD + 0.1 (MRAD + MRPD) with
  feature matching, gradient clipping 10 per discriminator family and for the generator.

AdamW (lr 2e-4, betas 0.8/0.99, weight decay 0.01), ExponentialLR 0.999 per epoch and batch 16 are
the engine's defaults. Run with ``audiokit train recipes/ap_bwe_vctk/8k_16k.yaml`` (``torchrun`` for
several processes); ``audiokit export RUN_DIR OUT_DIR`` writes a folder that
:meth:`APBWE.from_pretrained` reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from audiokit.bwe.config import APBWEConfig
from audiokit.bwe.inference import amplitude_phase_apbwe
from audiokit.bwe.model import APBWE
from audiokit.checkpoints import pretrained_config_json
from audiokit.data import AudioDataConfig, AudioDataset
from audiokit.frontend import sinc_resample
from audiokit.train.gan import (
    AmplitudePhaseGANConfig,
    AmplitudePhaseGANTask,
    DiscriminatorConfig,
    GANLossConfig,
    GeneratorOutput,
    SpectrumConfig,
    gan_preset,
)
from audiokit.train.task import ExportBundle

__all__ = ["APBWETrainConfig", "APBWETask", "NarrowbandSimulation"]


@dataclass
class APBWETrainConfig(AmplitudePhaseGANConfig):
    """AP-BWE training as published; ``model`` is the :class:`APBWEConfig` (e.g. a preset's rates).

    ``data.sample_rate`` must be ``model.hr_sampling_rate`` (the target rate).
    """

    model: APBWEConfig = field(default_factory=APBWEConfig)
    data: AudioDataConfig = field(
        default_factory=lambda: AudioDataConfig(sample_rate=16000, segment_length=8000)
    )
    stft: SpectrumConfig = field(default_factory=lambda: gan_preset("ap_bwe")[0])
    loss: GANLossConfig = field(default_factory=lambda: gan_preset("ap_bwe")[1])
    discriminators: dict[str, DiscriminatorConfig] = field(default_factory=lambda: gan_preset("ap_bwe")[2])


class NarrowbandSimulation:
    """Dataset hook: ``{"input": resample(resample(source, source_rate, lr), lr, hr)}``.

    Made from the file's own samples (not from the resampled target), as the official dataset.
    A picklable object, so DataLoader workers can use it.
    """

    def __init__(self, lr_sampling_rate: int, hr_sampling_rate: int):
        self.lr, self.hr = int(lr_sampling_rate), int(hr_sampling_rate)

    def __call__(
        self, audio: torch.Tensor, sample_rate: int, source: torch.Tensor, source_rate: int, rng=None
    ):
        if sample_rate != self.hr:
            raise ValueError(f"dataset rate {sample_rate} is not the model's target rate {self.hr}")
        lr = sinc_resample(source.float(), source_rate, self.lr)
        return {"input": sinc_resample(lr, self.lr, self.hr)[..., : audio.shape[-1]]}


def _sinc_resampler(wav: torch.Tensor, orig: int, new: int) -> torch.Tensor:
    return sinc_resample(wav.float(), orig, new)


class APBWETask(AmplitudePhaseGANTask):
    """AP-BWE training (``task: audiokit.bwe.training:APBWETask``)."""

    config_class = APBWETrainConfig

    def __init__(self, config: Any = None, train: Any = None):
        super().__init__(config, train)
        m = self.config.model
        self.check_model_agrees(
            ("model.hr_sampling_rate", m.hr_sampling_rate),
            ("(n_fft, hop_size, win_size)", (m.n_fft, m.hop_size, m.win_size)),
            ("model.log_eps", m.log_eps),
        )
        self._bwe_datasets: tuple[AudioDataset, AudioDataset | None] | None = None

    # ----------------------------------------------------------------- model-specific hooks
    def build_generator(self) -> nn.Module:
        return APBWE(self.config.model)

    def input_simulation(self) -> NarrowbandSimulation:
        """The narrowband input of each utterance (official ``Dataset.__getitem__``)."""
        m = self.config.model
        return NarrowbandSimulation(m.lr_sampling_rate, m.hr_sampling_rate)

    def _bwe_data(self) -> tuple[AudioDataset, AudioDataset | None]:
        if self._bwe_datasets is None:
            self._bwe_datasets = self.config.data.datasets(
                seed=self.train.seed,
                simulate=self.input_simulation(),
                transform=self.feature_transform(),
                resampler=_sinc_resampler,  # targets at hr through the same resampler (official)
            )
        return self._bwe_datasets

    def train_dataset(self) -> AudioDataset:
        return self._bwe_data()[0]

    def val_dataset(self) -> AudioDataset | None:
        return self._bwe_data()[1]

    def generate(self, generator: nn.Module, batch: dict[str, Any]) -> GeneratorOutput:
        """Narrowband ``batch["input"]`` ``(B, T)`` -> STFT -> generator -> wideband spectra."""
        nb = batch["input"].float()
        self.objective.to(nb.device)
        with torch.no_grad():
            log_amp, phase = amplitude_phase_apbwe(self.stft(nb), self.config.stft.log_eps)
        out = generator(log_amp, phase)
        return GeneratorOutput(out.log_amplitude, out.phase)

    def export(self) -> ExportBundle:
        """Generator weights + ``config.json`` as :meth:`APBWE.save_pretrained` writes."""
        gen: APBWE = self.model("generator")
        weights = {k: v.detach().float() for k, v in gen.state_dict().items()}
        training = {"step": self.step, "epoch": self.epoch}
        config = pretrained_config_json(gen.model_type, gen.config.to_dict(), training=training)
        return ExportBundle(weights, config, {"model_type": gen.model_type})
