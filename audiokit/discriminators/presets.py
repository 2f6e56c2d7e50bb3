"""The discriminator families of each paper, named as the entries of the official ``do_*`` files."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
from torch import nn

from audiokit.discriminators.base import MultiDiscriminator
from audiokit.discriminators.norm import load_state_dict_compat
from audiokit.discriminators.period import MultiPeriodDiscriminator
from audiokit.discriminators.resolution import (
    MultiResolutionAmplitudeDiscriminator,
    MultiResolutionDiscriminator,
    MultiResolutionPhaseDiscriminator,
)
from audiokit.discriminators.scale import MultiScaleDiscriminator

__all__ = ["DISCRIMINATOR_PRESETS", "build_discriminators", "load_discriminators"]

Preset = Literal["apnet", "apnet2", "ap_bwe"]

#: Discriminator families per paper, keyed as in the official ``do_*`` checkpoints.
DISCRIMINATOR_PRESETS: dict[str, tuple[str, ...]] = {
    "apnet": ("mpd", "msd"),
    "apnet2": ("mpd", "mrd"),
    "ap_bwe": ("mpd", "mrad", "mrpd"),
}


def _make(name: str, preset: str) -> MultiDiscriminator:
    if name == "mpd":
        # AP-BWE's DiscriminatorP does not record the first conv's activation as a feature map.
        return MultiPeriodDiscriminator(include_first_fmap=preset != "ap_bwe")
    return {
        "msd": MultiScaleDiscriminator,
        "mrd": MultiResolutionDiscriminator,
        "mrad": MultiResolutionAmplitudeDiscriminator,
        "mrpd": MultiResolutionPhaseDiscriminator,
    }[name]()


def build_discriminators(preset: Preset) -> nn.ModuleDict:
    """The official discriminators of ``preset`` (``"apnet"``, ``"apnet2"`` or ``"ap_bwe"``) as an
    ``nn.ModuleDict`` keyed ``mpd``/``msd``/``mrd``/``mrad``/``mrpd``.

    >>> list(build_discriminators("ap_bwe"))
    ['mpd', 'mrad', 'mrpd']
    """
    if preset not in DISCRIMINATOR_PRESETS:
        raise ValueError(
            f"unknown discriminator preset {preset!r}; use one of {sorted(DISCRIMINATOR_PRESETS)}"
        )
    return nn.ModuleDict({name: _make(name, preset) for name in DISCRIMINATOR_PRESETS[preset]})


def load_discriminators(
    modules: Mapping[str, nn.Module], checkpoint: Mapping[str, object], strict: bool = True
) -> None:
    """Load every entry of ``modules`` from an official ``do_*`` payload (``{'mpd': state_dict,
    ...}``, as returned by ``torch.load(path, weights_only=True)``); either weight-norm key style.

    Raises:
        ValueError: an entry is missing from ``checkpoint`` or does not fit (names the entry).
    """
    for name, module in modules.items():
        if name not in checkpoint:
            raise ValueError(f"checkpoint has no {name!r} entry (entries: {sorted(checkpoint)})")
        state = checkpoint[name]
        if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError(f"checkpoint entry {name!r} is not a state dict")
        try:
            load_state_dict_compat(module, state, strict=strict)
        except ValueError as err:
            raise ValueError(f"checkpoint entry {name!r}: {err}") from None
