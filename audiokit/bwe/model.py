"""The AP-BWE generator: dual-stream (amplitude, phase) ConvNeXt network with mutual interaction.

Module and parameter names equal the official ``APNet_BWE_Model``, so the released generator
checkpoints load strictly (162 tensors, 29,760,515 parameters for the official size).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from audiokit.bwe.config import APBWEConfig
from audiokit.bwe.inference import BandwidthExtender
from audiokit.bwe.modules import ChannelLayerNorm, ConvNeXtBlock, init_convnext_weights
from audiokit.checkpoints import (
    checkpoint_errors,
    load_state_dict_strict,
    read_pretrained_files,
    read_state_dict,
)
from audiokit.frontend import STFT, spectrum_from_amplitude_phase

__all__ = ["APBWE", "BWEOutput", "load_state_dict_strict", "read_official_checkpoint"]

log = logging.getLogger(__name__)

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


@dataclass
class BWEOutput:
    """Generator output, each ``(B, F, N)``: wideband ``log_amplitude`` = ln(|X| + 1e-4) and wrapped
    ``phase`` in (-pi, pi]."""

    log_amplitude: torch.Tensor
    phase: torch.Tensor

    @property
    def spectrum(self) -> torch.Tensor:
        """Complex spectrum ``exp(log_amplitude) * e^{j phase}`` ``(B, F, N)`` (floor not removed, as
        the official ISTFT)."""
        return spectrum_from_amplitude_phase(self.log_amplitude, self.phase)

    @property
    def real_imag(self) -> torch.Tensor:
        """Real and imaginary parts stacked last, ``(B, F, N, 2)``: the official ``com_wb`` used by the
        complex and consistency losses."""
        amp = torch.exp(self.log_amplitude)
        return torch.stack((amp * torch.cos(self.phase), amp * torch.sin(self.phase)), dim=-1)

    def __iter__(self):
        # ``mag, pha = model(mag_nb, pha_nb)`` unpacking
        return iter((self.log_amplitude, self.phase))


class APBWE(BandwidthExtender, nn.Module):
    """AP-BWE generator (Lu et al., 2024) with its STFT front end.

    ``forward(log_amplitude, phase)`` maps the narrowband log-amplitude and phase spectra
    ``(B, F, N)`` (``F = n_fft // 2 + 1``) to the wideband ones. Waveform-level inference is
    :meth:`extend` (see :class:`~audiokit.bwe.inference.BandwidthExtender`).

    Example:
        >>> model = APBWE(APBWEConfig.preset("8k_16k").replace(channels=32, layers=2))
        >>> y = model.extend(torch.randn(8000), 8000)  # 1 s at 8 kHz -> 1 s at 16 kHz
        >>> tuple(y.shape)
        (1, 16000)
    """

    def __init__(self, config: APBWEConfig | None = None):
        super().__init__()
        self.config = config = config or APBWEConfig()
        c, f, k = config.channels, config.n_bins, config.kernel_size
        eps = config.layer_norm_eps
        self.conv_pre_mag = nn.Conv1d(f, c, k, padding=k // 2)
        self.norm_pre_mag = ChannelLayerNorm(c, eps=eps)
        self.conv_pre_pha = nn.Conv1d(f, c, k, padding=k // 2)
        self.norm_pre_pha = ChannelLayerNorm(c, eps=eps)
        scale = 1.0 / config.layers
        self.convnext_mag = nn.ModuleList(
            ConvNeXtBlock(c, config.mlp_ratio, k, scale, eps) for _ in range(config.layers)
        )
        self.convnext_pha = nn.ModuleList(
            ConvNeXtBlock(c, config.mlp_ratio, k, scale, eps) for _ in range(config.layers)
        )
        self.norm_post_mag = nn.LayerNorm(c, eps=eps)
        self.norm_post_pha = nn.LayerNorm(c, eps=eps)
        # As the official code: truncated-normal init for everything created so far, PyTorch's
        # default init for the three output layers.
        self.apply(init_convnext_weights)
        self.linear_post_mag = nn.Linear(c, f)
        self.linear_post_pha_r = nn.Linear(c, f)
        self.linear_post_pha_i = nn.Linear(c, f)
        self.stft = _stft_for(config)

    def forward(self, log_amplitude: torch.Tensor, phase: torch.Tensor) -> BWEOutput:
        """Narrowband ``(B, F, N)`` log-amplitude and phase -> wideband :class:`BWEOutput`."""
        _check_spectra(log_amplitude, phase, self.config.n_bins)
        x_mag = self.norm_pre_mag(self.conv_pre_mag(log_amplitude))
        x_pha = self.norm_pre_pha(self.conv_pre_pha(phase))
        for block_mag, block_pha in zip(self.convnext_mag, self.convnext_pha):
            # Sequential cross-add of the official code (the phase stream sees the updated x_mag).
            x_mag = x_mag + x_pha
            x_pha = x_pha + x_mag
            x_mag = block_mag(x_mag)
            x_pha = block_pha(x_pha)
        x_mag = self.norm_post_mag(x_mag.transpose(1, 2))
        mag_wb = log_amplitude + self.linear_post_mag(x_mag).transpose(1, 2)
        x_pha = self.norm_post_pha(x_pha.transpose(1, 2))
        real = self.linear_post_pha_r(x_pha)
        imag = self.linear_post_pha_i(x_pha)
        pha_wb = torch.atan2(imag, real).transpose(1, 2)
        return BWEOutput(mag_wb, pha_wb)

    # ------------------------------------------------------------------ loading and saving
    @classmethod
    def from_official(
        cls,
        checkpoint: str | os.PathLike | Mapping[str, torch.Tensor],
        preset: str | APBWEConfig,
        map_location: str | torch.device = "cpu",
    ) -> APBWE:
        """Load a released generator checkpoint (``g_8kto16k`` etc.) of the official code.

        Args:
            checkpoint: path of a torch file holding ``{"generator": state_dict}`` (the official
                format) or a bare state dict, a ``.safetensors`` file (e.g. the Hugging Face mirror),
                or the state dict itself.
            preset: preset name (``"8k_16k"``, ...) or an :class:`APBWEConfig`.

        Raises:
            ValueError: missing/unexpected keys or wrong shapes (all of them listed).
        """
        config = preset if isinstance(preset, APBWEConfig) else APBWEConfig.preset(preset)
        state = read_official_checkpoint(checkpoint, map_location)
        if isinstance(checkpoint, Mapping):  # do not alias the caller's tensors
            state = {k: v.clone() for k, v in state.items()}
        source = "" if isinstance(checkpoint, Mapping) else str(checkpoint)
        return cls._from_state_dict(config, state, map_location, source)

    @classmethod
    def _from_state_dict(
        cls, config: APBWEConfig, state: Mapping[str, torch.Tensor], device: str | torch.device, source: str
    ) -> APBWE:
        """Build on the meta device (skipping the discarded random initialisation), then adopt the
        checkpoint's tensors (as float32) after a strict key/shape check."""
        with torch.device("meta"):
            model = cls(config)
        model.stft = model.stft.to(device)
        state = {k: (v.float() if v.is_floating_point() else v).to(device) for k, v in state.items()}
        load_state_dict_strict(model, state, source=source, assign=True)
        return model.eval()

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, map_location: str | torch.device = "cpu") -> APBWE:
        """Load ``model.safetensors`` + ``config.json`` from a folder written by :meth:`save_pretrained`."""
        path = Path(path)
        cfg_path, w_path = path / CONFIG_NAME, path / WEIGHTS_NAME
        meta, state = read_pretrained_files(path, map_location, CONFIG_NAME, WEIGHTS_NAME)
        if meta.get("model", "APBWE") != "APBWE":
            raise ValueError(f"{cfg_path}: holds a {meta.get('model')!r} model, not APBWE")
        with checkpoint_errors(cfg_path):
            config = APBWEConfig.from_dict(meta.get("config", meta))
        return cls._from_state_dict(config, state, map_location, str(w_path))

    def save_pretrained(self, path: str | os.PathLike, extra: dict | None = None) -> Path:
        """Write ``model.safetensors`` and ``config.json`` (``{"model": "APBWE", "config": {...}}``)."""
        from safetensors.torch import save_file

        from audiokit.io import atomic_write

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        with atomic_write(path / WEIGHTS_NAME) as tmp:
            save_file(state, str(tmp), metadata={"format": "pt"})
        meta = {"model": "APBWE", "config": self.config.to_dict(), **(extra or {})}
        with atomic_write(path / CONFIG_NAME) as tmp:
            tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return path

    def fuse(
        self,
        precision: str = "fp32",
        compile: bool = False,
        chunk_frames: int | None = None,
        workers: int | None = None,
    ):
        """An inference-only copy with folded weights (:class:`~audiokit.bwe.fused.FusedAPBWE`).

        ``precision="bf16"`` runs most of the network in bfloat16 (fastest on CPUs with AMX,
        > 30 dB SNR from fp32); ``compile=True`` adds :func:`torch.compile`; ``workers`` chunks are
        processed concurrently (default: torch's thread count).
        """
        from audiokit.bwe.fused import FAST_CHUNK_FRAMES, FusedAPBWE

        return FusedAPBWE(self, precision, compile, chunk_frames or FAST_CHUNK_FRAMES, workers)  # type: ignore[arg-type]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _stft_for(config: APBWEConfig) -> STFT:
    """The model's STFT. Its window is a real tensor even when the model is built on the meta device
    (for loading), where ``torch.hann_window`` would also be very slow."""
    if torch.empty(0).device.type == "meta":
        with torch.device("cpu"):
            return STFT(config.n_fft, config.hop_size, config.win_size)
    return STFT(config.n_fft, config.hop_size, config.win_size)


def _check_spectra(log_amplitude: torch.Tensor, phase: torch.Tensor, n_bins: int) -> None:
    if log_amplitude.dim() != 3 or log_amplitude.shape != phase.shape:
        raise ValueError(
            f"expected log_amplitude and phase of equal shape (B, {n_bins}, N), got "
            f"{tuple(log_amplitude.shape)} and {tuple(phase.shape)}"
        )
    if log_amplitude.shape[1] != n_bins:
        raise ValueError(f"expected {n_bins} frequency bins on dim 1, got {log_amplitude.shape[1]}")


def read_official_checkpoint(
    checkpoint: str | os.PathLike | Mapping[str, torch.Tensor], map_location: str | torch.device = "cpu"
) -> dict[str, torch.Tensor]:
    """A generator state dict from an official checkpoint file, a safetensors file or a mapping
    (:func:`audiokit.checkpoints.read_state_dict`)."""
    return read_state_dict(checkpoint, map_location)
