"""Composition of perturbations (:class:`Chain`), peak handling and the presets."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from audiokit.io import PEAK_MODES, limit_peaks
from audiokit.perturb.base import (
    Perturbation,
    PerturbationRecord,
    as_numpy,
    available,
    create,
    get,
    like_input,
    names_of,
)

__all__ = ["Chain", "ChainResult", "PEAK_MODES", "limit_peaks", "preset", "PRESETS"]


@dataclass
class ChainResult:
    """Output of :meth:`Chain.__call__`: the audio, the records of every step and the peak report."""

    wav: torch.Tensor | np.ndarray
    records: list[PerturbationRecord]
    peak: dict[str, Any] = field(default_factory=dict)

    def to_dicts(self) -> list[dict[str, Any]]:
        """The applied records as JSON-ready dicts (what a manifest stores; enough to replay)."""
        return [r.to_dict() for r in self.records if r.applied]


class Chain:
    """Perturbations applied in order.

    A chain is itself a step: chains nest (``Chain([Chain(["a", "b"], choose=1), "c"])`` is "one of
    a or b, then c"). A nested chain's records are inserted in place into the outer chain's records
    (so records stay a flat, replayable list), and only the outermost peak policy is applied.

    Args:
        perturbations: :class:`Perturbation` instances, names, config dicts, :class:`Chain` s or chain
            config dicts (``{"perturbations": [...], "choose": ...}``).
        choose: ``None`` applies every step (each with its own probability ``p``); an integer ``k``
            draws ``k`` distinct steps at random per sample (kept in chain order), like
            audiomentations' ``SomeOf``; ``1`` is ``OneOf``.
        peak: the peak policy of :func:`limit_peaks`.
        p: probability that the chain runs at all when it is a step of another chain.
    """

    def __init__(
        self,
        perturbations: Sequence[Perturbation | Chain | str | Mapping[str, Any]],
        choose: int | None = None,
        peak: str = "limit",
        p: float = 1.0,
    ):
        self.perturbations: list[Perturbation | Chain] = [_step(q) for q in perturbations]
        if not self.perturbations:
            raise ValueError("a chain needs at least one perturbation")
        if choose is not None and not 1 <= int(choose) <= len(self.perturbations):
            raise ValueError(f"choose must be between 1 and {len(self.perturbations)}, got {choose}")
        if peak not in PEAK_MODES:
            raise ValueError(f"peak must be one of {PEAK_MODES}, got {peak!r}")
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.choose = None if choose is None else int(choose)
        self.peak = peak
        self.p = float(p)
        self.name = "chain"

    @property
    def labels(self) -> list[str]:
        return names_of(self.perturbations)

    def sample(self, rng: np.random.Generator | int | None = None) -> list[PerturbationRecord]:
        """Draw the records of one variant (steps not chosen or skipped by ``p`` are marked
        ``applied=False``)."""
        rng = np.random.default_rng(rng)
        chosen = set(range(len(self.perturbations)))
        if self.choose is not None:
            chosen = set(rng.choice(len(self.perturbations), size=self.choose, replace=False).tolist())
        recs = []
        for i, p in enumerate(self.perturbations):
            applied = i in chosen and (p.p >= 1.0 or bool(rng.random() < p.p))
            if isinstance(p, Chain):
                inner = p.sample(rng)
                recs.extend(r if applied else dataclasses.replace(r, applied=False) for r in inner)
                continue
            params = p.sample(rng)
            recs.append(p.record(params, applied=applied))
        return recs

    def apply(
        self,
        wav: torch.Tensor | np.ndarray,
        sr: int,
        records: Sequence[PerturbationRecord | Mapping[str, Any]],
    ) -> ChainResult:
        """Apply ``records`` (from :meth:`sample`, a search or a manifest) in order, then the peak
        policy. Records carry their perturbation names, so any records can be applied."""
        x = as_numpy(wav)
        done = []
        for r in records:
            rec = r if isinstance(r, PerturbationRecord) else PerturbationRecord.from_dict(r)
            if rec.applied:
                p = self._instance(rec.name)
                n = x.shape[-1]
                x = p.apply(x, sr, **rec.params)
                rec = p.record(rec.params, sr=sr, n_samples=n)
            done.append(rec)
        x, peak = limit_peaks(x, self.peak)
        return ChainResult(like_input(x, wav), done, peak)

    def _find(self, name: str) -> Perturbation | None:
        for p in self.perturbations:
            found = p._find(name) if isinstance(p, Chain) else p if p.name == name else None
            if found is not None:
                return found
        return None

    def _instance(self, name: str) -> Perturbation:
        found = self._find(name)
        return found if found is not None else get(name)()

    def __call__(
        self, wav: torch.Tensor | np.ndarray, sr: int, rng: np.random.Generator | int | None = None
    ) -> ChainResult:
        """Sample and apply one variant."""
        return self.apply(wav, sr, self.sample(rng))

    def config(self) -> dict[str, Any]:
        d: dict[str, Any] = {"perturbations": [p.config() for p in self.perturbations]}
        if self.choose is not None:
            d["choose"] = self.choose
        if self.peak != "limit":
            d["peak"] = self.peak
        if self.p != 1.0:
            d["p"] = self.p
        return d

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Chain:
        unknown = set(cfg) - {"perturbations", "choose", "peak", "p"}
        if unknown:
            raise ValueError(f"unknown chain key(s) {sorted(unknown)}")
        return cls(cfg["perturbations"], cfg.get("choose"), cfg.get("peak", "limit"), cfg.get("p", 1.0))

    def __repr__(self) -> str:
        extra = "" if self.p == 1.0 else f", p={self.p}"
        return f"Chain({self.perturbations!r}, choose={self.choose}, peak={self.peak!r}{extra})"


def _step(spec: Perturbation | Chain | str | Mapping[str, Any]) -> Perturbation | Chain:
    """A chain step: a nested chain (an instance or a config with ``perturbations``) or a perturbation."""
    if isinstance(spec, Chain):
        return spec
    if isinstance(spec, Mapping) and "perturbations" in spec:
        return Chain.from_config(spec)
    return create(spec)


def _ajailbench(peak: str = "limit") -> Chain:
    return Chain([get("ajailbench")()], peak=peak)


def _all(peak: str = "limit") -> Chain:
    return Chain([get(n)() for n in available() if n != "ajailbench"], choose=1, peak=peak)


#: Named presets: ``ajailbench`` (the official ten perturbations through their ``(way,
#: parameter)`` encoding and ranges) and ``all`` (one of every audiokit perturbation per variant,
#: default ranges).
PRESETS = {"ajailbench": _ajailbench, "all": _all}


def preset(name: str, peak: str = "limit") -> Chain:
    """A preset chain by name (see :data:`PRESETS`)."""
    try:
        return PRESETS[name](peak)
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; available: {', '.join(PRESETS)}") from None
