"""Training tasks of APNet and APNet2 on the shared amplitude/phase GAN task.

Only what is model-specific lives here: the generator, its input (the model's own log-mel of each
training crop) and the published loss weights and discriminators (:func:`audiokit.train.gan.gan_preset`):

* APNet: MPD + MSD, LSGAN, ``45 L_A + 100 L_P (-cos) + 20 (L_C + 2.25 (L_R + L_I)) + 45 L_Mel
  (80 mels up to 8 kHz, its input mel) + L_adv + 2 L_FM``; 16 kHz, crops of 8000 samples.
* APNet2: MPD + MRD (x0.1), hinge, anti-wrapping ``|wrap(x)|`` phase losses, full-band mel loss,
  ``L_FM`` factor 1; 22.05 kHz, crops of 8192 samples.

Both: AdamW(2e-4, betas 0.8/0.99), ExponentialLR(0.999) per epoch, batch 16 (the engine defaults).
Run with ``audiokit train recipes/apnet_ljspeech/apnet2.yaml`` (``torchrun`` for several GPUs);
``audiokit export RUN_DIR OUT_DIR`` writes a folder that :meth:`SpectralVocoder.from_pretrained` reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from torch import nn

from audiokit.checkpoints import pretrained_config_json
from audiokit.data import AudioDataConfig, MelTransform
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
from audiokit.vocoders.apnet import APNet
from audiokit.vocoders.apnet2 import APNet2
from audiokit.vocoders.base import SpectralVocoder
from audiokit.vocoders.config import APNet2Config, APNetConfig

__all__ = ["APNetTrainConfig", "APNet2TrainConfig", "APNetTask", "APNet2Task"]


@dataclass
class APNetTrainConfig(AmplitudePhaseGANConfig):
    """APNet training as published (``apnet.md`` sections 5-7)."""

    model: APNetConfig = field(default_factory=APNetConfig)
    data: AudioDataConfig = field(
        default_factory=lambda: AudioDataConfig(sample_rate=16000, segment_length=8000)
    )
    stft: SpectrumConfig = field(default_factory=lambda: gan_preset("apnet")[0])
    loss: GANLossConfig = field(default_factory=lambda: gan_preset("apnet")[1])
    discriminators: dict[str, DiscriminatorConfig] = field(default_factory=lambda: gan_preset("apnet")[2])


@dataclass
class APNet2TrainConfig(AmplitudePhaseGANConfig):
    """APNet2 training as published (``apnet.md`` sections 5-7)."""

    model: APNet2Config = field(default_factory=APNet2Config)
    data: AudioDataConfig = field(
        default_factory=lambda: AudioDataConfig(sample_rate=22050, segment_length=8192)
    )
    stft: SpectrumConfig = field(default_factory=lambda: gan_preset("apnet2")[0])
    loss: GANLossConfig = field(default_factory=lambda: gan_preset("apnet2")[1])
    discriminators: dict[str, DiscriminatorConfig] = field(default_factory=lambda: gan_preset("apnet2")[2])


class _VocoderTask(AmplitudePhaseGANTask):
    """Shared by :class:`APNetTask` and :class:`APNet2Task`."""

    model_class: ClassVar[type[SpectralVocoder]]

    def __init__(self, config: Any = None, train: Any = None):
        super().__init__(config, train)
        m = self.config.model
        self.check_model_agrees(
            ("model.sample_rate", m.sample_rate),
            ("(n_fft, hop_length, win_length)", (m.n_fft, m.hop_length, m.win_length)),
        )

    def build_generator(self) -> nn.Module:
        return self.model_class(self.config.model)

    def feature_transform(self) -> MelTransform:
        """The generator's input: the model's own log-mel (official extractor) of each crop."""
        m = self.config.model
        return MelTransform(
            sample_rate=m.sample_rate,
            n_fft=m.n_fft,
            hop_length=m.hop_length,
            win_length=m.win_length,
            n_mels=m.n_mels,
            f_min=m.f_min,
            f_max=m.f_max,
        )

    def generate(self, generator: nn.Module, batch: dict[str, Any]) -> GeneratorOutput:
        out = generator(batch["mel"])
        return GeneratorOutput(out.log_amplitude, out.phase, out.spectrum, out.audio)

    def export(self) -> ExportBundle:
        """Folded generator weights + ``config.json`` as :meth:`SpectralVocoder.save_pretrained` writes."""
        gen: SpectralVocoder = self.model("generator")
        training = {"step": self.step, "epoch": self.epoch}
        config = pretrained_config_json(gen.model_type, gen.config.to_dict(), training=training)
        return ExportBundle(gen.pretrained_state_dict(), config, {"model_type": gen.model_type})


class APNetTask(_VocoderTask):
    """APNet training (``task: audiokit.vocoders.training:APNetTask``)."""

    config_class = APNetTrainConfig
    model_class = APNet


class APNet2Task(_VocoderTask):
    """APNet2 training (``task: audiokit.vocoders.training:APNet2Task``)."""

    config_class = APNet2TrainConfig
    model_class = APNet2
