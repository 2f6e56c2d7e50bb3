"""Configuration dataclasses of the vocoders, with strict dict/JSON/YAML round trips.

Defaults are the official configurations (``apnet.md`` §7): APNet at 16 kHz (hop 80, window 320),
APNet2 at 22.05 kHz (hop 256, window 1024). :meth:`from_official` converts an official
``config.json`` (the AttrDict of the papers' repositories).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from audiokit.io import atomic_write

__all__ = ["VocoderConfig", "APNetConfig", "APNet2Config"]

C = TypeVar("C", bound="VocoderConfig")

#: values of :attr:`VocoderConfig.amplitude_prior`
AMPLITUDE_PRIORS = ("none", "mel_nnls")


@dataclass
class VocoderConfig:
    """Analysis settings common to every spectral vocoder (the mel input and the ISTFT output)."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 80
    win_length: int = 320
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float | None = 8000.0
    #: inference only: fast Griffin-Lim iterations run on the predicted amplitude, starting from the
    #: predicted phase, in :meth:`SpectralVocoder.synthesize` (0: the published model's output)
    phase_refine_iters: int = 0
    #: ``"none"``: the amplitude branch predicts the log-amplitude (the papers). ``"mel_nnls"``: it
    #: predicts a correction added to the log of the non-negative least-squares inversion of the
    #: input mel (the pseudo-inverse prior of FreeV, Lv et al. 2024, refined to NNLS); frame-local,
    #: so chunking and streaming are unchanged
    amplitude_prior: str = "none"

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first inconsistent field."""
        if self.sample_rate <= 0 or self.hop_length <= 0 or self.n_mels <= 0:
            raise ValueError("sample_rate, hop_length and n_mels must be positive")
        if self.phase_refine_iters < 0:
            raise ValueError(f"phase_refine_iters must be >= 0, got {self.phase_refine_iters}")
        if self.amplitude_prior not in AMPLITUDE_PRIORS:
            raise ValueError(
                f"amplitude_prior must be one of {AMPLITUDE_PRIORS}, got {self.amplitude_prior!r}"
            )
        if not 0 < self.win_length <= self.n_fft:
            raise ValueError(
                f"win_length must be in (0, n_fft], got {self.win_length} with n_fft={self.n_fft}"
            )
        f_max = self.sample_rate / 2 if self.f_max is None else self.f_max
        if not 0 <= self.f_min < f_max <= self.sample_rate / 2:
            raise ValueError(
                f"need 0 <= f_min < f_max <= sample_rate/2, got f_min={self.f_min}, f_max={f_max}"
            )

    def __post_init__(self) -> None:
        self.validate()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-serialisable dict (tuples become lists)."""
        from audiokit.train.config import to_dict  # lazy: inference need not import the training engine

        return to_dict(self)

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        """Strict inverse of :meth:`to_dict` (:func:`audiokit.train.config.from_dict`): an unknown key
        or a wrong type raises ``ValueError`` naming the key."""
        from audiokit.train.config import from_dict

        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__}: expected a mapping, got {type(data).__name__}")
        return from_dict(cls, data)

    def save(self, path: str | os.PathLike) -> None:
        """Write as JSON (``.json``) or YAML (any other suffix)."""
        from audiokit.train.config import save_yaml

        path = Path(path)
        if path.suffix != ".json":
            save_yaml(self.to_dict(), path)
            return
        with atomic_write(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls: type[C], path: str | os.PathLike) -> C:
        """Read a file written by :meth:`save` (JSON or YAML)."""
        from audiokit.train.config import load_yaml

        path = Path(path)
        if path.suffix == ".json":
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}: cannot parse ({e})") from None
        else:
            data = load_yaml(path)
        return cls.from_dict(data or {})


@dataclass
class APNetConfig(VocoderConfig):
    """APNet (Ai & Ling 2023) generator; defaults = the official ``config.json`` (16 kHz, hop 80, win 320).

    Both branches (amplitude ``ASP`` and phase ``PSP``) share ``channels`` and the residual-block layout,
    as in every published configuration.
    """

    channels: int = 512
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilations: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    input_kernel_size: int = 7
    output_kernel_size: int = 7
    weight_norm: bool = True

    def validate(self) -> None:
        super().validate()
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilations):
            raise ValueError("resblock_kernel_sizes and resblock_dilations must have the same length")
        for k in (*self.resblock_kernel_sizes, self.input_kernel_size, self.output_kernel_size):
            if k % 2 == 0:
                raise ValueError(f"kernel sizes must be odd for 'same' padding, got {k}")

    @classmethod
    def from_official(cls, h: dict[str, Any]) -> APNetConfig:
        """Convert an official APNet ``config.json`` dict (training-only keys are ignored)."""
        _check_same_branches(h, _RESNET_PAIRS + _CONV_PAIRS)
        return cls.from_dict(
            _pick(
                h,
                {
                    "sampling_rate": "sample_rate",
                    "n_fft": "n_fft",
                    "hop_size": "hop_length",
                    "win_size": "win_length",
                    "num_mels": "n_mels",
                    "fmin": "f_min",
                    "fmax": "f_max",
                    "ASP_channel": "channels",
                    "ASP_resblock_kernel_sizes": "resblock_kernel_sizes",
                    "ASP_resblock_dilation_sizes": "resblock_dilations",
                    "ASP_input_conv_kernel_size": "input_kernel_size",
                    "ASP_output_conv_kernel_size": "output_kernel_size",
                },
            )
        )


@dataclass
class APNet2Config(VocoderConfig):
    """APNet2 (Du et al. 2023) generator; defaults = the official ``config.json`` (22.05 kHz, hop 256,
    win 1024) and the values hard-coded in its ``models.py`` (dim 512, 8 ConvNeXt-v2 blocks, 1536)."""

    sample_rate: int = 22050
    hop_length: int = 256
    win_length: int = 1024
    dim: int = 512
    intermediate_dim: int = 1536
    num_layers: int = 8
    input_kernel_size: int = 7
    output_kernel_size: int = 7
    dwconv_kernel_size: int = 7
    layer_norm_eps: float = 1e-6

    def validate(self) -> None:
        super().validate()
        for k in (self.input_kernel_size, self.output_kernel_size, self.dwconv_kernel_size):
            if k % 2 == 0:
                raise ValueError(f"kernel sizes must be odd for 'same' padding, got {k}")

    @classmethod
    def from_official(cls, h: dict[str, Any]) -> APNet2Config:
        """Convert an official APNet2 ``config.json`` dict.

        ``ASP_channel`` becomes ``dim`` (the official code runs only with 512, the width hard-coded in its
        LayerNorms); ``intermediate_dim`` and ``num_layers`` are hard-coded there and keep their defaults.
        """
        _check_same_branches(h, _CONV_PAIRS + _RESNET_PAIRS[:1])
        return cls.from_dict(
            _pick(
                h,
                {
                    "sampling_rate": "sample_rate",
                    "n_fft": "n_fft",
                    "hop_size": "hop_length",
                    "win_size": "win_length",
                    "num_mels": "n_mels",
                    "fmin": "f_min",
                    "fmax": "f_max",
                    "ASP_channel": "dim",
                    "ASP_input_conv_kernel_size": "input_kernel_size",
                    "ASP_output_conv_kernel_size": "output_kernel_size",
                },
            )
        )


_CONV_PAIRS = [
    ("ASP_input_conv_kernel_size", "PSP_input_conv_kernel_size"),
    ("ASP_output_conv_kernel_size", "PSP_output_R_conv_kernel_size"),
    ("ASP_output_conv_kernel_size", "PSP_output_I_conv_kernel_size"),
]
_RESNET_PAIRS = [
    ("ASP_channel", "PSP_channel"),
    ("ASP_resblock_kernel_sizes", "PSP_resblock_kernel_sizes"),
    ("ASP_resblock_dilation_sizes", "PSP_resblock_dilation_sizes"),
]


def _check_same_branches(h: dict[str, Any], pairs: list[tuple[str, str]]) -> None:
    differ = [f"{a}/{b}" for a, b in pairs if a in h and b in h and json.dumps(h[a]) != json.dumps(h[b])]
    if differ:
        raise ValueError(
            f"official config has different amplitude/phase branch settings ({', '.join(differ)}); "
            "audiokit uses one layout for both branches"
        )


def _pick(h: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    return {ours: h[theirs] for theirs, ours in mapping.items() if theirs in h}
