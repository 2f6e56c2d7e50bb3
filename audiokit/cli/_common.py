"""Argument helpers shared by the batch subcommands."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from audiokit.batch import BatchItem, find_audio, parse_shard, shard
from audiokit.cli import CLIError

__all__ = ["add_batch_arguments", "collect_items", "parse_range", "existing_dir", "existing_file"]


def add_batch_arguments(p: argparse.ArgumentParser, workers: bool = True) -> None:
    """``--workers``, ``--shard i/N``, ``--force``, ``--no-progress``."""
    if workers:
        p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    p.add_argument(
        "--shard", default=None, metavar="i/N", help="process only shard i of N (cluster job arrays)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="redo every item, also those done earlier and with settings other than the earlier run's",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def existing_dir(path: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise CLIError(f"{p}: no such directory")
    if not p.is_dir():
        raise CLIError(f"{p}: not a directory")
    return p


def existing_file(path: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise CLIError(f"{p}: no such file")
    if p.is_dir():
        raise CLIError(f"{p}: is a directory, expected a file")
    return p


def collect_items(
    in_dir: Path,
    out_dir: Path,
    shard_spec: str | None,
    out_suffix: str | None = None,
    extensions: tuple[str, ...] | None = None,
) -> list[BatchItem]:
    """Batch items for every audio file under ``in_dir`` (mirrored under ``out_dir``), sharded.

    ``out_suffix`` replaces the extension of outputs (e.g. ``".wav"``); ``None`` keeps it. An
    ``out_dir`` inside ``in_dir`` is left out (its outputs must not become inputs of a rerun).
    """
    in_dir = existing_dir(str(in_dir))
    rel = find_audio(in_dir, extensions, exclude=[out_dir])
    i, n = parse_shard(shard_spec)
    items = []
    for r in shard(rel, i, n):
        dst = out_dir / (r.with_suffix(out_suffix) if out_suffix else r)
        items.append(
            BatchItem(
                key=str(r.with_suffix(out_suffix) if out_suffix else r), src=str(in_dir / r), dst=str(dst)
            )
        )
    return items


def parse_range(spec: str) -> list[float]:
    """``"start:stop:step"`` (inclusive stop) or ``"a,b,c"`` -> list of floats."""
    try:
        if ":" in spec:
            parts = [float(v) for v in spec.split(":")]
            if len(parts) != 3 or parts[2] == 0:
                raise ValueError
            start, stop, step = parts
            n = int(math.floor((stop - start) / step + 1e-9)) + 1
            if n < 1:
                raise ValueError
            return [float(v) for v in np.round(start + step * np.arange(n), 10)]
        return [float(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        raise CLIError(f"bad range {spec!r}: use start:stop:step (e.g. -6:6:1) or a,b,c") from None
