"""Semantic consistency constraints: ``(original, perturbed, sr) -> value``, feasible when
``value >= threshold``.

Built in: extended STOI (the default, ``estoi >= 0.6``), SNR and an ASR word-accuracy check with
pocketsphinx. Any callable works through :class:`FunctionConstraint` (e.g. an embedding model).
Length-changing perturbations (time stretch, speed, removed gaps) are aligned before the
intrusive metrics by a phase-vocoder stretch of the perturbed audio back to the original length.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from audiokit.metrics import estoi, snr
from audiokit.perturb.asr import PocketSphinx, require_pocketsphinx, word_error_rate
from audiokit.perturb.base import as_numpy

__all__ = [
    "Constraint",
    "FunctionConstraint",
    "ESTOIConstraint",
    "SNRConstraint",
    "ASRConstraint",
    "CONSTRAINTS",
    "make_constraint",
    "align_length",
]


def align_length(original: np.ndarray, perturbed: np.ndarray) -> np.ndarray:
    """``perturbed`` (C, T') brought to ``original``'s length: a time stretch by ``T'/T`` when the
    lengths differ by more than 1 %, else a crop/zero-pad."""
    t, tp = original.shape[-1], perturbed.shape[-1]
    if tp == t:
        return perturbed
    if abs(tp - t) > 0.01 * t and tp >= 2048:
        import librosa

        perturbed = librosa.effects.time_stretch(perturbed, rate=tp / t)
    if perturbed.shape[-1] >= t:
        return perturbed[..., :t]
    return np.pad(perturbed, ((0, 0), (0, t - perturbed.shape[-1])))


def _mono_pair(original: Any, perturbed: Any) -> tuple[np.ndarray, np.ndarray]:
    o = as_numpy(original, "original")
    p = as_numpy(perturbed, "perturbed")
    if o.shape[0] != p.shape[0]:
        raise ValueError(f"original has {o.shape[0]} channels, perturbed {p.shape[0]}")
    p = align_length(o, p)
    return o.mean(axis=0), p.mean(axis=0)


class Constraint:
    """Base class: ``__call__(original, perturbed, sr) -> float``; :meth:`feasible` compares with
    ``threshold`` (higher values are more faithful)."""

    name: str = "constraint"

    def __init__(self, threshold: float):
        self.threshold = float(threshold)

    def __call__(self, original: Any, perturbed: Any, sr: int) -> float:
        raise NotImplementedError

    def feasible(self, value: float) -> bool:
        return bool(value >= self.threshold)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "threshold": self.threshold}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(threshold={self.threshold})"


class FunctionConstraint(Constraint):
    """Wrap any ``fn(original, perturbed, sr) -> float`` with a threshold."""

    def __init__(self, fn: Callable[[Any, Any, int], float], threshold: float, name: str | None = None):
        super().__init__(threshold)
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "function")

    def __call__(self, original: Any, perturbed: Any, sr: int) -> float:
        return float(self.fn(original, perturbed, sr))


class ESTOIConstraint(Constraint):
    """Extended STOI (Jensen & Taal 2016, via pystoi) of the perturbed audio against the original,
    on the mono mix; feasible when ``>= threshold`` (default 0.6)."""

    name = "estoi"

    def __init__(self, threshold: float = 0.6):
        super().__init__(threshold)

    def __call__(self, original: Any, perturbed: Any, sr: int) -> float:
        o, p = _mono_pair(original, perturbed)
        return float(estoi(o, p, sr))


class SNRConstraint(Constraint):
    """SNR in dB of the perturbed audio against the original (``audiokit.metrics.snr``);
    feasible when ``>= threshold`` dB (default 10)."""

    name = "snr"

    def __init__(self, threshold: float = 10.0):
        super().__init__(threshold)

    def __call__(self, original: Any, perturbed: Any, sr: int) -> float:
        o, p = _mono_pair(original, perturbed)
        return float(snr(o, p))


class ASRConstraint(Constraint):
    """Word accuracy ``max(0, 1 - WER)`` of the pocketsphinx transcript of the perturbed audio
    against ``reference`` text, or, without one, against the transcript of the original audio
    (self-consistency; cached per original). Feasible when ``>= threshold`` (default 0.8).

    Args:
        reference: the spoken text, if known.
        corpus: sentences for a closed-vocabulary decoder (see :class:`~audiokit.perturb.asr.PocketSphinx`);
            the reference is added to it.
    """

    name = "asr"

    def __init__(
        self, threshold: float = 0.8, reference: str | None = None, corpus: Sequence[str] | None = None
    ):
        super().__init__(threshold)

        require_pocketsphinx()
        self.reference = reference
        sents = list(corpus or [])
        if reference and corpus is not None:
            sents.append(reference)
        self.recognizer = PocketSphinx(sents or None)
        self._cache: dict[str, str] = {}

    def reference_for(self, original: Any, sr: int) -> str:
        if self.reference is not None:
            return self.reference
        o = as_numpy(original, "original")
        key = hashlib.sha1(o.tobytes() + str(sr).encode()).hexdigest()
        if key not in self._cache:
            self._cache[key] = self.recognizer.transcribe(o, sr).text
        return self._cache[key]

    def __call__(self, original: Any, perturbed: Any, sr: int) -> float:
        ref = self.reference_for(original, sr)
        hyp = self.recognizer.transcribe(perturbed, sr).text
        return float(max(0.0, 1.0 - word_error_rate(ref, hyp)))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "reference": self.reference}


#: Constraint classes by name for the CLI and configs (``name`` or ``name:threshold``).
CONSTRAINTS: dict[str, type[Constraint]] = {
    "estoi": ESTOIConstraint,
    "snr": SNRConstraint,
    "asr": ASRConstraint,
}


def _load_object(spec: str) -> Any:
    mod, _, attr = spec.partition(":")
    if not mod or not attr:
        raise ValueError(f"expected package.module:name, got {spec!r}")
    try:
        obj = importlib.import_module(mod)
    except ImportError as e:
        raise ValueError(f"cannot import {mod!r} for {spec!r}: {e}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{mod!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def make_constraint(spec: str | Mapping[str, Any] | Constraint | None, **kwargs: Any) -> Constraint:
    """Build a constraint: an instance, ``"estoi"``, ``"estoi:0.7"``, ``"snr:15"``, ``"asr:0.8"``,
    a config dict ``{"name": "asr", "threshold": 0.8, "reference": ...}``, or a plug-in
    ``"package.module:factory"`` (``factory(**kwargs)`` returns a constraint or a callable, in which
    case ``threshold`` is required). ``None`` gives the default ESTOI >= 0.6."""
    if spec is None:
        return ESTOIConstraint()
    if isinstance(spec, Constraint):
        return spec
    if isinstance(spec, Mapping):
        d = dict(spec)
        name = d.pop("name", None)
        if name is None:
            raise ValueError(f"a constraint config needs a 'name': {spec!r}")
        return make_constraint(name, **{**d, **kwargs})
    name, _, rest = spec.partition(":")
    if name in CONSTRAINTS:
        if rest:
            try:
                kwargs["threshold"] = float(rest)
            except ValueError:
                raise ValueError(f"bad constraint threshold in {spec!r}") from None
        try:
            return CONSTRAINTS[name](**kwargs)
        except TypeError as e:
            raise ValueError(f"constraint {name!r}: {e}") from None
    if "." in name and rest:
        threshold = kwargs.pop("threshold", None)
        obj = _load_object(spec)(**kwargs)
        if isinstance(obj, Constraint):
            if threshold is not None:
                obj.threshold = float(threshold)
            return obj
        if not callable(obj):
            raise ValueError(f"{spec!r} did not return a callable constraint")
        th = threshold if threshold is not None else getattr(obj, "threshold", None)
        if th is None:
            raise ValueError(f"plug-in constraint {spec!r} needs a threshold")
        return FunctionConstraint(obj, float(th), name=spec)
    raise ValueError(
        f"unknown constraint {spec!r}; use one of {', '.join(CONSTRAINTS)} (optionally :threshold) "
        "or package.module:factory"
    )
