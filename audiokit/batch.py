"""Batch processing over folders of audio files: discovery, sharding, a process pool, and an
append-only JSONL manifest that makes every batch command resumable.

The unit of work is a picklable top-level function ``fn(item) -> dict`` applied to one
:class:`BatchItem`. :func:`run_batch` skips items already recorded as done, runs the rest in a
local process pool, appends one manifest record per item as soon as it finishes (so an
interrupted run loses nothing), and never lets one bad file stop the batch.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import multiprocessing as mp
import os
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from audiokit.io import AUDIO_EXTENSIONS

__all__ = [
    "BatchItem",
    "BatchReport",
    "Manifest",
    "find_audio",
    "parse_shard",
    "shard",
    "run_batch",
    "map_parallel",
]

log = logging.getLogger(__name__)


def find_audio(root: str | os.PathLike, extensions: Iterable[str] = AUDIO_EXTENSIONS) -> list[Path]:
    """Audio files under ``root`` (recursive), as sorted paths relative to ``root``.

    Hidden files and folders (names starting with ``.``, e.g. temporary outputs) are ignored.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: not a directory")
    exts = {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in exts:
                out.append((Path(dirpath) / name).relative_to(root))
    return sorted(out)


def parse_shard(spec: str | None) -> tuple[int, int]:
    """Parse ``"i/N"`` (0 <= i < N) into ``(i, N)``; ``None`` means ``(0, 1)``."""
    if spec is None:
        return 0, 1
    try:
        i_str, n_str = spec.split("/")
        i, n = int(i_str), int(n_str)
    except ValueError:
        raise ValueError(f"--shard must look like i/N (e.g. 0/4), got {spec!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {spec!r}: need 0 <= i < N")
    return i, n


def shard(items: list, index: int, count: int) -> list:
    """Every ``count``-th item starting at ``index`` (items must be in a stable, sorted order)."""
    return items[index::count]


@dataclass
class BatchItem:
    """One unit of batch work: a ``key`` (unique, usually the relative output path), the input
    ``src``, the output ``dst`` and free-form ``meta`` carried into the manifest."""

    key: str
    src: str
    dst: str
    meta: dict[str, Any] = field(default_factory=dict)


class Manifest:
    """Append-only JSONL log of batch results; the last record for a key is the one that counts.

    Each record is written as one line and flushed, so a crash or Ctrl-C leaves at most a torn
    last line, which :meth:`records` ignores.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def records(self) -> dict[str, dict[str, Any]]:
        """Last record per ``key``."""
        out: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return out
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    log.warning("%s: ignoring a torn or corrupt line", self.path)
                    continue
                if isinstance(rec, dict) and "key" in rec:
                    out[rec["key"]] = rec
        return out

    def done_keys(self) -> set[str]:
        return {k for k, r in self.records().items() if r.get("status") == "ok"}

    def append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, default=_json_default, ensure_ascii=False)
        with open(self.path, "a", encoding="utf-8") as f:
            if f.tell() > 0 and not self._ends_with_newline():
                f.write("\n")  # heal a torn last line from an interrupted run
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


@dataclass
class BatchReport:
    """Counts of a batch run."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, 1 otherwise (the CLI convention)."""
        return 1 if self.failed or self.interrupted else 0

    def summary(self) -> str:
        s = f"{self.done} done, {self.skipped} skipped (already done), {self.failed} failed"
        return s + (" (interrupted)" if self.interrupted else "")


def _worker_init(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _call(fn: Callable[[Any], Any], item: Any) -> tuple[bool, Any, float]:
    t0 = time.perf_counter()
    try:
        return True, fn(item), time.perf_counter() - t0
    except Exception as e:  # one bad item never stops the batch
        msg = f"{type(e).__name__}: {e}"
        log.debug("item failed: %s\n%s", msg, traceback.format_exc())
        return False, msg, time.perf_counter() - t0


def map_parallel(
    fn: Callable[[Any], Any],
    items: list[Any],
    workers: int = 1,
    progress: bool = True,
    desc: str | None = None,
    threads_per_worker: int | None = None,
) -> Iterator[tuple[Any, bool, Any, float]]:
    """Apply ``fn`` to every item, yielding ``(item, ok, result_or_error_message, seconds)`` as
    each finishes (in completion order). ``workers > 1`` uses a spawn-based process pool, so
    ``fn`` must be a picklable top-level function; exceptions are caught per item.
    """
    bar = tqdm(total=len(items), desc=desc, disable=not progress or None, unit="file", dynamic_ncols=True)
    try:
        if workers <= 1:
            for item in items:
                ok, res, dt = _call(fn, item)
                bar.update(1)
                yield item, ok, res, dt
            return
        threads = threads_per_worker or max(1, (os.cpu_count() or 1) // workers)
        ctx = mp.get_context("spawn")
        with cf.ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_worker_init, initargs=(threads,)
        ) as ex:
            futures = {ex.submit(_call, fn, item): item for item in items}
            try:
                for fut in cf.as_completed(futures):
                    ok, res, dt = fut.result()
                    bar.update(1)
                    yield futures[fut], ok, res, dt
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    finally:
        bar.close()


def run_batch(
    items: list[BatchItem],
    fn: Callable[[BatchItem], dict[str, Any]],
    manifest: Manifest | str | os.PathLike,
    workers: int = 1,
    force: bool = False,
    progress: bool = True,
    desc: str | None = None,
    base_record: dict[str, Any] | None = None,
) -> BatchReport:
    """Run ``fn`` over ``items`` with resume and per-item error capture.

    Items whose last manifest record has ``status == "ok"`` and whose ``dst`` exists are skipped
    unless ``force``. For every processed item one record is appended:
    ``{key, src, dst, status: "ok"|"error", error, seconds, **meta, **base_record, **fn(item)}``.
    ``fn`` must write ``item.dst`` atomically (see :func:`audiokit.io.save`).
    """
    manifest = manifest if isinstance(manifest, Manifest) else Manifest(manifest)
    report = BatchReport()
    done = set() if force else manifest.done_keys()
    todo = []
    for it in items:
        if it.key in done and Path(it.dst).exists():
            report.skipped += 1
        else:
            todo.append(it)
    base = dict(base_record or {})
    try:
        for item, ok, res, dt in map_parallel(fn, todo, workers, progress, desc):
            rec = {"key": item.key, "src": item.src, "dst": item.dst, **item.meta, **base}
            rec["seconds"] = round(dt, 4)
            if ok:
                rec.update(res or {})
                rec["status"] = "ok"
                report.done += 1
            else:
                rec.update(status="error", error=res)
                report.failed += 1
                report.failures.append((item.key, res))
                log.warning("%s: %s", item.src, res)
            manifest.append(rec)
    except KeyboardInterrupt:
        report.interrupted = True
    return report
