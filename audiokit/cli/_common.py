"""Argument helpers shared by the subcommands: batch flags, folders, and the ``type=`` checks that
reject a bad number before any work (``positive_int``, ``finite_float``, ``gain_db``, ...): argparse
turns their ``ArgumentTypeError`` into one usage line naming the flag, exit code 2."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from audiokit.batch import BatchItem, find_audio, parse_shard, shard
from audiokit.cli import CLIError

__all__ = [
    "add_batch_arguments",
    "collect_items",
    "parse_range",
    "existing_dir",
    "existing_file",
    "positive_int",
    "nonneg_int",
    "finite_float",
    "positive_float",
    "nonneg_float",
    "gain_db",
    "seed",
    "check_gain_db",
    "MAX_GAIN_DB",
]

#: Most values a ``start:stop:step`` range may expand to (a tiny step is a typo, not a request).
MAX_RANGE_VALUES = 10_000

#: Largest gain magnitude accepted in dB (10^(200/20) = 1e10; beyond that a gain is a typo).
MAX_GAIN_DB = 200.0


def _number(text: str, kind: type) -> float | int:
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def positive_int(text: str) -> int:
    """``type=`` for counts that must be >= 1 (``--workers``, ``--threads``, ``--sr``, ...)."""
    v = int(_number(text, int))
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return v


def nonneg_int(text: str) -> int:
    """``type=`` for counts that may be 0."""
    v = int(_number(text, int))
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return v


def seed(text: str) -> int:
    """``type=`` for random seeds: an integer in [0, 2**63) (what both torch and numpy accept)."""
    v = int(_number(text, int))
    if not 0 <= v < 2**63:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**63), got {text!r}")
    return v


def finite_float(text: str) -> float:
    """``type=`` for any finite number (no inf/nan)."""
    v = float(_number(text, float))
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return v


def positive_float(text: str) -> float:
    """``type=`` for finite numbers > 0."""
    v = finite_float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return v


def nonneg_float(text: str) -> float:
    """``type=`` for finite numbers >= 0."""
    v = finite_float(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return v


def check_gain_db(value: float, name: str) -> float:
    """``value`` if it is a finite gain within +-:data:`MAX_GAIN_DB` dB, else ``CLIError`` naming ``name``."""
    if not math.isfinite(value) or abs(value) > MAX_GAIN_DB:
        raise CLIError(f"{name}: a gain must be finite and within +-{MAX_GAIN_DB:g} dB, got {value:g}")
    return value


def gain_db(text: str) -> float:
    """``type=`` for gains in dB: finite and within +-:data:`MAX_GAIN_DB`."""
    v = finite_float(text)
    if abs(v) > MAX_GAIN_DB:
        raise argparse.ArgumentTypeError(f"must be within +-{MAX_GAIN_DB:g} dB, got {text!r}")
    return v


def add_batch_arguments(p: argparse.ArgumentParser, workers: bool = True) -> None:
    """``--workers``, ``--shard i/N``, ``--force``, ``--no-progress``."""
    if workers:
        p.add_argument("--workers", type=positive_int, default=1, help="local worker processes (default 1)")
    p.add_argument(
        "--shard", default=None, metavar="i/N", help="process only shard i of N (cluster job arrays)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="redo every item, also those done earlier and with settings other than the earlier run's",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


#: Files longer than this are streamed by ``--stream auto`` (the default of ``vocode``, ``bwe``,
#: ``synth timbre-transfer`` and ``masker rank``).
STREAM_AUTO_SECONDS = 300.0
#: Input read per block when streaming a file.
STREAM_BLOCK_SECONDS = 10.0


def add_stream_argument(
    p: argparse.ArgumentParser, equality: str = "output equal to the whole-file result to float rounding"
) -> None:
    """``--stream auto|on|off``: process a file block by block through the model's streamer, so
    memory is bounded by the block, not the file (``equality``: how the result compares)."""
    p.add_argument(
        "--stream",
        choices=["auto", "on", "off"],
        default="auto",
        help="read, process and write each file in blocks of "
        f"{STREAM_BLOCK_SECONDS:g} s (memory bounded by the block, not the file; {equality}); "
        f"auto (default): for files longer than {STREAM_AUTO_SECONDS / 60:g} min",
    )


def streams(mode: str, seconds: float) -> bool:
    """Whether ``--stream mode`` streams a file of ``seconds``."""
    return mode == "on" or (mode == "auto" and seconds > STREAM_AUTO_SECONDS)


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
            if not all(math.isfinite(v) for v in parts):
                raise ValueError
            n = int(math.floor((stop - start) / step + 1e-9)) + 1
            if n < 1:
                raise ValueError
            if n > MAX_RANGE_VALUES:
                raise CLIError(f"range {spec!r} gives {n} values; at most {MAX_RANGE_VALUES}")
            return [float(v) for v in np.round(start + step * np.arange(n), 10)]
        return [float(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        raise CLIError(f"bad range {spec!r}: use start:stop:step (e.g. -6:6:1) or a,b,c") from None
