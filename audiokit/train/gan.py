"""The shared amplitude/phase GAN training task of APNet, APNet2 and AP-BWE.

Modules: this one holds the task (hooks, models, optimisation steps, validation, export);
:mod:`~audiokit.train.gan_config` the configs and :func:`gan_preset`;
:mod:`~audiokit.train.gan_objective` :class:`GeneratorOutput` and the loss computation. Every public
name is re-exported here (``from audiokit.train.gan import ...``).

All three train a generator that predicts a log-amplitude and a phase spectrum (and the waveform
made from them) against several discriminator families with a weighted sum of spectral and
adversarial losses. :class:`AmplitudePhaseGANTask` implements that training once; a model adds only

* its generator (:meth:`~AmplitudePhaseGANTask.build_generator`),
* how a batch becomes a :class:`GeneratorOutput` (:meth:`~AmplitudePhaseGANTask.generate`: e.g.
  wav -> mel -> generator, or narrowband wav -> amplitude/phase -> generator),
* optionally the dataset hooks (:meth:`~AmplitudePhaseGANTask.input_simulation`,
  :meth:`~AmplitudePhaseGANTask.feature_transform`) and what to export,
* its weights and recipe: a config dataclass deriving from :class:`AmplitudePhaseGANConfig`
  (adding e.g. ``model``) whose ``loss``/``discriminators`` defaults come from :func:`gan_preset`.

Objective (``k`` runs over the discriminator families of ``config.discriminators``)::

    L_G = amplitude * MSE(A, A^) + phase * (L_IP + L_GD + L_PTD)
          + real_imag * (L1(Re S, Re S^) + L1(Im S, Im S^)) + complex * MSE([Re, Im] S~, [Re, Im] S^)
          + consistency * L_cons(S^, STFT(ISTFT(S^))) + mel * L1(mel(y), mel(y^))
          + sum_k (weight_k * L_adv,k + fm_weight_k * L_FM,k)
    L_D = sum_k weight_k * L_D,k          (L_adv/L_D: "lsgan" or "hinge")

An empty ``discriminators`` mapping trains the generator on the spectral terms alone (no
discriminator, no ``"discriminator"`` optimizer): a cheaper pre-training stage or a CPU-sized recipe.
``loss.phase_weighting: amplitude`` weights the three phase terms by the target amplitude
(:func:`audiokit.losses.amplitude_weight`; none of the papers does, see ``recipes/apnet_tiny``).

with ``A = ln(|S| + stft.log_eps)``, ``S = STFT(y)`` of the target, ``S~ = exp(A) e^{j angle S}``
(AP-BWE's complex target). Per step the discriminators are updated first on the detached output, then
the generator (the discriminators frozen during its backward, which changes nothing in the math
but saves their weight gradients). The published totals are :func:`gan_preset` ``"apnet"``,
``"apnet2"`` and ``"ap_bwe"`` (``apnet.md`` section 5, ``ap_bwe.md`` section 6):

* APNet: ``45 L_A + 100 L_P + 20 (L_C + 2.25 (L_R + L_I)) + 45 L_Mel + L_adv + 2 L_FM`` (MPD+MSD, LSGAN);
* APNet2: the same with hinge losses and MRD weighted 0.1 (``L_FM`` factor 1);
* AP-BWE: ``45 L_A + 100 L_P + 90 L_C + 90 L_S`` + hinge MPD + 0.1 (MRAD + MRPD), gradient clipping 10
  per discriminator family and for the generator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from audiokit.data import AudioDataset, Simulation, Transform
from audiokit.train.config import to_dict
from audiokit.train.gan_config import (
    AmplitudePhaseGANConfig,
    DiscriminatorConfig,
    GANLossConfig,
    SpectrumConfig,
    build_discriminator,
    gan_preset,
)
from audiokit.train.gan_objective import AmplitudePhaseObjective, GeneratorOutput, match_length
from audiokit.train.optim import build_optimizer
from audiokit.train.task import ExportBundle, TrainingTask, ValidationResult

__all__ = [
    "GeneratorOutput",
    "SpectrumConfig",
    "GANLossConfig",
    "DiscriminatorConfig",
    "AmplitudePhaseGANConfig",
    "AmplitudePhaseGANTask",
    "gan_preset",
    "build_discriminator",
]


class AmplitudePhaseGANTask(TrainingTask):
    """Training of an amplitude/phase generator against discriminator families (see module docstring).

    Subclasses implement :meth:`build_generator` and :meth:`generate`, and set ``config_class`` to a
    dataclass deriving from :class:`AmplitudePhaseGANConfig`. Models: ``"generator"`` plus one per
    family (``"mpd"``, ``"mrd"``...); optimizers ``"generator"`` and ``"discriminator"`` (one over all
    families, as the official code), both from ``train.optimizer`` and decayed by ``train.lr_decay``.

    Batches are dicts from :class:`~audiokit.data.AudioDataset` (``"audio"`` is the target waveform);
    ``data.sample_rate`` is the rate of the target and of the mel loss.
    """

    config_class = AmplitudePhaseGANConfig

    def __init__(self, config: Any = None, train: Any = None):
        super().__init__(config, train)
        if not isinstance(self.config, AmplitudePhaseGANConfig):
            raise TypeError(f"{type(self).__name__}.config must derive from AmplitudePhaseGANConfig")
        self.objective = AmplitudePhaseObjective(
            self.config.stft,
            self.config.loss,
            self.config.data.sample_rate,
            no_autocast=lambda: self.autocast(enabled=False),
        )
        self.stft = self.objective.stft
        self.mel = self.objective.mel
        self._datasets: tuple[AudioDataset, AudioDataset | None] | None = None

    def check_model_agrees(
        self,
        sample_rate: tuple[str, int],
        stft: tuple[str, tuple[int, int, int]],
        log_eps: tuple[str, float] | None = None,
    ) -> None:
        """Check the model's config against ``data``/``stft``: same sample rate, same
        ``(n_fft, hop, win)`` (the losses compare the generator's spectra with the target's), same
        log-amplitude floor if given, and crops a multiple of the hop. Each argument is
        ``(model key for the message, value)``, e.g. ``("model.sample_rate", 16000)``.

        Raises:
            ValueError: naming the disagreeing config keys and their values.
        """
        c = self.config
        (sr_key, sr), (stft_key, model_stft) = sample_rate, stft
        if c.data.sample_rate != sr:
            raise ValueError(
                f"config keys 'data.sample_rate' ({c.data.sample_rate}) and '{sr_key}' ({sr}) must agree"
            )
        loss_stft = (c.stft.n_fft, c.stft.hop_length, c.stft.win_length)
        if tuple(model_stft) != loss_stft:
            raise ValueError(
                f"config key 'stft' {loss_stft} must equal the model's {stft_key} {tuple(model_stft)}: "
                "the losses compare the generator's spectra with the target's"
            )
        if log_eps is not None and c.stft.log_eps != log_eps[1]:
            raise ValueError(
                f"config keys 'stft.log_eps' and '{log_eps[0]}' must agree ({c.stft.log_eps} vs {log_eps[1]})"
            )
        seg, hop = c.data.segment_length, model_stft[1]
        if seg is not None and seg % hop:
            raise ValueError(
                f"config key 'data.segment_length' ({seg}) must be a multiple of the model's hop ({hop}) "
                "so that the generated audio covers the crop"
            )

    # ----------------------------------------------------------------- what a model provides
    def build_generator(self) -> nn.Module:
        """The generator module (on CPU)."""
        raise NotImplementedError

    def generate(self, generator: nn.Module, batch: dict[str, Any]) -> GeneratorOutput:
        """Run ``generator`` on a batch: turn the batch into the generator's input (e.g.
        ``batch["mel"]``, or the amplitude/phase of ``batch["input"]``), call it, wrap its outputs.

        ``generator`` is ``self.models["generator"]`` in training (DDP-wrapped under torchrun) and the
        plain module in validation; call it, do not reach into it.
        """
        raise NotImplementedError

    def input_simulation(self) -> Simulation | None:
        """Dataset hook that derives inputs from each whole utterance before cropping (AP-BWE's
        narrowband ``"input"``); see :data:`audiokit.data.Simulation`. Default: none."""
        return None

    def feature_transform(self) -> Transform | None:
        """Dataset hook run on each cropped item (e.g. :class:`~audiokit.data.MelTransform` for a
        vocoder's input mel). Default: none."""
        return None

    # ----------------------------------------------------------------- TrainingTask
    def build_models(self) -> dict[str, nn.Module]:
        models: dict[str, nn.Module] = {"generator": self.build_generator()}
        for name, cfg in self.config.discriminators.items():
            if name == "generator":
                raise ValueError("config key 'discriminators.generator': reserved name")
            models[name] = build_discriminator(name, cfg)
        return models

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        g_params = self.model("generator").parameters()
        optimizers = {"generator": build_optimizer(g_params, self.train.optimizer)}
        if self.config.discriminators:
            d_params = [p for name in self.config.discriminators for p in self.model(name).parameters()]
            optimizers["discriminator"] = build_optimizer(d_params, self.train.optimizer)
        return optimizers

    def _data(self) -> tuple[AudioDataset, AudioDataset | None]:
        if self._datasets is None:
            self._datasets = self.config.data.datasets(
                seed=self.train.seed, simulate=self.input_simulation(), transform=self.feature_transform()
            )
        return self._datasets

    def train_dataset(self) -> AudioDataset:
        return self._data()[0]

    def val_dataset(self) -> AudioDataset | None:
        return self._data()[1]

    # ----------------------------------------------------------------- losses (see gan_objective)
    def discriminators(self, wrapped: bool = False) -> dict[str, tuple[nn.Module, DiscriminatorConfig]]:
        """Family name -> ``(module, config)``; ``wrapped``: the DDP-wrapped training modules."""
        get = self.models.__getitem__ if wrapped else self.model
        return {name: (get(name), cfg) for name, cfg in self.config.discriminators.items()}

    def targets(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        """:meth:`AmplitudePhaseObjective.targets` of waveforms ``(B, T)``."""
        return self.objective.targets(audio)

    def spectral_losses(
        self, out: GeneratorOutput, target: Mapping[str, torch.Tensor], audio: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """:meth:`AmplitudePhaseObjective.spectral_terms` (unweighted, float32)."""
        return self.objective.spectral_terms(out, target, audio)

    def weighted_spectral_loss(self, terms: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``sum`` of the spectral terms with the config's weights."""
        return self.objective.weighted_sum(terms)

    def generator_loss(
        self, out: GeneratorOutput, audio: torch.Tensor, target: Mapping[str, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(L_G, logged terms)`` for a completed output and target waveform ``audio`` ``(B, T)``.

        The discriminators are called unwrapped and frozen (no weight gradients).
        """
        return self.objective.generator_loss(out, audio, self.discriminators(), target)

    def discriminator_loss(
        self, audio: torch.Tensor, generated: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(L_D, logged terms)`` on real ``audio`` and detached ``generated`` waveforms ``(B, T)``,
        through ``self.models`` (DDP-wrapped under torchrun)."""
        return self.objective.discriminator_loss(audio, generated, self.discriminators(wrapped=True))

    # ----------------------------------------------------------------- steps
    def training_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor | float]:
        """The discriminators' update on the detached output, then the generator's."""
        out = self.generate(self.models["generator"], batch).complete(self.stft)
        audio = match_length(batch["audio"].float(), out.audio)
        target = self.targets(audio)
        logged_d: dict[str, torch.Tensor] = {}
        stats_d: dict[str, Any] = {}
        if self.config.discriminators:
            logged_d, stats_d = self.discriminator_step(audio, out.audio)
        logged_g, stats_g = self.generator_step(out, audio, target)
        return {**logged_d, **logged_g, **stats_d, **stats_g}

    def discriminator_step(
        self, audio: torch.Tensor, generated: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """One optimizer step of all discriminator families (each clipped on its own);
        ``(logged terms, optimizer stats)``."""
        loss_d, logged = self.discriminator_loss(audio, generated)
        families = {name: self.model(name) for name in self.config.discriminators}
        stats = self.step_optimizer(
            "discriminator", loss_d, max_norm=self.config.loss.discriminator_grad_clip, clip_groups=families
        )
        return logged, stats

    def generator_step(
        self, out: GeneratorOutput, audio: torch.Tensor, target: Mapping[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """One optimizer step of the generator; ``(logged terms, optimizer stats)``."""
        loss_g, logged = self.generator_loss(out, audio, target)
        stats = self.step_optimizer(
            "generator",
            loss_g,
            max_norm=self.config.loss.generator_grad_clip,
            clip_groups={"generator": self.model("generator")},
        )
        return logged, stats

    def validation_step(self, batch: dict[str, Any], index: int) -> ValidationResult:
        """Spectral losses of the output plus ``train.val_metrics`` (PESQ/STOI/LSD...) against the
        target, per utterance; writes the generated, target and (if any) ``batch["input"]`` audio."""
        out = self.generate(self.model("generator"), batch).complete(self.stft)
        audio = match_length(batch["audio"].float(), out.audio)
        terms = self.spectral_losses(out, self.targets(audio), audio)
        metrics = {f"loss/{k}": float(v) for k, v in terms.items()}
        metrics["loss/spectral_total"] = float(self.weighted_spectral_loss(terms))
        sr = self.config.data.sample_rate
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        for b in range(audio.shape[0]):
            n = audio.shape[-1]
            if "length" in batch:
                n = min(int(batch["length"][b]), n)  # leave out the zero padding of collate_padded
            for k, v in self.audio_metrics(audio[b, :n], out.audio[b, :n], sr).items():
                sums[k] = sums.get(k, 0.0) + v
                counts[k] = counts.get(k, 0) + 1
        metrics.update({k: sums[k] / counts[k] for k in sums})
        sounds = {"generated": out.audio[0], "target": audio[0]}
        if isinstance(batch.get("input"), torch.Tensor) and batch["input"].dim() == 2:
            sounds["input"] = batch["input"][0]
        return ValidationResult(metrics, sounds, sr)

    def export(self) -> ExportBundle:
        """The generator's weights; ``config`` is the task config without ``data``, ``loss`` and
        ``discriminators`` (e.g. ``{"stft": ..., "model": ...}``). Models override this to write
        their own pretrained format."""
        config = {
            k: v for k, v in to_dict(self.config).items() if k not in ("data", "loss", "discriminators")
        }
        return ExportBundle(dict(self.model("generator").state_dict()), config)
