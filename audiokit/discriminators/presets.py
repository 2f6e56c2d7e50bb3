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

__all__ = [
    "DISCRIMINATORS",
    "DISCRIMINATOR_PRESETS",
    "DISCRIMINATOR_OPTIONS",
    "OPTIMIZER_ORDER",
    "build_discriminator",
    "build_discriminators",
    "load_discriminators",
]

Preset = Literal["apnet", "apnet2", "ap_bwe"]

#: The discriminator families by name (the official checkpoint entry names): the one registry.
DISCRIMINATORS: dict[str, type[MultiDiscriminator]] = {
    "mpd": MultiPeriodDiscriminator,
    "msd": MultiScaleDiscriminator,
    "mrd": MultiResolutionDiscriminator,
    "mrad": MultiResolutionAmplitudeDiscriminator,
    "mrpd": MultiResolutionPhaseDiscriminator,
}

#: Discriminator families per paper, keyed and ordered as in the official ``do_*`` checkpoints.
DISCRIMINATOR_PRESETS: dict[str, tuple[str, ...]] = {
    "apnet": ("mpd", "msd"),
    "apnet2": ("mpd", "mrd"),
    "ap_bwe": ("mpd", "mrad", "mrpd"),
}

#: The same families in the order the official discriminator optimizer chains their parameters
#: (``AdamW(chain(msd, mpd))`` ...); it differs from the checkpoint order and matters only to load an
#: official optimizer state.
OPTIMIZER_ORDER: dict[str, tuple[str, ...]] = {
    "apnet": ("msd", "mpd"),
    "apnet2": ("mrd", "mpd"),
    "ap_bwe": ("mrad", "mrpd", "mpd"),
}

#: Constructor options that differ from a family's default in a paper's code. AP-BWE's
#: DiscriminatorP does not record the first conv's activation as a feature map.
DISCRIMINATOR_OPTIONS: dict[str, dict[str, dict[str, object]]] = {
    "ap_bwe": {"mpd": {"include_first_fmap": False}},
}


def build_discriminator(name: str, **options: object) -> MultiDiscriminator:
    """The discriminator family ``name`` (a key of :data:`DISCRIMINATORS`) built with ``options``.

    Raises:
        ValueError: unknown family or constructor options.
    """
    if name not in DISCRIMINATORS:
        raise ValueError(f"unknown discriminator family {name!r}; use one of {sorted(DISCRIMINATORS)}")
    try:
        return DISCRIMINATORS[name](**options)
    except TypeError as e:
        raise ValueError(f"discriminator {name!r}: {e}") from None


def _make(name: str, preset: str) -> MultiDiscriminator:
    return build_discriminator(name, **DISCRIMINATOR_OPTIONS.get(preset, {}).get(name, {}))


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
