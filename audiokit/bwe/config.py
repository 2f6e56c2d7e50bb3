"""AP-BWE model configuration and the seven official presets."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["APBWEConfig", "PRESETS", "preset_names"]


@dataclass(frozen=True)
class APBWEConfig:
    """Hyper-parameters of the AP-BWE generator and its STFT front end.

    The defaults are the official ``config_8kto16k.json``. All official configurations share the
    STFT (n_fft 1024, Hann window 320, hop 80 - also at 48 kHz) and the generator size (512 channels,
    8 ConvNeXt layer pairs); they differ only in the two sample rates.

    Args:
        hr_sampling_rate: target (wideband) rate; the model runs at this rate.
        lr_sampling_rate: source (narrowband) rate the model was trained to extend.
        n_fft, hop_size, win_size: STFT parameters (periodic Hann window, centred frames).
        channels: ConvNeXt width (official ``ConvNeXt_channels``).
        layers: ConvNeXt blocks per stream (official ``ConvNeXt_layers``).
        mlp_ratio: hidden width of the pointwise MLP as a multiple of ``channels``.
        kernel_size: kernel of the input convolutions and the depthwise convolutions.
        log_eps: additive floor of the log amplitude, ``ln(|X| + log_eps)``.
        layer_norm_eps: epsilon of every LayerNorm.
        keep_low_band: inference setting of :meth:`~audiokit.bwe.APBWE.extend` (not part of the
            network; ``False`` is the official behaviour): keep the input's own spectrum below
            ``lr / 2`` - its phase up to ``lr / 2``, its log-amplitude up to
            ``low_band_crossover * lr / 2`` then cross-faded into the generated one (the sinc
            resampler's transition band) - and use the generated spectrum above. For small models
            that cannot reproduce the low-band phase.
        low_band_crossover: start of that cross-fade as a fraction of ``lr / 2``.
        high_band_gain_db: inference setting: gain added to the generated log-amplitude above
            ``lr / 2`` (faded in over the same cross-fade; 0 is the official behaviour). Classical
            bandwidth extension under-estimates the extended band on purpose, because an
            over-estimated band is heard as an artefact and a too-quiet one only as a duller sound
            (Nilsson & Kleijn, ICASSP 2001); the real-speech model sets it from its validation set.
    """

    hr_sampling_rate: int = 16000
    lr_sampling_rate: int = 8000
    n_fft: int = 1024
    hop_size: int = 80
    win_size: int = 320
    channels: int = 512
    layers: int = 8
    mlp_ratio: int = 3
    kernel_size: int = 7
    log_eps: float = 1e-4
    layer_norm_eps: float = 1e-6
    keep_low_band: bool = False
    low_band_crossover: float = 0.75
    high_band_gain_db: float = 0.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.high_band_gain_db) or not -60.0 <= self.high_band_gain_db <= 20.0:
            raise ValueError(f"high_band_gain_db must be in [-60, 20] dB, got {self.high_band_gain_db}")
        if not 0.0 < self.low_band_crossover <= 1.0:
            raise ValueError(f"low_band_crossover must be in (0, 1], got {self.low_band_crossover}")
        if not 0 < self.lr_sampling_rate < self.hr_sampling_rate:
            raise ValueError(
                f"need 0 < lr_sampling_rate < hr_sampling_rate, got {self.lr_sampling_rate} "
                f"and {self.hr_sampling_rate}"
            )
        if not 0 < self.win_size <= self.n_fft or self.hop_size <= 0:
            raise ValueError(f"bad STFT: n_fft={self.n_fft}, win_size={self.win_size}, hop={self.hop_size}")
        if self.kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")
        if self.channels <= 0 or self.layers <= 0 or self.mlp_ratio <= 0:
            raise ValueError("channels, layers and mlp_ratio must be positive")

    @property
    def n_bins(self) -> int:
        """Frequency bins of the one-sided spectrum, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def receptive_field(self) -> int:
        """Frames of context on each side that influence an output frame: ``(layers + 1) * (k // 2)``."""
        return (self.layers + 1) * (self.kernel_size // 2)

    @property
    def name(self) -> str:
        """Preset-style name, e.g. ``"8k_16k"`` (rates in kHz)."""
        return f"{_khz(self.lr_sampling_rate)}_{_khz(self.hr_sampling_rate)}"

    def replace(self, **changes: Any) -> APBWEConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> APBWEConfig:
        """Build from a dict; unknown keys or wrong types raise ``ValueError`` naming the key."""
        if not isinstance(d, dict):
            raise ValueError(f"APBWEConfig: expected a mapping, got {type(d).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - set(fields))
        if unknown:
            raise ValueError(f"APBWEConfig: unknown key(s) {', '.join(unknown)}; known: {', '.join(fields)}")
        out: dict[str, Any] = {}
        for k, v in d.items():
            want = {"int": int, "float": float, "bool": bool}[str(fields[k].type)]
            if want is bool:
                if not isinstance(v, bool):
                    raise ValueError(f"APBWEConfig.{k}: expected bool, got {v!r}")
                out[k] = v
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or (want is int and v != int(v)):
                raise ValueError(f"APBWEConfig.{k}: expected {want.__name__}, got {v!r}")
            out[k] = want(v)
        return cls(**out)

    @classmethod
    def from_official(cls, d: dict[str, Any]) -> APBWEConfig:
        """Build from an official ``config_*.json`` dict (``ConvNeXt_channels``, ``hop_size``, ...).

        Training-only keys of that file (batch size, learning rate, ...) are ignored.
        """
        missing = [k for k in ("hr_sampling_rate", "lr_sampling_rate") if k not in d]
        if missing:
            raise ValueError(f"official AP-BWE config lacks {', '.join(missing)}")
        default = cls()
        return cls(
            hr_sampling_rate=int(d["hr_sampling_rate"]),
            lr_sampling_rate=int(d["lr_sampling_rate"]),
            n_fft=int(d.get("n_fft", default.n_fft)),
            hop_size=int(d.get("hop_size", default.hop_size)),
            win_size=int(d.get("win_size", default.win_size)),
            channels=int(d.get("ConvNeXt_channels", default.channels)),
            layers=int(d.get("ConvNeXt_layers", default.layers)),
        )

    @classmethod
    def preset(cls, name: str) -> APBWEConfig:
        """One of the official configurations by name (see :data:`PRESETS`)."""
        key = name.strip().lower().replace("to", "_").replace("__", "_")
        if key not in PRESETS:
            raise ValueError(f"unknown AP-BWE preset {name!r}; available: {', '.join(PRESETS)}")
        return PRESETS[key]

    def save_json(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> APBWEConfig:
        import yaml

        return cls.from_dict(yaml.safe_load(text))


def _khz(rate: int) -> str:
    return f"{rate // 1000}k" if rate % 1000 == 0 else f"{rate / 1000:g}k"


#: The seven official configurations (``configs/config_{lr}to{hr}.json``), keyed ``"{lr}_{hr}"``.
PRESETS: dict[str, APBWEConfig] = {
    f"{lr}k_{hr}k": APBWEConfig(hr_sampling_rate=hr * 1000, lr_sampling_rate=lr * 1000)
    for lr, hr in ((2, 16), (4, 16), (8, 16), (8, 48), (12, 48), (16, 48), (24, 48))
}


def preset_names() -> list[str]:
    return list(PRESETS)
