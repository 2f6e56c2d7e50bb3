"""Run logs: JSON lines (always), TensorBoard (when installed), running means of step metrics."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

__all__ = ["RunLogger", "MetricAccumulator", "read_log"]

logger = logging.getLogger(__name__)


class MetricAccumulator:
    """Sums and counts of scalar metrics between two log steps (tensors are kept on device and only
    turned into floats when :meth:`means` is called, avoiding a device sync every step)."""

    def __init__(self) -> None:
        self.sums: dict[str, Any] = {}
        self.counts: dict[str, int] = {}

    def add(self, values: Mapping[str, Any]) -> None:
        for k, v in values.items():
            if isinstance(v, torch.Tensor):
                if v.numel() != 1:
                    raise ValueError(f"logged metric {k!r} must be a scalar, got shape {tuple(v.shape)}")
                v = v.detach().float().reshape(())
            elif isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(
                    f"logged metric {k!r} must be a number or scalar tensor, got {type(v).__name__}"
                )
            self.sums[k] = self.sums[k] + v if k in self.sums else v
            self.counts[k] = self.counts.get(k, 0) + 1

    def totals(self) -> tuple[dict[str, float], dict[str, float]]:
        """``(sums, counts)`` as floats (for a cross-rank reduction)."""
        sums = {k: float(v) for k, v in self.sums.items()}
        return sums, {k: float(c) for k, c in self.counts.items()}

    def means(self) -> dict[str, float]:
        sums, counts = self.totals()
        return {k: sums[k] / counts[k] for k in sums}

    def reset(self) -> None:
        self.sums.clear()
        self.counts.clear()


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # JSON has no NaN/Inf
    return v


class RunLogger:
    """Appends records to ``run_dir/log.jsonl`` and mirrors scalars to TensorBoard.

    Only the main process should create an enabled logger; a disabled one does nothing.
    Each record is one JSON object per line with at least ``split`` (``"train"``, ``"val"``, ``"event"``),
    ``step`` and ``time`` (Unix seconds).
    """

    def __init__(self, run_dir: str | Path, enabled: bool = True, tensorboard: bool = True):
        self.enabled = enabled
        self.path = Path(run_dir) / "log.jsonl"
        self._tb = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(Path(run_dir) / "tensorboard"))
            except Exception:  # tensorboard not installed: JSON lines only
                logger.info("tensorboard is not installed; logging to %s only", self.path)

    def log(self, split: str, step: int, values: Mapping[str, Any], **fields: Any) -> dict[str, Any]:
        """Write one record and return it."""
        record: dict[str, Any] = {"split": split, "step": int(step), "time": round(time.time(), 3)}
        record.update(fields)
        record.update({k: _clean(float(v)) if isinstance(v, int | float) else v for k, v in values.items()})
        if not self.enabled:
            return record
        self._file.write(json.dumps(record, sort_keys=False) + "\n")
        self._file.flush()
        if self._tb is not None and split in ("train", "val"):
            for k, v in values.items():
                if isinstance(v, int | float) and math.isfinite(float(v)):
                    self._tb.add_scalar(f"{split}/{k}", float(v), step)
        return record

    def audio(self, tag: str, wav: torch.Tensor, sample_rate: int, step: int) -> None:
        """Add an audio clip to TensorBoard (no-op without it)."""
        if self.enabled and self._tb is not None:
            self._tb.add_audio(tag, wav.detach().float().cpu().reshape(1, -1).clamp(-1, 1), step, sample_rate)

    def close(self) -> None:
        if self.enabled:
            self._file.close()
            if self._tb is not None:
                self._tb.close()


def read_log(run_dir: str | Path, split: str | None = None) -> list[dict[str, Any]]:
    """Records of ``run_dir/log.jsonl`` (optionally only one ``split``)."""
    path = Path(run_dir) / "log.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            if split is None or rec.get("split") == split:
                out.append(rec)
    return out
