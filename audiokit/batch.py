"""Batch processing over folders of audio files: discovery, sharding, a process pool, and an
append-only JSONL manifest that makes every batch command resumable.

The unit of work is a picklable top-level function ``fn(item) -> dict`` applied to one
:class:`BatchItem`. :func:`run_batch` skips items already recorded as done, runs the rest in a
local process pool, appends one manifest record per item as soon as it finishes (so an
interrupted run loses nothing), and never lets one bad file stop the batch.

Throughput notes: items that share a ``group`` key (e.g. the variants of one input file) are sent
to a worker as one task, so the file is decoded once and the per-task IPC is paid once; pools use
a ``forkserver`` context (``spawn`` where unavailable) whose server process imports the
``preload`` modules once and forks ready workers from it, and :func:`start_pool` lets a command
start it before its own imports and file discovery, so the two overlap. Importing this module
does not import torch.
"""

from __future__ import annotations

import concurrent.futures as cf
import importlib
import json
import logging
import multiprocessing as mp
import os
import time
import traceback
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

__all__ = [
    "BatchItem",
    "BatchReport",
    "Manifest",
    "ManifestWriter",
    "find_audio",
    "parse_shard",
    "shard",
    "run_batch",
    "map_parallel",
    "start_pool",
]

log = logging.getLogger(__name__)


def find_audio(root: str | os.PathLike, extensions: Iterable[str] | None = None) -> list[Path]:
    """Audio files under ``root`` (recursive), as sorted paths relative to ``root``.

    ``extensions`` defaults to :data:`audiokit.io.AUDIO_EXTENSIONS`. Hidden files and folders
    (names starting with ``.``, e.g. temporary outputs) are ignored. A folder that cannot be
    listed (no permission, vanished) is logged as a warning and left out.
    """
    if extensions is None:
        from audiokit.io import AUDIO_EXTENSIONS  # imported here: audiokit.io imports torch

        extensions = AUDIO_EXTENSIONS
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: not a directory")
    exts = {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}
    out = []

    def unreadable(e: OSError) -> None:
        log.warning("%s: folder skipped, cannot list it (%s)", e.filename, e.strerror or e)

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
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

    def writer(self, sync_seconds: float = 1.0) -> ManifestWriter:
        """An open appender for a whole batch (a context manager): every record is written as one
        line and flushed at once (a crash or Ctrl-C of the process loses nothing); ``fsync`` runs at
        most every ``sync_seconds`` and on close, instead of once per record."""
        return ManifestWriter(self, sync_seconds)


class ManifestWriter:
    """Appends records to a :class:`Manifest` through one open file; see :meth:`Manifest.writer`."""

    def __init__(self, manifest: Manifest, sync_seconds: float = 1.0):
        self.manifest = manifest
        self.sync_seconds = sync_seconds
        manifest.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(manifest.path, "a", encoding="utf-8")
        if self._file.tell() > 0 and not manifest._ends_with_newline():
            self._file.write("\n")  # heal a torn last line from an interrupted run
        self._synced = time.monotonic()

    def append(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, default=_json_default, ensure_ascii=False) + "\n")
        self._file.flush()
        if time.monotonic() - self._synced >= self.sync_seconds:
            self.sync()

    def sync(self) -> None:
        os.fsync(self._file.fileno())
        self._synced = time.monotonic()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            self.sync()
            self._file.close()

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


def _worker_init(threads: int, preload: tuple[str, ...] = ()) -> None:
    import torch

    torch.set_num_threads(threads)  # workers x threads <= cores: no oversubscription
    for name in preload:  # already imported when forked from a preloaded forkserver
        try:
            importlib.import_module(name)
        except ImportError as e:  # a warm-up only: the items that need it report the error
            log.debug("preload %s: %s", name, e)


def _call(fn: Callable[[Any], Any], item: Any) -> tuple[bool, Any, float]:
    t0 = time.perf_counter()
    try:
        return True, fn(item), time.perf_counter() - t0
    except Exception as e:  # one bad item never stops the batch
        msg = f"{type(e).__name__}: {e}"
        log.debug("item failed: %s\n%s", msg, traceback.format_exc())
        return False, msg, time.perf_counter() - t0


def _call_group(fn: Callable[[Any], Any], items: list[Any]) -> list[tuple[bool, Any, float]]:
    """One task of a pool: the items of one group, each with its own error capture."""
    return [_call(fn, item) for item in items]


def _pool_context() -> mp.context.BaseContext:
    return mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")


def start_pool(
    workers: int, preload: Sequence[str] = (), threads_per_worker: int | None = None
) -> cf.ProcessPoolExecutor | None:
    """Start a process pool for :func:`map_parallel`/:func:`run_batch` (``None`` when ``workers <= 1``).

    Call it as early as possible (before a command's own heavy imports and file discovery): with
    the ``forkserver`` context its server process starts importing ``preload`` (module names)
    right away, in parallel with the caller, and workers are later forked from it with those
    modules loaded. Each worker runs torch with ``threads_per_worker`` intra-op threads (default:
    cores // workers, so the pool never oversubscribes the machine). Shut it down with
    ``pool.shutdown()`` or use it as a context manager.
    """
    if workers <= 1:
        return None
    preload = tuple(preload)
    threads = threads_per_worker or max(1, (os.cpu_count() or 1) // workers)
    ctx = _pool_context()
    if ctx.get_start_method() == "forkserver":
        # modules the server imports once; every worker is forked with them loaded. torch is safe
        # to fork here: the server only imports it and never starts a thread pool.
        ctx.set_forkserver_preload(["torch", *preload])
        from multiprocessing import forkserver

        forkserver.ensure_running()  # starts importing now (no-op if the server already runs)
    return cf.ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_worker_init, initargs=(threads, preload)
    )


def _groups(items: list[Any], group: Callable[[Any], Hashable] | None) -> list[list[Any]]:
    if group is None:
        return [[it] for it in items]
    out: dict[Hashable, list[Any]] = {}
    for it in items:
        out.setdefault(group(it), []).append(it)
    return list(out.values())


def map_parallel(
    fn: Callable[[Any], Any],
    items: list[Any],
    workers: int = 1,
    progress: bool = True,
    desc: str | None = None,
    threads_per_worker: int | None = None,
    group: Callable[[Any], Hashable] | None = None,
    pool: cf.ProcessPoolExecutor | None = None,
) -> Iterator[tuple[Any, bool, Any, float]]:
    """Apply ``fn`` to every item, yielding ``(item, ok, result_or_error_message, seconds)`` as
    each finishes (in completion order). ``workers > 1`` uses a process pool (``forkserver``,
    else ``spawn``; or ``pool`` from :func:`start_pool`, which is then left running), so ``fn``
    must be a picklable top-level function; exceptions are caught per item. Items with equal
    ``group(item)`` go to a worker as one task (in their order), e.g. the outputs made from one
    input file, which saves reloading the file and per-task IPC.
    """
    bar = tqdm(total=len(items), desc=desc, disable=not progress or None, unit="item", dynamic_ncols=True)
    own = None
    try:
        if pool is None and workers <= 1:
            for item in items:
                ok, res, dt = _call(fn, item)
                bar.update(1)
                yield item, ok, res, dt
            return
        if pool is None:
            pool = own = start_pool(workers, threads_per_worker=threads_per_worker)
        futures = {pool.submit(_call_group, fn, g): g for g in _groups(items, group)}
        try:
            for fut in cf.as_completed(futures):
                for item, (ok, res, dt) in zip(futures[fut], fut.result()):
                    bar.update(1)
                    yield item, ok, res, dt
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    finally:
        bar.close()
        if own is not None:
            own.shutdown(cancel_futures=True)


def run_batch(
    items: list[BatchItem],
    fn: Callable[[BatchItem], dict[str, Any]],
    manifest: Manifest | str | os.PathLike,
    workers: int = 1,
    force: bool = False,
    progress: bool = True,
    desc: str | None = None,
    base_record: dict[str, Any] | None = None,
    group: Callable[[BatchItem], Hashable] | None = None,
    pool: cf.ProcessPoolExecutor | None = None,
) -> BatchReport:
    """Run ``fn`` over ``items`` with resume and per-item error capture.

    Items whose last manifest record has ``status == "ok"`` and whose ``dst`` exists are skipped
    unless ``force``. For every processed item one record is appended (written and flushed as
    soon as the item's result arrives):
    ``{key, src, dst, status: "ok"|"error", error, seconds, **meta, **base_record, **fn(item)}``.
    ``fn`` must write ``item.dst`` atomically (see :func:`audiokit.io.save`). ``group`` and
    ``pool``: see :func:`map_parallel` and :func:`start_pool`.
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
    if not todo:
        return report
    base = dict(base_record or {})
    try:
        with manifest.writer() as out:
            for item, ok, res, dt in map_parallel(fn, todo, workers, progress, desc, group=group, pool=pool):
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
                out.append(rec)
    except KeyboardInterrupt:
        report.interrupted = True
    return report
