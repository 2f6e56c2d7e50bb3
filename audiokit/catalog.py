"""The catalogue of available pretrained models (what ``audiokit models`` prints).

Every folder with a ``config.json`` in :func:`audiokit.assets.pretrained_dirs` is a model. Its task
comes from the family class (:data:`audiokit.checkpoints.MODEL_TYPES`), the rate from its config,
the size from the safetensors header (no weights are loaded), and the headline metrics from
``config.json``'s ``"metrics"`` entry when a save wrote one (``save_pretrained(dir,
metrics={...})``), else from the folder's ``metrics.json``/``eval.json``: the first table of numbers
whose path names the model (its folder, its family, "this model" or a key "model"), else the first
under a "test" key. The set they were measured on is the file's top-level ``"eval_set"`` string
(``config.json``: ``"metrics_set"``), shown by ``audiokit models`` because the models' sets differ
(real recorded speech, synthetic voices, instrument samples).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audiokit.assets import bundled_models
from audiokit.checkpoints import MODEL_TYPES, model_class, read_pretrained_config

__all__ = ["ModelInfo", "describe_model", "available_models", "HEADLINE_KEYS"]

#: Metrics shown first when a table has them (the others follow in file order).
HEADLINE_KEYS = ("pesq", "stoi", "lsd", "mcd", "spectral_loss", "f0_l1_midi", "mse", "nll", "regret")
_SKIP = {"n", "n_examples", "step", "steps", "epoch", "rtf"}
_EVAL_FILES = ("metrics.json", "eval.json")


@dataclass
class ModelInfo:
    """One row of ``audiokit models``."""

    name: str
    path: Path
    model_type: str
    task: str
    rate: str
    parameters: int
    megabytes: float
    metrics: dict[str, float] = field(default_factory=dict)
    source: str = ""  # where the metrics came from
    evaluated_on: str = ""  # the data they were measured on

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "model_type": self.model_type,
            "task": self.task,
            "rate": self.rate,
            "parameters": self.parameters,
            "megabytes": round(self.megabytes, 2),
            "metrics": self.metrics,
            "metrics_source": self.source,
            "evaluated_on": self.evaluated_on,
        }


def _rate(config: Mapping[str, Any], extra: Mapping[str, Any]) -> str:
    if "lr_sampling_rate" in config and "hr_sampling_rate" in config:
        return f"{config['lr_sampling_rate']} -> {config['hr_sampling_rate']} Hz"
    for src in (config, extra.get("features") or {}):
        if isinstance(src, Mapping) and "sample_rate" in src:
            return f"{src['sample_rate']} Hz"
    return "?"


def _size(weights: Path) -> int:
    from safetensors import safe_open

    total = 0
    with safe_open(str(weights), "pt") as f:
        for k in f.keys():
            n = 1
            for d in f.get_slice(k).get_shape():
                n *= int(d)
            total += n
    return total


def _numbers(table: Mapping[str, Any]) -> dict[str, float]:
    out = {
        k: float(v)
        for k, v in table.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in _SKIP
    }
    first = [k for k in HEADLINE_KEYS if k in out]
    return {k: out[k] for k in first + [k for k in out if k not in first]}


def _tables(obj: Any, path: tuple[str, ...] = ()):
    """``(path, numbers)`` of every dict holding numbers, depth first in file order."""
    if isinstance(obj, Mapping):
        nums = _numbers(obj)
        if nums:
            yield path, nums
        for k, v in obj.items():
            yield from _tables(v, (*path, str(k)))


def _set_name(data: Any, key: str) -> str:
    v = data.get(key) if isinstance(data, Mapping) else None
    return v if isinstance(v, str) else ""


def headline_metrics(folder: Path, name: str, model_type: str) -> tuple[dict[str, float], str, str]:
    """``(metrics, source, evaluated_on)`` for a model folder (see the module docstring)."""
    meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if isinstance(meta, Mapping) and isinstance(meta.get("metrics"), Mapping):
        return _numbers(meta["metrics"]), "config.json", _set_name(meta, "metrics_set")
    names = {name.lower(), model_type.lower(), "this model"}
    for fname in _EVAL_FILES:
        f = folder / fname
        if not f.is_file():
            continue
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            continue
        best, fallback = None, None
        for path, nums in _tables(data):
            low = [p.lower() for p in path]
            if best is None and any(
                p == "model" or n in p or p in name.lower() for p in low for n in names if p
            ):
                best = (path, nums)
            if fallback is None and "test" in " ".join(low):
                fallback = (path, nums)
        pick = best or fallback
        if pick:
            return pick[1], f"{fname}: {' / '.join(pick[0])}", _set_name(data, "eval_set")
    return {}, "", ""


def describe_model(folder: str | os.PathLike, name: str | None = None) -> ModelInfo:
    """A :class:`ModelInfo` for one pretrained folder (reads only JSON and the safetensors header)."""
    info = read_pretrained_config(folder)
    name = name or info.path.name
    task = "?"
    if info.model_type in MODEL_TYPES:
        task = getattr(model_class(info.model_type), "task", "") or "?"
    metrics, source, evaluated_on = headline_metrics(info.path, name, info.model_type)
    return ModelInfo(
        name=name,
        path=info.path,
        model_type=info.model_type or "?",
        task=task,
        rate=_rate(info.config, info.extra),
        parameters=_size(info.weights),
        megabytes=info.weights.stat().st_size / 1e6,
        metrics=metrics,
        source=source,
        evaluated_on=evaluated_on,
    )


def available_models() -> list[ModelInfo]:
    """Every model of :func:`audiokit.assets.bundled_models` (bundled and ``$AUDIOKIT_PRETRAINED``)."""
    return [describe_model(path, name) for name, path in bundled_models().items()]
