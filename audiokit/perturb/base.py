"""Perturbation base class, parameter spaces, records and the registry.

A perturbation is split into ``sample(rng) -> params`` (random) and ``apply(wav, sr, **params)``
(pure and deterministic given ``params``). Every applied perturbation is therefore a small
JSON-serialisable :class:`PerturbationRecord` that :func:`replay` reproduces bit-exactly.

Parameter spaces are dictionaries of :class:`Uniform`, :class:`IntRange`, :class:`Choice`,
:class:`Fixed` and :class:`RandomSeed` entries. They drive random sampling (``sample``) and the
Bayesian search (``suggest`` on an optuna trial). Ranges can be overridden per instance with the
audiomentations-style ``min_<param>``/``max_<param>`` keywords or ``<param>=(low, high)``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

__all__ = [
    "DOMAINS",
    "Param",
    "Uniform",
    "IntRange",
    "Choice",
    "Fixed",
    "RandomSeed",
    "Perturbation",
    "PerturbationRecord",
    "REGISTRY",
    "register",
    "get",
    "available",
    "create",
    "replay",
    "as_numpy",
    "like_input",
]

log = logging.getLogger(__name__)

#: The perturbation domains of AJailBench's APT (the overlay family counts as amplitude).
DOMAINS = ("time", "frequency", "amplitude")


class Param:
    """One dimension of a parameter space."""

    searchable: ClassVar[bool] = True

    def sample(self, rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def suggest(self, trial: Any, name: str) -> Any:
        """Ask an optuna trial for a value."""
        raise NotImplementedError

    def validate(self, name: str, value: Any) -> Any:
        return value

    def to_spec(self) -> Any:
        """The YAML/JSON form accepted by :meth:`from_spec`."""
        raise NotImplementedError

    @staticmethod
    def from_spec(spec: Any, default: Param | None = None) -> Param:
        """Parse a config value: ``[low, high]`` a range, ``[a, b, c]`` of strings or
        ``{"choices": [...]}`` a choice, ``{"low":, "high":, "log":}`` a range, a scalar a fixed value."""
        if isinstance(spec, Param):
            return spec
        if isinstance(spec, Mapping):
            if "choices" in spec:
                return Choice(tuple(spec["choices"]))
            if "low" in spec and "high" in spec:
                log_ = bool(spec.get("log", getattr(default, "log", False)))
                if isinstance(default, IntRange):
                    return IntRange(int(spec["low"]), int(spec["high"]))
                return Uniform(float(spec["low"]), float(spec["high"]), log_)
            if "value" in spec:
                return Fixed(spec["value"])
            raise ValueError(f"cannot parse parameter spec {dict(spec)!r}")
        if isinstance(spec, (list, tuple)):
            if len(spec) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec):
                if isinstance(default, IntRange):
                    return IntRange(int(spec[0]), int(spec[1]))
                if isinstance(default, Choice):
                    return Choice(tuple(spec))
                return Uniform(float(spec[0]), float(spec[1]), getattr(default, "log", False))
            return Choice(tuple(spec))
        return Fixed(spec)


@dataclass(frozen=True)
class Uniform(Param):
    """A float drawn uniformly from ``[low, high]`` (log-uniformly when ``log``)."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low > self.high:
            raise ValueError(f"bad range [{self.low}, {self.high}]")
        if self.log and self.low <= 0:
            raise ValueError(f"log range must be positive, got [{self.low}, {self.high}]")

    def sample(self, rng: np.random.Generator) -> float:
        if self.low == self.high:
            return float(self.low)
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def suggest(self, trial: Any, name: str) -> float:
        if self.low == self.high:
            return float(self.low)
        return float(trial.suggest_float(name, self.low, self.high, log=self.log))

    def validate(self, name: str, value: Any) -> float:
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"{name}={value!r} is not a finite number")
        return v

    def to_spec(self) -> Any:
        return {"low": self.low, "high": self.high, "log": True} if self.log else [self.low, self.high]


@dataclass(frozen=True)
class IntRange(Param):
    """An integer drawn uniformly from ``low..high`` (inclusive)."""

    low: int
    high: int

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"bad range [{self.low}, {self.high}]")

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high + 1))

    def suggest(self, trial: Any, name: str) -> int:
        if self.low == self.high:
            return self.low
        return int(trial.suggest_int(name, self.low, self.high))

    def validate(self, name: str, value: Any) -> int:
        return int(value)

    def to_spec(self) -> Any:
        return [self.low, self.high]


@dataclass(frozen=True)
class Choice(Param):
    """One of ``options``."""

    options: tuple

    def __post_init__(self) -> None:
        if not self.options:
            raise ValueError("a choice needs at least one option")

    def sample(self, rng: np.random.Generator) -> Any:
        return self.options[int(rng.integers(len(self.options)))]

    def suggest(self, trial: Any, name: str) -> Any:
        if len(self.options) == 1:
            return self.options[0]
        return trial.suggest_categorical(name, list(self.options))

    def to_spec(self) -> Any:
        return {"choices": list(self.options)}


@dataclass(frozen=True)
class Fixed(Param):
    """A constant (an option of the perturbation that is not searched)."""

    value: Any
    searchable: ClassVar[bool] = False

    def sample(self, rng: np.random.Generator) -> Any:
        return self.value

    def suggest(self, trial: Any, name: str) -> Any:
        return self.value

    def to_spec(self) -> Any:
        return self.value


@dataclass(frozen=True)
class RandomSeed(Param):
    """The seed of a random realisation (noise, a synthetic room). Sampled at random, but held
    fixed during a search so that the searched objective is deterministic."""

    searchable: ClassVar[bool] = False

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(0, 2**31 - 1))

    def suggest(self, trial: Any, name: str) -> int:
        raise TypeError("RandomSeed is not searched; the search fixes it per run")

    def validate(self, name: str, value: Any) -> int:
        return int(value)

    def to_spec(self) -> Any:
        return "random"


@dataclass
class PerturbationRecord:
    """What was applied: ``name``, ``domain``, the full ``params`` and whether it was ``applied``
    (a perturbation with probability ``p < 1`` may be skipped). ``info`` holds derived values
    (e.g. the tone frequency actually used) for reports; replay ignores it."""

    name: str
    domain: str
    params: dict[str, Any]
    applied: bool = True
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "domain": self.domain, "params": _jsonable(self.params)}
        if not self.applied:
            d["applied"] = False
        if self.info:
            d["info"] = _jsonable(self.info)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PerturbationRecord:
        try:
            name = d["name"]
        except KeyError:
            raise ValueError(f"perturbation record without a name: {dict(d)!r}") from None
        domain = d.get("domain") or get(name).domain
        return cls(
            name, domain, dict(d.get("params", {})), bool(d.get("applied", True)), dict(d.get("info", {}))
        )


def _jsonable(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"non-finite parameter value {v}")
    return v


def as_numpy(wav: torch.Tensor | np.ndarray, name: str = "audio") -> np.ndarray:
    """``(T,)`` or ``(C, T)`` audio as a float32 ``(C, T)`` numpy array, validated."""
    x = wav.detach().cpu().numpy() if isinstance(wav, torch.Tensor) else np.asarray(wav)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"{name}: expected (T,) or (C, T) audio, got shape {tuple(x.shape)}")
    if x.shape[0] > 64 and x.shape[1] <= 64:
        raise ValueError(f"{name}: shape {tuple(x.shape)} looks like (T, C); expected channels first (C, T)")
    if x.shape[1] == 0:
        raise ValueError(f"{name}: audio is empty (zero samples)")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: audio contains NaN or Inf samples")
    return np.ascontiguousarray(x, dtype=np.float32)


def like_input(y: np.ndarray, ref: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """Return ``y`` (C, T) in the container and rank of ``ref``."""
    y = np.ascontiguousarray(y, dtype=np.float32)
    if ref.ndim == 1:
        y = y[0]
    if isinstance(ref, torch.Tensor):
        return torch.from_numpy(y).to(ref.device)
    return y


class Perturbation:
    """Base class: subclasses set ``name``, ``domain`` and ``SPACE`` and implement ``_apply``.

    Args:
        p: probability that :meth:`sample` marks the perturbation as applied (1.0: always).
        **space: overrides of the parameter space, either ``<param>=(low, high)``, a list of
            choices, a fixed value, or ``min_<param>=``/``max_<param>=``.
    """

    name: ClassVar[str] = ""
    domain: ClassVar[str] = ""
    #: whether the output length may differ from the input length
    changes_length: ClassVar[bool] = False
    SPACE: ClassVar[dict[str, Param]] = {}

    def __init__(self, p: float = 1.0, **space: Any):
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"{self.name}: p must be in [0, 1], got {p}")
        self.p = float(p)
        self.space: dict[str, Param] = dict(self.SPACE)
        mins = {k[4:]: v for k, v in space.items() if k.startswith("min_")}
        maxs = {k[4:]: v for k, v in space.items() if k.startswith("max_")}
        for k, v in space.items():
            if k.startswith(("min_", "max_")):
                continue
            self._check_param(k)
            self.space[k] = Param.from_spec(v, self.SPACE[k])
        for k in set(mins) | set(maxs):
            self._check_param(k)
            cur = self.space[k]
            if not isinstance(cur, (Uniform, IntRange)):
                raise ValueError(f"{self.name}: min_/max_ given for {k!r}, which is not a range")
            lo, hi = mins.get(k, cur.low), maxs.get(k, cur.high)
            self.space[k] = (
                IntRange(int(lo), int(hi))
                if isinstance(cur, IntRange)
                else Uniform(float(lo), float(hi), cur.log)
            )

    def _check_param(self, k: str) -> None:
        if k not in self.SPACE:
            raise ValueError(f"{self.name}: unknown parameter {k!r}; parameters: {', '.join(self.SPACE)}")

    # --- sampling -------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw one parameter set from the space."""
        return {k: p.sample(rng) for k, p in self.space.items()}

    def searchable(self) -> dict[str, Param]:
        """The dimensions a search optimises (ranges and choices with more than one value)."""
        return {
            k: p
            for k, p in self.space.items()
            if p.searchable and not (isinstance(p, Choice) and len(p.options) == 1)
        }

    # --- application ----------------------------------------------------------------------------
    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Complete ``params`` with fixed values, check names and types."""
        unknown = set(params) - set(self.SPACE)
        if unknown:
            raise ValueError(f"{self.name}: unknown parameter(s) {sorted(unknown)}")
        out = {}
        for k, spec in self.SPACE.items():
            if k in params:
                out[k] = self.SPACE[k].validate(f"{self.name}.{k}", params[k])
            elif isinstance(self.space[k], Fixed):
                out[k] = self.space[k].value
            elif isinstance(spec, Fixed):
                out[k] = spec.value
            else:
                raise ValueError(f"{self.name}: missing parameter {k!r}")
        return out

    def apply(self, wav: torch.Tensor | np.ndarray, sr: int, **params: Any) -> torch.Tensor | np.ndarray:
        """Apply with explicit ``params`` (pure). ``wav`` is ``(T,)`` or ``(C, T)``; the output has
        the same rank and container; every channel gets the same parameters."""
        if int(sr) <= 0:
            raise ValueError(f"{self.name}: sample rate must be positive, got {sr}")
        x = as_numpy(wav, self.name)
        y = self._apply(x, int(sr), **self.validate(params))
        if y.ndim != 2 or y.shape[0] != x.shape[0]:
            raise RuntimeError(f"{self.name}: produced shape {y.shape} from {x.shape}")
        if not self.changes_length and y.shape[1] != x.shape[1]:
            raise RuntimeError(f"{self.name}: changed the length {x.shape[1]} -> {y.shape[1]}")
        if y.shape[1] == 0:
            raise ValueError(f"{self.name}: the perturbation left no samples")
        if not np.isfinite(y).all():
            raise FloatingPointError(f"{self.name}: produced NaN/Inf with params {params}")
        return like_input(y, wav)

    def _apply(self, x: np.ndarray, sr: int, **params: Any) -> np.ndarray:
        raise NotImplementedError

    def describe(self, sr: int, params: Mapping[str, Any], n_samples: int) -> dict[str, Any]:
        """Derived values worth reporting (e.g. a resolved frequency); empty by default."""
        return {}

    def record(
        self,
        params: Mapping[str, Any],
        applied: bool = True,
        sr: int | None = None,
        n_samples: int | None = None,
    ) -> PerturbationRecord:
        """The record of applying ``params`` (with derived ``info`` when ``sr`` and ``n_samples``
        of the input are given)."""
        info = self.describe(sr, params, n_samples) if (sr and n_samples and applied) else {}
        return PerturbationRecord(self.name, self.domain, dict(params), applied, info)

    def __call__(
        self, wav: torch.Tensor | np.ndarray, sr: int, rng: np.random.Generator | int | None = None
    ) -> tuple[torch.Tensor | np.ndarray, PerturbationRecord]:
        """Sample (with probability ``p``) and apply; returns ``(output, record)``."""
        rng = np.random.default_rng(rng)
        applied = bool(rng.random() < self.p) if self.p < 1.0 else True
        params = self.sample(rng)
        if not applied:
            return wav, self.record(params, applied=False)
        return self.apply(wav, sr, **params), self.record(params, sr=sr, n_samples=wav.shape[-1])

    def config(self) -> dict[str, Any]:
        """This instance as a config dict (``name``, ``p`` and the overridden space)."""
        d: dict[str, Any] = {"name": self.name}
        if self.p != 1.0:
            d["p"] = self.p
        for k, v in self.space.items():
            if v != self.SPACE[k]:
                d[k] = v.to_spec()
        return d

    def __repr__(self) -> str:
        over = {k: v for k, v in self.config().items() if k != "name"}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in over.items())})"


REGISTRY: dict[str, type[Perturbation]] = {}


def register(cls: type[Perturbation]) -> type[Perturbation]:
    """Class decorator adding a perturbation to :data:`REGISTRY` under ``cls.name``."""
    if not cls.name or cls.domain not in DOMAINS + ("mixed",):
        raise ValueError(f"{cls.__name__}: set name and a domain in {DOMAINS}")
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise ValueError(f"perturbation name {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls


def _load_builtins() -> None:
    from audiokit.perturb import ajailbench, amplitude_domain, frequency_domain, time_domain  # noqa: F401


def get(name: str) -> type[Perturbation]:
    """The perturbation class registered as ``name``."""
    _load_builtins()
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown perturbation {name!r}; available: {', '.join(available())}") from None


def available(domain: str | None = None) -> list[str]:
    """Registered perturbation names (optionally of one domain), sorted."""
    _load_builtins()
    return sorted(n for n, c in REGISTRY.items() if domain is None or c.domain == domain)


def create(spec: str | Mapping[str, Any] | Perturbation) -> Perturbation:
    """Build a perturbation from a name or a config dict ``{"name": ..., "p": ..., <param>: ...}``."""
    if isinstance(spec, Perturbation):
        return spec
    if isinstance(spec, str):
        return get(spec)()
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ValueError(f"a perturbation spec needs a 'name', got {spec!r}")
    kw = {k: v for k, v in spec.items() if k != "name"}
    return get(spec["name"])(**kw)


def replay(
    records: Iterable[PerturbationRecord | Mapping[str, Any]], wav: torch.Tensor | np.ndarray, sr: int
) -> torch.Tensor | np.ndarray:
    """Re-apply recorded perturbations in order (skipping those recorded as not applied)."""
    y = wav
    for r in records:
        rec = r if isinstance(r, PerturbationRecord) else PerturbationRecord.from_dict(r)
        if rec.applied:
            y = get(rec.name)().apply(y, sr, **rec.params)
    return y


def names_of(perturbations: Sequence[Perturbation]) -> list[str]:
    """Unique labels for a list of perturbations (``name``, or ``name#i`` for repeats)."""
    seen: dict[str, int] = {}
    out = []
    for p in perturbations:
        n = seen.get(p.name, 0)
        seen[p.name] = n + 1
        out.append(p.name if n == 0 else f"{p.name}#{n}")
    return out
