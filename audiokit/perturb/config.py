"""Configuration of a perturbation job (``audiokit perturb --config apt.yaml``): dataclasses that
round-trip to YAML; unknown keys and wrong types raise ``ValueError`` naming the dotted key."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from audiokit.perturb.chain import Chain, preset
from audiokit.perturb.search import SAMPLERS

__all__ = ["SearchConfig", "PerturbConfig"]


@dataclass
class SearchConfig:
    """Per-file search settings (``mode: search``); ``budget`` defaults to 30 trials, or to the
    official 10 for the ``ajailbench`` sampler."""

    target: Any = None
    constraint: Any = "estoi:0.6"
    budget: int | None = None
    sampler: str = "gp"
    n_startup: int | None = None


@dataclass
class PerturbConfig:
    """A perturbation job.

    ``mode`` is ``variants`` (``variants`` random variants per file) or ``search``. The space is a
    ``preset`` (``ajailbench``, ``all``) or a list of ``perturbations`` (names or dicts with ranges,
    e.g. ``{name: noise, snr_db: [10, 30]}``), applied in order or, with ``choose: k``, ``k`` of
    them per variant. ``constraint``/``target`` in variants mode are optional and only recorded.
    """

    mode: str = "variants"
    variants: int = 1
    preset: str | None = None
    perturbations: list[Any] = field(default_factory=list)
    choose: int | None = None
    peak: str = "limit"
    seed: int = 0
    constraint: Any = None
    target: Any = None
    search: SearchConfig = field(default_factory=SearchConfig)

    def validate(self) -> PerturbConfig:
        if self.mode not in ("variants", "search"):
            raise ValueError(f"mode: must be 'variants' or 'search', got {self.mode!r}")
        if self.variants < 1:
            raise ValueError(f"variants: must be >= 1, got {self.variants}")
        if self.preset is not None and self.perturbations:
            raise ValueError("give either preset or perturbations, not both")
        if self.mode == "search":
            if self.search.target is None:
                raise ValueError(
                    "search.target: a search needs a target (e.g. keyword:WORD, http://..., pkg.mod:factory)"
                )
            if self.search.sampler not in SAMPLERS:
                raise ValueError(
                    f"search.sampler: must be one of {', '.join(SAMPLERS)}, got {self.search.sampler!r}"
                )
            if self.search.budget is not None and self.search.budget < 1:
                raise ValueError(f"search.budget: must be >= 1, got {self.search.budget}")
        return self

    @property
    def budget(self) -> int:
        """The search budget in trials (see :class:`SearchConfig`)."""
        if self.search.budget is not None:
            return int(self.search.budget)
        return 10 if self.search.sampler == "ajailbench" else 30

    def chain(self) -> Any:
        """The :class:`~audiokit.perturb.chain.Chain` of this config (default: the ``ajailbench``
        preset for the ``ajailbench`` sampler, else the ``all`` preset)."""
        if self.perturbations:
            return Chain(self.perturbations, self.choose, self.peak)
        name = self.preset or (
            "ajailbench" if self.mode == "search" and self.search.sampler == "ajailbench" else "all"
        )
        c = preset(name, self.peak)
        if self.choose is not None:
            c = Chain(c.perturbations, self.choose, self.peak)
        return c

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PerturbConfig:
        return _from_dict(cls, d, "").validate()

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> PerturbConfig:
        p = Path(path)
        try:
            d = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise ValueError(f"{p}: not valid YAML ({e})") from None
        if not isinstance(d, dict):
            raise ValueError(f"{p}: the config must be a mapping")
        return cls.from_dict(d)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


_TYPES = {"int": int, "str": str, "float": float}


def _from_dict(cls: type, d: dict[str, Any], prefix: str) -> Any:
    if not isinstance(d, dict):
        raise ValueError(f"{prefix or 'config'}: expected a mapping, got {type(d).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kw = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if k not in fields:
            raise ValueError(f"{key}: unknown key (known: {', '.join(fields)})")
        f = fields[k]
        t = str(f.type)
        if t == "SearchConfig":
            kw[k] = _from_dict(SearchConfig, v or {}, key + ".")
            continue
        base = t.split(" | ")[0]
        if base in _TYPES and v is not None:
            want = _TYPES[base]
            if want is int and (isinstance(v, bool) or not isinstance(v, int)):
                raise ValueError(f"{key}: expected an integer, got {v!r}")
            if want is str and not isinstance(v, str):
                raise ValueError(f"{key}: expected a string, got {v!r}")
        elif v is None and "None" not in t and base in _TYPES:
            raise ValueError(f"{key}: may not be null")
        if t.startswith("list") and not isinstance(v, list):
            raise ValueError(f"{key}: expected a list, got {v!r}")
        kw[k] = v
    return cls(**kw)
