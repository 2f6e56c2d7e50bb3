"""The DDSP autoencoder: (f0, loudness[, z]) -> RnnFcDecoder -> Harmonic + FilteredNoise -> Reverb.

``DDSPAutoencoder(DDSPConfig())`` is magenta's ``solo_instrument`` model (60 harmonics, 65 noise
bands, a trainable 48000-sample reverb, decoder 512/3/GRU 512); ``DDSPConfig.tiny()`` its
``tiny_instrument`` (no Fc layers, GRU 256, 0.23M parameters); ``use_z=True`` adds the MFCC-GRU z
encoder of the NSynth autoencoder. Weights are saved as ``model.safetensors`` next to ``config.json``::

    model = DDSPAutoencoder.from_pretrained("pretrained/ddsp_tiny")
    out = model(f0_hz, loudness_db)            # (B, F) each -> out["audio"] (B, F * hop)
    audio = model.timbre_transfer(wav, sr, pitch_shift=12)
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from audiokit.assets import resolve_pretrained
from audiokit.checkpoints import PretrainedMixin
from audiokit.ddsp.adjust import DataStatistics, match_loudness, octave_shift
from audiokit.ddsp.core import DB_RANGE
from audiokit.ddsp.decoders import RnnFcDecoder
from audiokit.ddsp.effects import Reverb
from audiokit.ddsp.encoders import F0LoudnessPreprocessor, MfccRnnEncoder
from audiokit.ddsp.features import LEGACY_LD_RANGE, extract_features, extract_features_stream
from audiokit.ddsp.processors import Add, ProcessorGroup
from audiokit.ddsp.streaming import DEFAULT_BLOCK_FRAMES, DDSPStream, render_blocks
from audiokit.ddsp.synths import FilteredNoise, Harmonic
from audiokit.io import check_audio, resample_blocks
from audiokit.io import resample as io_resample

__all__ = ["DecoderConfig", "ZEncoderConfig", "DDSPConfig", "DDSPAutoencoder", "resolve_pretrained"]

log = logging.getLogger(__name__)

#: :meth:`DDSPAutoencoder.timbre_transfer` renders inputs longer than this (seconds) block by block.
TRANSFER_BLOCKS_ABOVE_SECONDS = 300.0


@dataclass
class DecoderConfig:
    """RnnFcDecoder sizes (magenta's solo_instrument defaults)."""

    rnn_channels: int = 512
    rnn_type: str = "gru"
    ch: int = 512
    layers_per_stack: int = 3
    leaky_slope: float = 0.2


@dataclass
class ZEncoderConfig:
    """MFCC-GRU z encoder (magenta's NSynth autoencoder: z 16 at 125 frames per 4 s)."""

    z_dims: int = 16
    z_time_steps: int = 125
    rnn_channels: int = 512
    n_mfcc: int = 30
    n_mels: int = 128


@dataclass
class DDSPConfig:
    """Everything needed to rebuild a DDSP autoencoder (stored as ``config.json``).

    ``loudness`` names the loudness definition the model was trained on (``"current"`` or
    ``"legacy"``); ``f0_min``/``f0_max`` bound the pYIN search. ``data_stats`` are the training
    data's pitch and loudness statistics used by timbre transfer's auto-adjust (octave shift,
    loudness quantile matching); older models keep only the mean loudness and pitch in the weights
    (:meth:`DDSPAutoencoder.set_data_statistics`).
    """

    sample_rate: int = 16000
    frame_rate: int = 250
    n_harmonics: int = 60
    n_noise_bands: int = 65
    noise_window_size: int = 0
    amp_resample_method: str = "window"
    reverb: bool = True
    reverb_length: int = 48000
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    use_z: bool = False
    z_encoder: ZEncoderConfig | None = None
    loudness: str = "current"
    f0_min: float = 50.0
    f0_max: float = 2000.0
    data_stats: DataStatistics | None = None

    def __post_init__(self) -> None:
        if self.sample_rate % self.frame_rate:
            raise ValueError(
                f"sample_rate {self.sample_rate} is not a multiple of frame_rate {self.frame_rate}"
            )
        if self.loudness not in ("current", "legacy"):
            raise ValueError(f"loudness must be 'current' or 'legacy', got {self.loudness!r}")
        if self.use_z and self.z_encoder is None:
            self.z_encoder = ZEncoderConfig()

    @property
    def hop_length(self) -> int:
        return self.sample_rate // self.frame_rate

    @classmethod
    def tiny(cls, **overrides: Any) -> DDSPConfig:
        """magenta's tiny_instrument: no Fc layers, GRU 256 (0.23M parameters with 60 harmonics)."""
        cfg = cls(decoder=DecoderConfig(rnn_channels=256, layers_per_stack=0), **overrides)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DDSPConfig:
        """Strict: unknown keys and wrong types raise ``ValueError`` naming the dotted key."""
        from audiokit.train.config import from_dict  # lazy: inference need not import the training engine

        return from_dict(cls, data)


class DDSPAutoencoder(PretrainedMixin, nn.Module):
    """f0 and loudness (and optionally audio for z) -> audio, through interpretable synthesis.

    ``forward(f0_hz (B, F), loudness_db (B, F), audio=None) -> dict`` with ``"audio"`` ``(B, F * hop)``
    (after reverb), ``"audio_dry"``, ``"harmonic"``, ``"noise"`` and the scaled ``"controls"``.
    """

    model_type: ClassVar[str] = "ddsp"
    config_class: ClassVar[type] = DDSPConfig
    task: ClassVar[str] = "ddsp synthesis"

    def __init__(self, config: DDSPConfig | None = None):
        super().__init__()
        self.config = config = config or DDSPConfig()
        range_db = DB_RANGE if config.loudness == "current" else LEGACY_LD_RANGE
        self.preprocessor = F0LoudnessPreprocessor(range_db)
        self.encoder = None
        inputs = {"ld_scaled": 1, "f0_scaled": 1}
        if config.use_z:
            z = config.z_encoder or ZEncoderConfig()
            self.encoder = MfccRnnEncoder(
                config.sample_rate, z.z_dims, z.z_time_steps, z.rnn_channels, "gru", z.n_mfcc, z.n_mels
            )
            inputs["z"] = z.z_dims
        d = config.decoder
        self.decoder = RnnFcDecoder(
            inputs,
            (
                ("amps", 1),
                ("harmonic_distribution", config.n_harmonics),
                ("noise_magnitudes", config.n_noise_bands),
            ),
            d.rnn_channels,
            d.rnn_type,
            d.ch,
            d.layers_per_stack,
            d.leaky_slope,
        )
        hop = config.hop_length
        dag: list[tuple] = [
            (
                Harmonic(config.sample_rate, hop_length=hop, amp_resample_method=config.amp_resample_method),
                ["amps", "harmonic_distribution", "f0_hz"],
            ),
            (FilteredNoise(hop_length=hop, window_size=config.noise_window_size), ["noise_magnitudes"]),
            (Add(), ["filtered_noise/signal", "harmonic/signal"]),
        ]
        if config.reverb:
            dag.append((Reverb(trainable=True, reverb_length=config.reverb_length), ["add/signal"]))
        self.processor_group = ProcessorGroup(dag)
        # [mean voiced loudness (dB), mean voiced f0 (MIDI)] of the training data; NaN: unknown
        self.register_buffer("data_statistics", torch.full((2,), float("nan")))

    def set_data_statistics(self, loudness_mean_db: float, f0_mean_midi: float) -> None:
        """Store training-data statistics (kept in the weights) for timbre transfer's auto-adjust."""
        self.data_statistics.copy_(torch.tensor([loudness_mean_db, f0_mean_midi]))

    @property
    def loudness_mean_db(self) -> float | None:
        v = float(self.data_statistics[0])
        return None if v != v else v

    @property
    def f0_mean_midi(self) -> float | None:
        """Mean voiced pitch of the training data (MIDI): ``config.data_stats`` or the weights."""
        if self.config.data_stats is not None:
            return self.config.data_stats.f0_mean_midi
        v = float(self.data_statistics[1])
        return None if v != v else v

    def adjust_controls(
        self,
        f0_hz: np.ndarray,
        loudness_db: np.ndarray,
        voiced: np.ndarray,
        pitch_shift: float = 0.0,
        loudness_shift: float | None = None,
        auto_adjust: bool = True,
        quiet_db: float = 20.0,
    ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """Fit ``(F,)`` f0/loudness of a performance to this model's instrument.

        With ``auto_adjust`` and known training statistics: the octave shift that brings the mean
        voiced pitch nearest the training mean (then ``pitch_shift`` on top), and, unless
        ``loudness_shift`` is given, the loudness quantile map of :func:`~audiokit.ddsp.adjust.match_loudness`
        (models with only a mean loudness: the shift of the voiced mean onto it). Unvoiced frames are
        lowered by ``quiet_db``. Returns ``(f0_hz, loudness_db, info)``, ``info`` the shifts applied.
        """
        voiced = np.asarray(voiced) > 0.5
        stats = self.config.data_stats
        octave = 0.0
        if auto_adjust and self.f0_mean_midi is not None:
            octave = octave_shift(f0_hz, voiced, self.f0_mean_midi)
        f0 = np.asarray(f0_hz, dtype=np.float64) * 2.0 ** ((octave + pitch_shift) / 12.0)
        f0 = np.clip(f0, 20.0, self.config.sample_rate / 2)
        ld = np.asarray(loudness_db, dtype=np.float64)
        mode = "shift"
        if loudness_shift is None and auto_adjust and stats is not None and stats.loudness_quantiles_db:
            ld, mode = match_loudness(ld, voiced, stats.loudness_quantiles_db, quiet_db), "quantiles"
        else:
            if loudness_shift is None:
                loudness_shift = 0.0
                if auto_adjust and self.loudness_mean_db is not None and voiced.any():
                    loudness_shift = self.loudness_mean_db - float(ld[voiced].mean())
            ld = ld + loudness_shift - quiet_db * (~voiced)
        floor = -(DB_RANGE if self.config.loudness == "current" else LEGACY_LD_RANGE)
        # no louder than the training data's loudest frame (0 dB for models without the statistics)
        ceiling = (
            stats.loudness_quantiles_db[-1] if stats is not None and stats.loudness_quantiles_db else 0.0
        )
        info = {"octave_shift": octave, "pitch_shift": pitch_shift, "loudness": mode}
        if mode == "shift":
            info["loudness_shift"] = loudness_shift
        return f0, np.clip(ld, floor, ceiling), info

    # Inference helpers ---------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(
        self, f0_hz: torch.Tensor, loudness_db: torch.Tensor, audio: torch.Tensor | None = None
    ) -> dict[str, Any]:
        if f0_hz.shape != loudness_db.shape or f0_hz.dim() != 2:
            raise ValueError(
                f"f0_hz {tuple(f0_hz.shape)} and loudness_db {tuple(loudness_db.shape)} must be (B, F)"
            )
        feats = self.preprocessor(f0_hz, loudness_db)
        if self.encoder is not None:
            if audio is None:
                raise ValueError("this model has a z encoder: pass the audio too")
            feats["z"] = self.encoder(audio, f0_hz.shape[1])
        net = self.decoder(feats)
        outputs = self.processor_group.get_controls({**net, "f0_hz": f0_hz})
        final = outputs["out"]["signal"]
        return {
            "audio": final,
            "audio_dry": outputs["add"]["signal"],
            "harmonic": outputs["harmonic"]["signal"],
            "noise": outputs["filtered_noise"]["signal"],
            "controls": {
                "amplitudes": outputs["harmonic"]["controls"]["amplitudes"],
                "harmonic_distribution": outputs["harmonic"]["controls"]["harmonic_distribution"],
                "noise_magnitudes": outputs["filtered_noise"]["controls"]["magnitudes"],
                "f0_hz": f0_hz,
                "loudness_db": loudness_db,
            },
        }

    def features(self, audio: np.ndarray | torch.Tensor, **f0_kwargs) -> dict[str, np.ndarray]:
        """f0/loudness of mono audio at the model's rate and framing (pYIN in the model's f0 range)."""
        kwargs = {"fmin": self.config.f0_min, "fmax": self.config.f0_max, **f0_kwargs}
        return extract_features(
            audio, self.config.sample_rate, self.config.frame_rate, loudness=self.config.loudness, **kwargs
        )

    @torch.no_grad()
    def timbre_transfer(
        self,
        audio: np.ndarray | torch.Tensor,
        sample_rate: int,
        pitch_shift: float = 0.0,
        loudness_shift: float | None = None,
        auto_adjust: bool = True,
        quiet_db: float = 20.0,
        seed: int | None = 0,
        f0_extractor: Any = "pyin",
    ) -> torch.Tensor:
        """Render mono ``audio`` with this model's timbre: ``(T,)`` or ``(1, T)`` -> ``(F * hop,)`` at
        the model's rate. Multichannel audio is a ``ValueError`` (mix it down first: ``audio.mean(0)``).

        ``auto_adjust`` (with the training statistics the model stores): move the pitch by whole
        octaves to the instrument's register and map the loudness onto the training data's
        distribution (see :meth:`adjust_controls`). ``pitch_shift`` in semitones (on top of the
        octave shift); ``loudness_shift`` in dB replaces the loudness matching; frames pYIN marks
        unvoiced are lowered by ``quiet_db``. ``seed`` fixes the noise.

        Inputs longer than :data:`TRANSFER_BLOCKS_ABOVE_SECONDS` (with pYIN and no z encoder) are
        analysed and rendered block by block (:meth:`timbre_transfer_blocks`: the same result to float
        rounding), so memory beyond the input and output arrays stays that of a block.
        """
        x = torch.as_tensor(audio, dtype=torch.float32)
        if x.dim() > 1 and any(n != 1 for n in x.shape[:-1]):
            raise ValueError(
                f"timbre_transfer expects mono audio (T,) or (1, T), got shape {tuple(x.shape)}; "
                "mix the channels down first (audio.mean(0)) or render each channel separately"
            )
        x = x.reshape(-1)
        check_audio(x, "timbre_transfer input")
        long = x.numel() > TRANSFER_BLOCKS_ABOVE_SECONDS * sample_rate
        if long and self.encoder is None and isinstance(f0_extractor, str) and f0_extractor == "pyin":
            block = int(10 * sample_rate)
            pieces = (x[i : i + block] for i in range(0, x.numel(), block))
            settings = (pitch_shift, loudness_shift, auto_adjust, quiet_db, seed)
            return torch.cat(list(self.timbre_transfer_blocks(pieces, sample_rate, *settings)))
        if sample_rate != self.config.sample_rate:
            x = io_resample(x[None], sample_rate, self.config.sample_rate)[0]
        feats = self.features(x, f0_extractor=f0_extractor) if f0_extractor != "pyin" else self.features(x)
        f0_t, ld_t = self._transfer_controls(feats, pitch_shift, loudness_shift, auto_adjust, quiet_db)
        noise = self.processor_group.modules_by_name["filtered_noise"]
        old, noise.generator = noise.generator, self._generator(seed)
        try:
            out = self(f0_t, ld_t, x[None].to(self.device) if self.encoder is not None else None)
        finally:
            noise.generator = old
        return out["audio"][0].cpu()

    def _transfer_controls(
        self,
        feats: dict[str, np.ndarray],
        pitch_shift: float,
        loudness_shift: float | None,
        auto_adjust: bool,
        quiet_db: float,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Features -> adjusted ``(1, F)`` f0 and loudness tensors on the model's device."""
        f0, ld, _ = self.adjust_controls(
            feats["f0_hz"],
            feats["loudness_db"],
            feats["f0_confidence"],
            pitch_shift,
            loudness_shift,
            auto_adjust,
            quiet_db,
        )
        f0_t = torch.as_tensor(f0, dtype=torch.float32, device=self.device)[None]
        ld_t = torch.as_tensor(ld, dtype=torch.float32, device=self.device)[None]
        return f0_t, ld_t

    def _generator(self, seed: int | None) -> torch.Generator:
        gen = torch.Generator(device=self.device)
        if seed is not None:
            gen.manual_seed(seed)
        return gen

    def stream(self, seed: int | None = 0) -> DDSPStream:
        """Real-time rendering from controls: ``push(f0_hz (B, f), loudness_db (B, f)) -> (B, t)`` audio
        as frames arrive, ``flush()`` at the end; all outputs together equal ``self(f0, ld)["audio"]``
        to float rounding (:class:`~audiokit.ddsp.streaming.DDSPStream`; latency the larger of one
        frame and the noise filter's group delay: 64 samples, 4 ms, for the bundled models). ``seed``
        fixes the noise."""
        return DDSPStream(self, self._generator(seed))

    @torch.no_grad()
    def timbre_transfer_blocks(
        self,
        blocks: Iterable[np.ndarray | torch.Tensor],
        sample_rate: int,
        pitch_shift: float = 0.0,
        loudness_shift: float | None = None,
        auto_adjust: bool = True,
        quiet_db: float = 20.0,
        seed: int | None = 0,
        block_frames: int = DEFAULT_BLOCK_FRAMES,
    ) -> Iterator[torch.Tensor]:
        """:meth:`timbre_transfer` of mono audio that arrives in ``(t,)`` or ``(1, t)`` blocks, with
        memory bounded by a block, not the file: the input is read once, resampled by soxr's
        streaming resampler and analysed by the streaming pYIN and loudness (the frame-rate controls
        are kept, small), then the adjusted controls are rendered ``block_frames`` frames at a time
        (:class:`~audiokit.ddsp.streaming.DDSPStream`). Yields ``(t,)`` blocks that together equal
        :meth:`timbre_transfer`'s output to float rounding. Models with a z encoder (which looks at
        the whole audio) are a ``ValueError``; use :meth:`timbre_transfer`.
        """
        if self.encoder is not None:
            raise ValueError("timbre_transfer_blocks needs a model without a z encoder; use timbre_transfer")
        if block_frames < 1:
            raise ValueError(f"block_frames must be positive, got {block_frames}")

        def mono(stream: Iterable) -> Iterator[torch.Tensor]:
            for b in stream:
                x = torch.as_tensor(b, dtype=torch.float32)
                if x.dim() > 1 and any(n != 1 for n in x.shape[:-1]):
                    raise ValueError(
                        "timbre_transfer expects mono audio blocks (t,) or (1, t), "
                        f"got shape {tuple(x.shape)}"
                    )
                yield x.reshape(1, -1)

        audio = resample_blocks(mono(blocks), sample_rate, self.config.sample_rate)
        feats = extract_features_stream(
            audio,
            self.config.sample_rate,
            self.config.frame_rate,
            loudness=self.config.loudness,
            fmin=self.config.f0_min,
            fmax=self.config.f0_max,
        )
        f0_t, ld_t = self._transfer_controls(feats, pitch_shift, loudness_shift, auto_adjust, quiet_db)
        for y in render_blocks(self, f0_t, ld_t, block_frames, self._generator(seed)):
            yield y[0].cpu()

    # Persistence ---------------------------------------------------------------------------------------
    def save_pretrained(
        self,
        directory: str | Path,
        metadata: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Path:
        """Write ``model.safetensors`` and ``config.json`` (atomically) into ``directory``
        (:meth:`PretrainedMixin.save_pretrained`; ``metadata`` strings go into the safetensors header,
        as this method always took them)."""
        return super().save_pretrained(directory, extra, metadata=metadata, **fields)
