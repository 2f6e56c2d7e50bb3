"""Common machinery of the amplitude/phase spectrum vocoders (APNet, APNet2).

A :class:`SpectralVocoder` maps a log-mel spectrogram to a log-amplitude spectrum and to the raw
real/imaginary pair ``(R, I)`` of the parallel phase estimator; the phase is ``atan2(I, R)``, the
spectrum ``exp(log_amplitude) * (cos(phase) + j sin(phase))`` and the waveform its centred ISTFT
(``hop * (N - 1)`` samples), exactly as the official ``Generator.forward``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from audiokit.checkpoints import PretrainedMixin, check_state_dict, read_state_dict
from audiokit.frontend import STFT, MelInverse, MelSpectrogram, griffin_lim
from audiokit.vocoders.blocks import apply_weight_norm, fold_weight_norm, has_weight_norm
from audiokit.vocoders.config import VocoderConfig
from audiokit.vocoders.fast import build_engine
from audiokit.vocoders.streaming import VocoderStreamer, lookahead_samples

__all__ = ["VocoderOutput", "SpectralVocoder"]

log = logging.getLogger(__name__)

V = TypeVar("V", bound="SpectralVocoder")


#: spectral frames added on each side of a chunk when its phase is refined by Griffin-Lim
REFINE_MARGIN_FRAMES = 16


@dataclass
class VocoderOutput:
    """What a vocoder forward returns.

    Attributes:
        log_amplitude: ``(B, F, N)`` natural-log amplitude spectrum (raw network output, no clamp).
        phase: ``(B, F, N)`` wrapped phase ``atan2(I, R)`` in (-pi, pi].
        real, imag: ``(B, F, N)`` real and imaginary parts of the predicted spectrum.
        audio: ``(B, T)`` waveform, ``T = hop * (N - 1)`` (no tanh, no clipping).
    """

    log_amplitude: torch.Tensor
    phase: torch.Tensor
    real: torch.Tensor
    imag: torch.Tensor
    audio: torch.Tensor

    @property
    def spectrum(self) -> torch.Tensor:
        """Complex spectrum ``(B, F, N)``."""
        return torch.complex(self.real, self.imag)


class AmplitudePrior(nn.Module):
    """Log-mel ``(B, M, N)`` -> log-amplitude ``(B, F, N)`` of its non-negative least-squares inversion
    through the filterbank (``log(max(NNLS(exp(mel)), floor))``, ``floor`` the log-mel's floor)."""

    def __init__(self, mel_basis: torch.Tensor, floor: float = 1e-5):
        super().__init__()
        self.inverse = MelInverse(mel_basis)
        self.floor = float(floor)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        with torch.autocast(mel.device.type, enabled=False):
            return torch.log(torch.clamp(self.inverse(torch.exp(mel.float())), min=self.floor))


class _WithPrior(nn.Module):
    """An inference engine of the backbone followed by the model's amplitude prior."""

    def __init__(self, model: SpectralVocoder, engine: nn.Module):
        super().__init__()
        self.engine = engine
        self.add_prior = model._add_amplitude_prior
        self.precision = getattr(engine, "precision", None)  # what the engine reports (bf16 calibration)

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.add_prior(mel, self.engine(mel))


class SpectralVocoder(PretrainedMixin, nn.Module):
    """Base class: mel front end, amplitude/phase head + ISTFT, chunked synthesis, checkpoints.

    Subclasses set ``model_type`` and ``config_class`` and implement :meth:`backbone`. Pretrained
    folders are read and written by :class:`~audiokit.checkpoints.PretrainedMixin`.
    """

    model_type: ClassVar[str] = ""
    config_class: ClassVar[type[VocoderConfig]] = VocoderConfig
    task: ClassVar[str] = "vocoder"
    #: True when an output frame depends on the whole input (APNet2's GRN), so chunking is approximate.
    global_context: ClassVar[bool] = False
    #: The channels-last inference engine of :mod:`audiokit.vocoders.fast` (set by each model).
    engine_class: ClassVar[type[nn.Module] | None] = None

    def __init__(self, config: VocoderConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.stft = STFT(config.n_fft, config.hop_length, config.win_length)
        self.mel_extractor = MelSpectrogram(
            config.sample_rate,
            config.n_fft,
            config.hop_length,
            config.win_length,
            n_mels=config.n_mels,
            f_min=config.f_min,
            f_max=config.f_max,
        )
        self._fast_cache: dict[Any, nn.Module] = {}
        #: log-mel -> log-amplitude prior (``config.amplitude_prior``), or ``None``
        self.amplitude_prior = (
            AmplitudePrior(self.mel_extractor.mel_basis) if config.amplitude_prior != "none" else None
        )

    # ---------------------------------------------------------------- properties
    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    @property
    def n_mels(self) -> int:
        return self.config.n_mels

    @property
    def receptive_field(self) -> int:
        """Input frames on each side that can influence an output frame through the convolutions."""
        raise NotImplementedError

    # ---------------------------------------------------------------- model
    def backbone(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(B, n_mels, N)`` log-mel -> ``(log_amplitude, R, I)``, each ``(B, F, N)``."""
        raise NotImplementedError

    def _add_amplitude_prior(
        self, mel: torch.Tensor, outputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The backbone's ``(log_amplitude, R, I)`` with the amplitude prior of ``mel`` added, if any."""
        if self.amplitude_prior is None:
            return outputs
        log_amplitude, r, i = outputs
        return log_amplitude + self.amplitude_prior(mel).to(log_amplitude.dtype), r, i

    def head(self, log_amplitude: torch.Tensor, r: torch.Tensor, i: torch.Tensor) -> VocoderOutput:
        """Phase, spectrum and waveform from the network outputs (the official arithmetic).

        Runs in float32 (or float64) even under autocast: the exponential, the phase and the ISTFT
        need the precision.
        """
        with torch.autocast(log_amplitude.device.type, enabled=False):
            if log_amplitude.dtype not in (torch.float32, torch.float64):
                log_amplitude, r, i = log_amplitude.float(), r.float(), i.float()
            phase = torch.atan2(i, r)
            real = torch.exp(log_amplitude) * torch.cos(phase)
            imag = torch.exp(log_amplitude) * torch.sin(phase)
            audio = self.stft.inverse(torch.complex(real, imag))
        return VocoderOutput(log_amplitude, phase, real, imag, audio)

    def spectrum(self, log_amplitude: torch.Tensor, r: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        """The complex spectrum ``(B, F, N)`` of :meth:`head` (same arithmetic), without the ISTFT."""
        with torch.autocast(log_amplitude.device.type, enabled=False):
            if log_amplitude.dtype not in (torch.float32, torch.float64):
                log_amplitude, r, i = log_amplitude.float(), r.float(), i.float()
            phase = torch.atan2(i, r)
            amp = torch.exp(log_amplitude)
            return torch.complex(amp * torch.cos(phase), amp * torch.sin(phase))

    def stream(self, dtype: torch.dtype | None = None, grn: str = "running", max_frames: int = 1024):
        """A :class:`~audiokit.vocoders.streaming.VocoderStreamer`: ``push(mel (B, n_mels, n)) -> audio``,
        ``flush() -> audio``. For APNet the concatenated output equals ``self(mel).audio`` to float
        rounding for any chunk sizes; for APNet2 GRN uses running statistics (an approximation, see
        :mod:`audiokit.vocoders.streaming`). The look-ahead is :attr:`lookahead_samples`."""
        return VocoderStreamer(self, dtype=dtype, grn=grn, max_frames=max_frames)

    @property
    def lookahead_samples(self) -> int:
        """Algorithmic latency of streaming in samples (receptive field and synthesis window)."""
        return lookahead_samples(self)

    def forward(self, mel: torch.Tensor) -> VocoderOutput:
        """Vocode a log-mel ``(B, n_mels, N)`` (or ``(n_mels, N)``); see :class:`VocoderOutput`."""
        mel = self.check_mel(mel)
        return self.head(*self.backbone(mel))

    # ---------------------------------------------------------------- features
    def mel(self, wav: torch.Tensor, sample_rate: int | None = None) -> torch.Tensor:
        """Input features from audio at ``sample_rate``: ``(T,)``/``(B, T)`` -> ``(B, n_mels, N)``.

        Exactly the official extractor: centred STFT (reflect pad ``n_fft // 2``, periodic Hann of
        ``win_length``), ``sqrt(re^2 + im^2 + 1e-9)``, Slaney mel filterbank, ``ln(clamp(., 1e-5))``,
        ``N = 1 + T // hop`` frames. No peak normalisation. ``sample_rate``, if given, is checked
        against the model's rate (resample first, e.g. with :func:`audiokit.io.load` ``sr=``).
        """
        if sample_rate is not None and int(sample_rate) != self.sample_rate:
            raise ValueError(
                f"audio at {sample_rate} Hz given to a {self.sample_rate} Hz model; resample it first"
            )
        if not isinstance(wav, torch.Tensor):
            raise ValueError(f"mel() expects a torch.Tensor waveform, got {type(wav).__name__}")
        if wav.dim() not in (1, 2):
            raise ValueError(
                f"mel() expects mono audio (T,) or a batch (B, T), got shape {tuple(wav.shape)}; "
                "mix stereo down to mono first"
            )
        if wav.shape[-1] == 0:
            raise ValueError("mel() got empty audio")
        if not wav.is_floating_point():
            raise ValueError(f"mel() expects float audio in [-1, 1], got dtype {wav.dtype}")
        if not torch.isfinite(wav).all():
            raise ValueError("mel() got audio with NaN or Inf samples")
        if wav.shape[-1] <= self.config.n_fft // 2:
            raise ValueError(
                f"audio of {wav.shape[-1]} samples is too short: the centred STFT needs more than "
                f"{self.config.n_fft // 2} samples ({self.config.n_fft // 2 / self.sample_rate * 1e3:.0f} ms)"
            )
        return self.mel_extractor(wav.to(self._param_device()))

    def check_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """Validate a log-mel input and return it as ``(B, n_mels, N)``."""
        if not isinstance(mel, torch.Tensor):
            raise ValueError(f"expected a log-mel tensor (B, {self.n_mels}, N), got {type(mel).__name__}")
        if mel.dim() == 2:
            mel = mel.unsqueeze(0)
        if mel.dim() != 3 or mel.shape[1] != self.n_mels:
            raise ValueError(f"expected a log-mel of shape (B, {self.n_mels}, N), got {tuple(mel.shape)}")
        if mel.shape[-1] < 2:
            raise ValueError(f"need at least 2 mel frames (output length hop * (N - 1)), got {mel.shape[-1]}")
        if not mel.is_floating_point():
            raise ValueError(f"log-mel must be a float tensor, got {mel.dtype}")
        if not torch.isfinite(mel).all():
            raise ValueError("log-mel contains NaN or Inf values")
        return mel

    def _param_device(self) -> torch.device:
        p = next(self.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    # ---------------------------------------------------------------- inference
    @torch.inference_mode()
    def synthesize(
        self,
        mel: torch.Tensor,
        chunk_frames: int | None = None,
        context_frames: int | None = None,
        dtype: torch.dtype | None = None,
        phase_refine_iters: int | None = None,
    ) -> torch.Tensor:
        """Waveform ``(B, hop * (N - 1))`` for a log-mel ``(B, n_mels, N)``, optionally in chunks.

        Args:
            chunk_frames: vocode ``chunk_frames`` output frames at a time (bounded memory for long
                inputs). ``None`` runs the whole input at once.
            context_frames: input frames of context on each side of a chunk; defaults to
                :attr:`receptive_field`. With that much context the chunked result of a model without
                global operations (APNet) equals the whole-input result to float rounding; for APNet2
                the GRN statistics become per-chunk, so chunking changes the output (see the docs).
            dtype: ``None`` runs the reference network (op for op the official code, bit-identical
                outputs). ``torch.float32`` runs the inference engine of :mod:`audiokit.vocoders.fast`
                (same function, faster channels-last layout; differences at float rounding level);
                ``torch.bfloat16`` runs that engine in bf16 (several times faster on CPUs with AMX or
                AVX512-BF16), calibrated so that its output stays >= 35 dB SNR from fp32 on bundled
                speech (see :meth:`fast_backbone`); the phase and the ISTFT run in fp32.
            phase_refine_iters: fast Griffin-Lim iterations on the predicted amplitude, starting from
                the predicted phase (``None``: ``config.phase_refine_iters``; 0: the network's output
                as published). Refinement makes the phase consistent across overlapping frames.
        """
        mel = self.check_mel(mel).to(self._param_device())
        iters = self.config.phase_refine_iters if phase_refine_iters is None else int(phase_refine_iters)
        if iters < 0:
            raise ValueError(f"phase_refine_iters must be >= 0, got {phase_refine_iters}")
        was_training = self.training
        self.eval()
        try:
            net = self.backbone if dtype is None else self.fast_backbone(dtype)
            n = mel.shape[-1]
            if chunk_frames is None or chunk_frames >= n:
                return self._audio(self._run(net, mel), iters)
            return self._synthesize_chunked(net, mel, chunk_frames, context_frames, iters)
        finally:
            self.train(was_training)

    def _run(self, net, mel: torch.Tensor) -> VocoderOutput:
        return self.head(*net(mel))

    def _audio(self, out: VocoderOutput, phase_refine_iters: int = 0) -> torch.Tensor:
        """The waveform of ``out``, after ``phase_refine_iters`` Griffin-Lim iterations if any."""
        if phase_refine_iters == 0:
            return out.audio
        with torch.autocast(out.audio.device.type, enabled=False):
            mag = torch.exp(out.log_amplitude.float())
            return griffin_lim(
                mag, self.stft, n_iter=phase_refine_iters, length=out.audio.shape[-1], init=out.phase.float()
            )

    def _synthesize_chunked(
        self,
        net,
        mel: torch.Tensor,
        chunk_frames: int,
        context_frames: int | None,
        phase_refine_iters: int = 0,
    ) -> torch.Tensor:
        if chunk_frames < 1:
            raise ValueError(f"chunk_frames must be positive, got {chunk_frames}")
        ctx = self.receptive_field if context_frames is None else int(context_frames)
        if ctx < 0:
            raise ValueError(f"context_frames must be >= 0, got {context_frames}")
        n = mel.shape[-1]
        pieces = [
            self._chunk_audio(net, mel, 0, s, min(s + chunk_frames, n - 1), n, ctx, phase_refine_iters)
            for s in range(0, n - 1, chunk_frames)
        ]
        return torch.cat(pieces, dim=-1)

    def chunk_margin(self, phase_refine_iters: int = 0) -> int:
        """Spectral frames synthesised on each side of a chunk so that its interior is exact (the
        ISTFT's overlap, plus :data:`REFINE_MARGIN_FRAMES` when Griffin-Lim couples the frames)."""
        margin = -(-self.config.win_length // (2 * self.config.hop_length)) + 1
        return margin + (REFINE_MARGIN_FRAMES if phase_refine_iters else 0)

    def _chunk_audio(
        self,
        net,
        mel: torch.Tensor,
        offset: int,
        s: int,
        e: int,
        n: int,
        ctx: int,
        phase_refine_iters: int = 0,
    ) -> torch.Tensor:
        """Samples ``[s * hop, e * hop)`` of the output for a log-mel of ``n`` frames in all, of which
        ``mel`` holds frames ``[offset, offset + mel.shape[-1])`` (enough of them around the chunk)."""
        hop, margin = self.config.hop_length, self.chunk_margin(phase_refine_iters)
        a, b = max(0, s - margin), min(n, e + margin + 1)  # spectral frames to synthesise
        lo, hi = max(0, a - ctx), min(n, b + ctx)  # mel frames to feed the network
        if lo < offset or hi > offset + mel.shape[-1]:
            raise ValueError(
                f"chunk [{s}, {e}) needs mel frames [{lo}, {hi}); have [{offset}, {offset + mel.shape[-1]})"
            )
        logamp, r, i = net(mel[..., lo - offset : hi - offset])
        sl = slice(a - lo, b - lo)
        audio = self._audio(self.head(logamp[..., sl], r[..., sl], i[..., sl]), phase_refine_iters)
        return audio[..., (s - a) * hop : (e - a) * hop]

    def fast_backbone(self, dtype: torch.dtype = torch.float32, min_snr_db: float = 35.0):
        """The inference engine of :meth:`backbone` in ``dtype`` (see :mod:`audiokit.vocoders.fast`),
        cached until the weights change. A bf16 engine is calibrated on bundled speech to stay within
        ``min_snr_db`` of fp32 (blocks that bf16 would degrade more are kept in fp32)."""
        params = list(self.parameters())
        weights = (tuple(p._version for p in params), tuple(p.data_ptr() for p in params))
        key = (dtype, float(min_snr_db), weights)
        if key not in self._fast_cache:
            for stale in [k for k in self._fast_cache if k[2] != weights]:  # built from older weights
                del self._fast_cache[stale]
            engine = build_engine(self, dtype, min_snr_db)
            self._fast_cache[key] = engine if self.amplitude_prior is None else _WithPrior(self, engine)
        return self._fast_cache[key]

    # ---------------------------------------------------------------- weight norm
    def fold_weight_norm(self: V) -> V:
        """Fold weight normalisation into plain weights (for inference; outputs are unchanged)."""
        fold_weight_norm(self)
        self._fast_cache.clear()
        return self

    def apply_weight_norm(self: V) -> V:
        """Re-parametrise the convolutions with weight norm (for training from folded weights)."""
        apply_weight_norm(self)
        self._fast_cache.clear()
        return self

    @property
    def weight_normed(self) -> bool:
        return has_weight_norm(self)

    # ---------------------------------------------------------------- checkpoints
    @classmethod
    def _config_for_state_dict(cls, config: VocoderConfig, state_dict: Mapping[str, torch.Tensor]):
        """The config to build so that the checkpoint's parametrisation (e.g. weight norm) matches."""
        return config

    @classmethod
    def _resolve_config(cls, config: VocoderConfig | dict | str | os.PathLike | None) -> VocoderConfig:
        if config is None:
            return cls.config_class()
        if isinstance(config, VocoderConfig):
            if not isinstance(config, cls.config_class):
                raise ValueError(
                    f"{cls.__name__} needs a {cls.config_class.__name__}, got {type(config).__name__}"
                )
            return config
        if isinstance(config, (str, os.PathLike)):
            import json

            path = Path(config)
            if not path.exists():
                raise FileNotFoundError(f"{path}: no such config file")
            try:
                config = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}: invalid JSON ({e})") from None
        if isinstance(config, dict):
            # an official config.json (AttrDict keys) or an audiokit config dict
            official_keys = {"hop_size", "num_mels", "sampling_rate", "win_size"}
            if official_keys & set(config):
                return cls.config_class.from_official(config)
            return cls.config_class.from_dict(config)
        raise ValueError(f"unsupported config {type(config).__name__}")

    @classmethod
    def from_official(
        cls: type[V],
        source: str | os.PathLike | Mapping[str, Any],
        config: VocoderConfig | dict | str | os.PathLike | None = None,
        fold: bool = True,
    ) -> V:
        """Load an official generator checkpoint (``{'generator': sd}``, a bare state dict or a path).

        Both parametrisations load key for key: old-style weight norm (``weight_g``/``weight_v``) and
        folded ``weight``. Missing/unexpected keys and shape mismatches raise ``ValueError`` listing them.

        Args:
            config: the model configuration (default: the official one); an official ``config.json``
                path or dict is converted.
            fold: fold weight norm after loading (identical outputs, faster).

        Returns:
            The model in ``eval()`` mode on the CPU.
        """
        sd = read_state_dict(source)
        cfg = cls._config_for_state_dict(cls._resolve_config(config), sd)
        model = cls(cfg)
        what = f"{cls.__name__} checkpoint" + ("" if isinstance(source, Mapping) else f" {source}")
        check_state_dict(model.state_dict(), sd, what)
        model.load_state_dict(sd, strict=True)
        if fold:
            model.fold_weight_norm()
        return model.eval()

    def official_state_dict(self, weight_norm: bool | None = None) -> dict[str, torch.Tensor]:
        """State dict with the official key names and order.

        ``weight_norm=True`` gives old-style ``weight_g``/``weight_v`` keys (APNet training format),
        ``False`` folded weights, ``None`` the current parametrisation.
        """
        if weight_norm is None or weight_norm == self.weight_normed:
            return {k: v.detach().clone() for k, v in self.state_dict().items()}
        import copy

        clone = copy.deepcopy(self)
        (clone.apply_weight_norm() if weight_norm else clone.fold_weight_norm())
        return dict(clone.state_dict())

    # ---------------------------------------------------------------- pretrained folders
    def pretrained_state_dict(self) -> dict[str, torch.Tensor]:
        """Folded fp32 weights with the official key names (what ``model.safetensors`` holds)."""
        return {k: v.float() for k, v in self.official_state_dict(weight_norm=False).items()}

    @classmethod
    def _from_pretrained_state(
        cls: type[V],
        config: VocoderConfig,
        state: dict[str, torch.Tensor],
        source: str,
        map_location: str | torch.device,
    ) -> V:
        model = cls(cls._config_for_state_dict(config, state))
        check_state_dict(model.state_dict(), state, source)
        model.load_state_dict(state, strict=True)
        return model.to(map_location)

    def extra_repr(self) -> str:
        c = self.config
        return f"sample_rate={c.sample_rate}, n_fft={c.n_fft}, hop={c.hop_length}, win={c.win_length}"
