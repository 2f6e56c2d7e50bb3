"""Training the DDSP autoencoder on the shared engine (``audiokit train recipes/ddsp_solo/config.yaml``).

The task follows magenta's solo-instrument recipe: 4 s examples at 16 kHz with 250 Hz frames, f0
from the data (ground truth or pYIN, cached) and loudness recomputed from the audio on the fly, the
multi-scale spectral loss (L1 of magnitudes and log magnitudes, FFT 2048 ... 64), Adam at 3e-4 decayed
by 0.98 every 10k steps (smoothly), gradients clipped to a global norm of 3. It runs alone or under
``torchrun`` (DDP; features are extracted once by rank 0 and read from the cache by the others).

``audiokit export RUN_DIR OUT_DIR`` writes weights and ``config.json`` that
:meth:`~audiokit.ddsp.model.DDSPAutoencoder.from_pretrained` loads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch

from audiokit.checkpoints import pretrained_config_json
from audiokit.ddsp.adjust import DataStatistics, data_statistics
from audiokit.ddsp.core import DB_RANGE
from audiokit.ddsp.data import DDSPExamples
from audiokit.ddsp.features import LEGACY_LD_RANGE, compute_loudness
from audiokit.ddsp.losses import SpectralLoss
from audiokit.ddsp.model import DDSPAutoencoder, DDSPConfig
from audiokit.train import ExportBundle, TrainingTask, ValidationResult
from audiokit.train import distributed as D

__all__ = ["DDSPDataConfig", "DDSPLossConfig", "DDSPTaskConfig", "DDSPTask", "training_statistics"]

log = logging.getLogger(__name__)


@dataclass
class DDSPDataConfig:
    """Where the recordings are and how they are cut (``data:`` in the recipe)."""

    path: str = ""  #: folder of monophonic recordings (searched recursively)
    val_path: str | None = None  #: separate validation folder (default: held-out chunks of ``path``)
    example_seconds: float = 4.0
    hop_seconds: float = 1.0
    val_every: int = 20  #: every n-th 20 s chunk is validation data when ``val_path`` is not set
    chunk_seconds: float = 20.0
    cache_dir: str | None = None  #: f0 cache (default ``<path>/.ddsp_cache``)
    f0_extractor: str = "pyin"  #: ``"pyin"`` or ``"package.module:function"`` (e.g. a CREPE wrapper)
    normalize_peak_db: float | None = None  #: scale each file to this peak (dBFS); None keeps levels


@dataclass
class DDSPLossConfig:
    """The multi-scale spectral loss (magenta's gin weights by default)."""

    fft_sizes: list[int] = field(default_factory=lambda: [2048, 1024, 512, 256, 128, 64])
    loss_type: str = "L1"
    mag_weight: float = 1.0
    logmag_weight: float = 1.0
    loudness_weight: float = 0.0


@dataclass
class DDSPTaskConfig:
    """The task's config: ``model`` (a :class:`~audiokit.ddsp.model.DDSPConfig`), ``data``, ``loss``."""

    model: DDSPConfig = field(default_factory=DDSPConfig)
    data: DDSPDataConfig = field(default_factory=DDSPDataConfig)
    loss: DDSPLossConfig = field(default_factory=DDSPLossConfig)


def training_statistics(ds: DDSPExamples, model_config: DDSPConfig) -> DataStatistics:
    """Pitch and loudness statistics of every recording of ``ds`` over its confident f0 frames."""
    sr, fr = model_config.sample_rate, model_config.frame_rate
    loud = [
        compute_loudness(torch.from_numpy(a), sr, fr)[: f.size].double().numpy()
        for a, f in zip(ds.audio, ds.f0)
    ]
    floor = -(DB_RANGE if model_config.loudness == "current" else LEGACY_LD_RANGE) + 1.0
    return data_statistics(ds.f0, ds.conf, loud, loudness_floor_db=floor)


class DDSPTask(TrainingTask):
    """Trains :class:`~audiokit.ddsp.model.DDSPAutoencoder` with the spectral loss (model ``"ddsp"``)."""

    config_class = DDSPTaskConfig

    def __init__(self, config=None, train=None):
        super().__init__(config, train)
        c = self.config.loss
        m = self.config.model
        self.loss_fn = SpectralLoss(
            c.fft_sizes,
            c.loss_type,
            c.mag_weight,
            c.logmag_weight,
            loudness_weight=c.loudness_weight,
            sample_rate=m.sample_rate,
            frame_rate=m.frame_rate,
        )
        self._train_ds: DDSPExamples | None = None

    # models and data -------------------------------------------------------------------------------------
    def build_models(self) -> dict[str, torch.nn.Module]:
        return {"ddsp": DDSPAutoencoder(self.config.model)}

    def _dataset(self, split: str) -> DDSPExamples:
        d, m = self.config.data, self.config.model
        if not d.path:
            raise ValueError("config key 'data.path': set it to a folder of monophonic recordings")
        path = d.val_path if split == "val" and d.val_path else d.path
        if not Path(path).is_dir():
            raise ValueError(
                f"config key 'data.{'val_path' if path == d.val_path else 'path'}': {path}: not a directory"
            )
        kwargs = dict(
            sample_rate=m.sample_rate,
            frame_rate=m.frame_rate,
            example_seconds=d.example_seconds,
            hop_seconds=d.hop_seconds if split == "train" else d.example_seconds,
            cache_dir=d.cache_dir,
            f0_extractor=d.f0_extractor,
            f0_min=m.f0_min,
            f0_max=m.f0_max,
            split="all" if d.val_path else split,  # a separate val folder: no held-out chunks
            val_every=d.val_every,
            chunk_seconds=d.chunk_seconds,
            normalize_peak_db=d.normalize_peak_db,
        )
        # rank 0 extracts (and caches) the f0 first; the other ranks then read the cache
        if not self.is_main:
            D.barrier()
        ds = DDSPExamples(path, **kwargs)
        if self.is_main:
            D.barrier()
        return ds

    def train_dataset(self) -> DDSPExamples:
        self._train_ds = self._dataset("train")
        return self._train_ds

    def val_dataset(self) -> DDSPExamples | None:
        try:
            return self._dataset("val")
        except ValueError as e:
            log.warning("no validation data (%s); validation skipped", e)
            return None

    def on_train_start(self) -> None:
        """Store the training data's pitch and loudness statistics for timbre transfer's auto-adjust
        (``config.data_stats``, and the means in the weights); recomputed on resume (the config is
        not part of a checkpoint)."""
        if self._train_ds is None:
            return
        stats = training_statistics(self._train_ds, self.config.model)
        model = self.model("ddsp")
        model.config.data_stats = stats
        if not self.resumed:
            model.set_data_statistics(stats.loudness_mean_db, stats.f0_mean_midi)

    # steps ------------------------------------------------------------------------------------------------
    def _loudness(self, audio: torch.Tensor, n_frames: int) -> torch.Tensor:
        m = self.config.model
        with torch.no_grad():
            return compute_loudness(audio.float(), m.sample_rate, m.frame_rate)[:, :n_frames]

    def training_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float | torch.Tensor]:
        audio, f0 = batch["audio"].float(), batch["f0_hz"].float()
        out = self.models["ddsp"](f0, self._loudness(audio, f0.shape[1]), audio)
        with self.autocast(enabled=False):
            loss, parts = self.loss_fn(audio, out["audio"].float(), return_parts=True)
        stats = self.step_optimizer("main", loss)
        return {"loss": loss, **{f"loss/{k}": v for k, v in parts.items()}, **stats}

    def validation_step(self, batch: dict[str, torch.Tensor], index: int) -> ValidationResult:
        audio, f0 = batch["audio"].float(), batch["f0_hz"].float()
        ld = self._loudness(audio, f0.shape[1])
        model = self.model("ddsp")
        gen = torch.Generator(device=audio.device).manual_seed(index)
        noise = model.processor_group.modules_by_name["filtered_noise"]
        old, noise.generator = noise.generator, gen
        try:
            out = model(f0, ld, audio)["audio"]
        finally:
            noise.generator = old
        m = self.config.model
        ld_out = self._loudness(out, f0.shape[1])
        metrics = {
            "spectral_loss": float(self.loss_fn(audio, out)),
            "loudness_l1_db": float((ld - ld_out).abs().mean()),
        }
        if self.train.val_metrics:
            metrics.update(self.audio_metrics(audio[0], out[0], m.sample_rate))
        return ValidationResult(
            metrics=metrics,
            audio={"resynthesis": out[0].cpu(), "target": audio[0].cpu()},
            sample_rate=m.sample_rate,
        )

    def export(self) -> ExportBundle:
        """The model's weights and config; the config carries the training data's statistics
        (computed from ``data.path`` here when the checkpoint's config lacks them)."""
        model = self.model("ddsp")
        if model.config.data_stats is None:
            try:
                model.config.data_stats = training_statistics(self._dataset("train"), model.config)
            except ValueError as e:
                log.warning("training data statistics not exported (%s)", e)
        weights = {k: v for k, v in model.state_dict().items()}
        stats = model.data_statistics.tolist()
        return ExportBundle(
            weights=weights,
            config=pretrained_config_json(model.model_type, model.config.to_dict()),
            metadata={
                "model_type": model.model_type,
                "loudness_mean_db": f"{stats[0]:.3f}",
                "f0_mean_midi": f"{stats[1]:.3f}",
            },
        )
