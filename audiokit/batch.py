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

Safety rules shared by every batch command (:func:`open_job` applies them):

* paths: OUT may not be IN or a folder above it; an OUT inside IN is left out of discovery; every
  output must stay inside OUT and no two inputs may map to one output; file names that are not
  valid UTF-8 fail as items, the rest of the batch runs;
* OUT: a file, an uncreatable or an unwritable OUT is a one-line usage error naming the path;
* one job per OUT: ``OUT/job.json`` keeps the command and its settings, and a rerun with other
  settings stops (``force`` redoes everything with the new ones); a lock (``flock``) on OUT keeps
  two runs from computing the same items at once (the shards of one job may run together);
* ``OUT/manifest.jsonl`` gets one whole line per item (a failed write is truncated back, so no
  torn line); a full disk stops the batch with "no space left on device";
* a worker that dies (``kill -9``, out of memory) fails or retries its item and the pool is
  rebuilt; Ctrl-C kills the workers at once; workers ignore SIGINT and die with their parent;
* exit codes (:attr:`BatchReport.exit_code`): 0 all done, 1 some items failed (or a full disk),
  2 usage error (before any item ran), 130 interrupted.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import errno
import importlib
import json
import logging
import multiprocessing as mp
import os
import select
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from audiokit import __version__

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
    "stop_pool",
    "stop_forkserver",
    "BatchPool",
    "JobError",
    "open_job",
    "finish",
    "check_in_out",
    "check_items",
    "prepare_out_dir",
    "prepare_out_file",
    "is_inside",
    "printable",
    "MANIFEST_NAME",
    "JOB_NAME",
    "LOCK_NAME",
]

#: The manifest of every batch command: ``OUT/manifest.jsonl``.
MANIFEST_NAME = "manifest.jsonl"
#: The command and settings of the job that writes OUT: ``OUT/job.json``.
JOB_NAME = "job.json"
#: The lock file of a running shard (``.audiokit.lock.<i>-of-<N>``); a whole job locks OUT itself.
LOCK_NAME = ".audiokit.lock"
#: Start of the error message of an item that failed because the disk is full.
ENOSPC_MESSAGE = "no space left on device"
#: Error of an item whose worker process died twice while running it.
WORKER_DIED = "worker process died while processing this item (killed, or out of memory)"


class JobError(ValueError):
    """A one-line problem with a job's paths, settings or lock (the CLI exits with code 2)."""


log = logging.getLogger(__name__)


def printable(text: str) -> str:
    """``text`` safe to print and to write as UTF-8: bytes of a non-UTF-8 file name (held as
    surrogate escapes by Python) appear as ``\\xNN``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _valid_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_inside(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """Whether ``path`` is ``root`` or below it, after resolving ``..`` and symbolic links."""
    p, r = Path(path).resolve(), Path(root).resolve()
    return p == r or r in p.parents


def check_in_out(in_dir: str | os.PathLike, out_dir: str | os.PathLike) -> None:
    """Refuse an OUT that is IN or a folder above IN (its outputs would overwrite the inputs).

    Raises:
        JobError: naming both paths.
    """
    if is_inside(in_dir, out_dir):
        raise JobError(
            f"OUT_DIR {out_dir} must differ from IN_DIR {in_dir} and not contain it "
            "(outputs would overwrite inputs); choose another OUT_DIR"
        )


def prepare_out_dir(out_dir: str | os.PathLike) -> Path:
    """Create ``out_dir`` (and its parents) and check that files can be written in it.

    Raises:
        JobError: one line naming the path when it is a file, cannot be created or is not writable.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise JobError(f"{out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise JobError(f"{out}: cannot create the output folder ({e.strerror or e})") from None
    try:
        fd, name = tempfile.mkstemp(prefix=".audiokit_write_test.", dir=out)
        os.close(fd)
        os.unlink(name)
    except OSError as e:
        raise JobError(f"{out}: cannot write in the output folder ({e.strerror or e})") from None
    return out


def prepare_out_file(path: str | os.PathLike) -> Path:
    """Check, before any work, that the file ``path`` can be written: not a folder, and its folder
    creatable and writable (see :func:`prepare_out_dir`).

    Raises:
        JobError: one line naming the path.
    """
    p = Path(path)
    if p.is_dir():
        raise JobError(f"{p}: is a directory; give an output file name")
    prepare_out_dir(p.parent if str(p.parent) else ".")
    return p


def find_audio(
    root: str | os.PathLike,
    extensions: Iterable[str] | None = None,
    exclude: Iterable[str | os.PathLike] = (),
) -> list[Path]:
    """Audio files under ``root`` (recursive), as sorted paths relative to ``root``.

    ``extensions`` defaults to :data:`audiokit.io.AUDIO_EXTENSIONS`. Hidden files and folders
    (names starting with ``.``, e.g. temporary outputs) are ignored, and so are the folders in
    ``exclude`` (e.g. an output folder inside ``root``, whose outputs must not become inputs). A
    folder that cannot be listed (no permission, vanished) is logged as a warning and left out.
    """
    if extensions is None:
        from audiokit.io import AUDIO_EXTENSIONS  # imported here: audiokit.io imports torch

        extensions = AUDIO_EXTENSIONS
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: not a directory")
    exts = {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}
    skip = {Path(p).resolve() for p in exclude}
    out = []

    def unreadable(e: OSError) -> None:
        log.warning("%s: folder skipped, cannot list it (%s)", e.filename, e.strerror or e)

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and (Path(dirpath) / d).resolve() not in skip
        )
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

    Each record is written as one line with one ``write`` call; a write that fails part-way
    (a full disk) is truncated back, and a line torn by a crash is ignored by :meth:`records`
    and healed by the next append.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def records(self) -> dict[str, dict[str, Any]]:
        """Last record per ``key``."""
        out: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return out
        with open(self.path, encoding="utf-8", errors="replace") as f:
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
        with self.writer() as w:
            w.append(record)

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def writer(self, sync_seconds: float = 1.0) -> ManifestWriter:
        """An open appender for a whole batch (a context manager): every record is written as one
        line at once (a crash or Ctrl-C of the process loses nothing); ``fsync`` runs at most every
        ``sync_seconds`` and on close, instead of once per record."""
        return ManifestWriter(self, sync_seconds)


def _record_line(record: dict[str, Any]) -> bytes:
    line = json.dumps(record, default=_json_default, ensure_ascii=False)
    if not _valid_utf8(line):  # a non-UTF-8 file name: JSON escapes keep it exact
        line = json.dumps(record, default=_json_default)
    return (line + "\n").encode("utf-8")


class ManifestWriter:
    """Appends records to a :class:`Manifest` through one open file; see :meth:`Manifest.writer`.

    Raises:
        OSError: from :meth:`append` when the line cannot be written (e.g. ``ENOSPC``); the file
            is then left as it was before the call (no partial line).
    """

    def __init__(self, manifest: Manifest, sync_seconds: float = 1.0):
        self.manifest = manifest
        self.sync_seconds = sync_seconds
        manifest.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(manifest.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        self._synced = time.monotonic()
        if os.fstat(self._fd).st_size > 0 and not manifest._ends_with_newline():
            self._write(b"\n")  # heal a torn last line from an interrupted run

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        start = os.fstat(self._fd).st_size
        done = 0
        try:
            while done < len(data):
                done += os.write(self._fd, data[done:])
        except OSError:
            if done and os.fstat(self._fd).st_size == start + done:  # nobody appended after us
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, start)
            raise

    def append(self, record: dict[str, Any]) -> None:
        self._write(_record_line(record))
        if time.monotonic() - self._synced >= self.sync_seconds:
            self.sync()

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
        self._synced = time.monotonic()

    def close(self) -> None:
        if self._fd is not None:
            try:
                self.sync()
            finally:
                os.close(self._fd)
                self._fd = None

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
    """Counts of a batch run; ``fatal`` is set when the batch stopped early (e.g. a full disk)."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False
    fatal: str | None = None

    @property
    def exit_code(self) -> int:
        """The CLI convention: 130 interrupted, 1 some items failed or the batch stopped, else 0."""
        if self.interrupted:
            return 130
        return 1 if self.failed or self.fatal else 0

    def summary(self) -> str:
        s = f"{self.done} done, {self.skipped} skipped (already done), {self.failed} failed"
        return s + (" (interrupted)" if self.interrupted else "") + (" (stopped)" if self.fatal else "")


def finish(report: BatchReport, header: str = "", max_failures: int = 20) -> int:
    """Print ``header + summary`` on stdout and the failed items, a fatal error and an interruption
    on stderr (one line each); return :attr:`BatchReport.exit_code`."""
    print(f"{header}{report.summary()}")
    for key, err in report.failures[:max_failures]:
        print(f"  failed: {printable(key)}: {printable(err)}", file=sys.stderr)
    if len(report.failures) > max_failures:
        print(f"  ... and {len(report.failures) - max_failures} more (see the manifest)", file=sys.stderr)
    if report.fatal:
        print(f"error: {printable(report.fatal)}; rerun to resume", file=sys.stderr)
    if report.interrupted:
        print("interrupted; rerun to resume", file=sys.stderr)
    return report.exit_code


def _ignore_sigint() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # the server was started with SIGINT blocked (see _sigint_ignored_by_children): unblock it,
        # now ignored, so that programs a worker starts get the usual Ctrl-C
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies (a pool worker never outlives its pool)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent already died before prctl
        os._exit(1)


def _exit_when_gone(pid: int) -> None:
    """Exit this process as soon as process ``pid`` (the command that owns the pool) has ended.

    A worker forked by the forkserver is the server's child, not the command's, so
    ``PR_SET_PDEATHSIG`` alone does not cover a SIGKILL of the command: the worker would wait on
    its call queue forever (it holds the queue's write end itself), and the server waits for its
    workers. A daemon thread blocks on a pidfd of the command (polling where pidfds are missing)."""

    def watch() -> None:
        try:
            fd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            fd = None
        if fd is not None:
            select.select([fd], [], [])  # readable once the process has exited
        else:
            while True:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    pass
                time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="audiokit-owner-watch", daemon=True).start()


def _worker_init(threads: int, preload: tuple[str, ...] = (), owner_pid: int | None = None) -> None:
    _ignore_sigint()  # Ctrl-C reaches the whole process group: the main process handles it
    _die_with_parent()
    if owner_pid is not None:
        _exit_when_gone(owner_pid)
    import torch

    torch.set_num_threads(threads)  # workers x threads <= cores: no oversubscription
    for name in preload:  # already imported when forked from a preloaded forkserver
        try:
            importlib.import_module(name)
        except ImportError as e:  # a warm-up only: the items that need it report the error
            log.debug("preload %s: %s", name, e)


def _describe(e: BaseException, item: Any) -> str:
    """One-line message of an item's exception; a full disk is named as such (libsndfile reports
    it as "System error.")."""
    msg = f"{type(e).__name__}: {e}"
    full = isinstance(e, OSError) and e.errno == errno.ENOSPC
    dst = getattr(item, "dst", None)
    if not full and dst:
        parent = Path(dst).parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        with contextlib.suppress(OSError):
            full = shutil.disk_usage(parent).free < (1 << 16)
    if full:
        return f"{ENOSPC_MESSAGE} ({msg})"
    return msg


def _call(fn: Callable[[Any], Any], item: Any) -> tuple[bool, Any, float]:
    t0 = time.perf_counter()
    try:
        return True, fn(item), time.perf_counter() - t0
    except Exception as e:  # one bad item never stops the batch
        msg = _describe(e, item)
        log.debug("item failed: %s\n%s", msg, traceback.format_exc())
        return False, msg, time.perf_counter() - t0


def _call_group(fn: Callable[[Any], Any], items: list[Any]) -> list[tuple[bool, Any, float]]:
    """One task of a pool: the items of one group, each with its own error capture."""
    return [_call(fn, item) for item in items]


def _pool_context() -> mp.context.BaseContext:
    return mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")


class BatchPool(cf.ProcessPoolExecutor):
    """A process pool that remembers how it was made (:meth:`respawn` builds a fresh one after a
    worker died) and whose workers ignore SIGINT and die with their parent."""

    def __init__(self, workers: int, preload: Sequence[str] = (), threads_per_worker: int | None = None):
        self.workers = workers
        self.preload = tuple(preload)
        self.threads = threads_per_worker or max(1, (os.cpu_count() or 1) // workers)
        ctx = _pool_context()
        if ctx.get_start_method() == "forkserver":
            # modules the server imports once; every worker is forked with them loaded. torch is
            # safe to fork here: the server only imports it and never starts a thread pool.
            ctx.set_forkserver_preload(["torch", *self.preload])
            from multiprocessing import forkserver, resource_tracker

            # the server (and every worker forked from it) starts with SIGINT blocked, so a Ctrl-C
            # during its imports prints nothing there; the main process handles the interrupt. The
            # resource tracker is started first: its own start unblocks SIGINT, which would let the
            # server start with SIGINT open.
            resource_tracker.ensure_running()
            with _sigint_ignored_by_children():
                forkserver.ensure_running()  # starts importing now (no-op if already running)
        super().__init__(
            workers,
            mp_context=ctx,
            initializer=_worker_init,
            initargs=(self.threads, self.preload, os.getpid()),
        )

    def respawn(self) -> BatchPool:
        return BatchPool(self.workers, self.preload, self.threads)

    def kill(self) -> None:
        """SIGKILL every worker now (an interrupt must not wait for running items) and shut down."""
        for p in list((getattr(self, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                p.kill()
        with contextlib.suppress(Exception):
            self.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _sigint_ignored_by_children() -> Iterator[None]:
    """Processes started inside the block begin with SIGINT blocked (the mask survives fork and
    exec; Python leaves it so), hence deaf to a Ctrl-C meant for the command; a Ctrl-C that reaches
    this process meanwhile is not lost: it is recorded (by whichever thread receives it) and raised
    here as the previous handler would when the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    old = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # a pending one fires now
        if caught and callable(old):
            old(signal.SIGINT, None)  # default_int_handler: KeyboardInterrupt


def start_pool(
    workers: int, preload: Sequence[str] = (), threads_per_worker: int | None = None
) -> BatchPool | None:
    """Start a process pool for :func:`map_parallel`/:func:`run_batch` (``None`` when ``workers <= 1``).

    Call it as early as possible (before a command's own heavy imports and file discovery): with
    the ``forkserver`` context its server process starts importing ``preload`` (module names)
    right away, in parallel with the caller, and workers are later forked from it with those
    modules loaded. Each worker runs torch with ``threads_per_worker`` intra-op threads (default:
    cores // workers, so the pool never oversubscribes the machine). Stop it with
    :func:`stop_pool`, which also stops the server, so no process outlives the command.
    """
    if workers <= 1:
        return None
    return BatchPool(workers, preload, threads_per_worker)


def stop_pool(pool: cf.ProcessPoolExecutor | None, kill: bool = False) -> None:
    """Shut ``pool`` down (``kill``: SIGKILL its workers first) and stop the forkserver process."""
    if pool is not None:
        if kill and isinstance(pool, BatchPool):
            pool.kill()
        else:
            pool.shutdown(wait=True, cancel_futures=True)
    stop_forkserver()


def stop_forkserver() -> None:
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    if server is not None and getattr(server, "_forkserver_pid", None) is not None:
        with contextlib.suppress(Exception):
            server._stop()


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
    else ``spawn``; or ``pool`` from :func:`start_pool`), so ``fn`` must be a picklable top-level
    function; exceptions are caught per item. Items with equal ``group(item)`` go to a worker as
    one task (in their order), e.g. the outputs made from one input file, which saves reloading
    the file and per-task IPC.

    A worker that dies (``kill -9``, the kernel's OOM killer) breaks a process pool: the pool is
    rebuilt, the tasks that may have been running are retried one at a time, and a task whose
    worker dies again while it runs alone fails with :data:`WORKER_DIED`; the others run on.
    Closing the generator early (an interrupt, a full disk) kills the workers and cancels the rest.
    """
    bar = tqdm(total=len(items), desc=desc, disable=not progress or None, unit="item", dynamic_ncols=True)
    owned: list[cf.ProcessPoolExecutor] = []
    finished = False
    try:
        if pool is None and workers <= 1:
            for item in items:
                ok, res, dt = _call(fn, item)
                bar.update(1)
                yield item, ok, res, dt
            finished = True
            return
        if pool is None:
            pool = start_pool(workers, threads_per_worker=threads_per_worker)
            owned.append(pool)
        groups = _groups(items, group)
        suspect = [False] * len(groups)  # was in flight when a worker died
        pending = list(range(len(groups)))
        while pending:
            # suspects run alone, so a death is pinned on the task that caused it
            batch = [next(g for g in pending if suspect[g])] if any(suspect[g] for g in pending) else pending
            futures: dict[cf.Future, int] = {}
            submit_broke = False
            for g in batch:
                try:
                    futures[pool.submit(_call_group, fn, groups[g])] = g
                except BrokenProcessPool:  # a worker died meanwhile: the rest waits for a new pool
                    submit_broke = True
                    break
            broken: list[int] = []
            try:
                for fut in cf.as_completed(futures):
                    try:
                        results = fut.result()
                    except BrokenProcessPool:
                        break
                    for item, (ok, res, dt) in zip(groups[futures[fut]], results):
                        bar.update(1)
                        yield item, ok, res, dt
                    pending.remove(futures.pop(fut))
            except BaseException:  # an interrupt, or the consumer closed the generator
                for f in futures:
                    f.cancel()
                if isinstance(pool, BatchPool):
                    pool.kill()  # running items would hold the command up: kill them now
                raise
            # what is left broke with the pool: results that arrived first still count
            for fut, g in list(futures.items()):
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    for item, (ok, res, dt) in zip(groups[g], fut.result()):
                        bar.update(1)
                        yield item, ok, res, dt
                    pending.remove(g)
                else:
                    broken.append(g)
            if not broken and not submit_broke:
                continue
            log.warning("a worker process died; rebuilding the pool and retrying its items")
            if not broken:
                pass  # it died before any of these tasks was sent: nobody to blame
            elif len(batch) == 1 and suspect[batch[0]]:  # it died again, alone: its own fault
                for item in groups[batch[0]]:
                    bar.update(1)
                    yield item, False, WORKER_DIED, 0.0
                pending.remove(batch[0])
            else:
                # tasks are fed to the workers in submission order, at most workers + 1 at a
                # time: the dead worker ran one of the first of those still unfinished
                for g in broken[: getattr(pool, "_max_workers", workers) + 1]:
                    suspect[g] = True
            pool.shutdown(wait=True, cancel_futures=True)
            pool = pool.respawn() if isinstance(pool, BatchPool) else start_pool(workers, threads_per_worker)
            owned.append(pool)
        finished = True
    finally:
        bar.close()
        for p in owned:
            if finished:
                p.shutdown(wait=True)
            elif isinstance(p, BatchPool):
                p.kill()
            else:
                p.shutdown(wait=False, cancel_futures=True)


def _failed_names(items: list[BatchItem]) -> tuple[list[BatchItem], list[BatchItem]]:
    """Split ``items`` into those with valid UTF-8 paths and those without."""
    good, bad = [], []
    for it in items:
        (good if _valid_utf8(it.src) and _valid_utf8(it.dst) else bad).append(it)
    return good, bad


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
    unless ``force``. For every processed item one record is appended (written as one line as
    soon as the item's result arrives):
    ``{key, src, dst, status: "ok"|"error", error, seconds, **meta, **base_record, **fn(item)}``.
    ``fn`` must write ``item.dst`` atomically (see :func:`audiokit.io.save`). ``group`` and
    ``pool``: see :func:`map_parallel` and :func:`start_pool`. Items whose file names are not
    valid UTF-8 fail without running. A full disk stops the batch (``report.fatal``); Ctrl-C
    stops it with ``report.interrupted`` (the records written so far are kept).
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
    todo, bad_names = _failed_names(todo)
    base = dict(base_record or {})

    def record(out: ManifestWriter, item: BatchItem, ok: bool, res: Any, dt: float) -> None:
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
            log.warning("%s: %s", printable(item.src), printable(res))
        out.append(rec)

    try:
        with manifest.writer() as out:
            for item in bad_names:
                record(out, item, False, f"file name is not valid UTF-8: {printable(item.src)}", 0.0)
            results = map_parallel(fn, todo, workers, progress, desc, group=group, pool=pool)
            try:
                for item, ok, res, dt in results:
                    record(out, item, ok, res, dt)
                    if not ok and str(res).startswith(ENOSPC_MESSAGE):
                        report.fatal = f"{ENOSPC_MESSAGE} writing {printable(item.dst)}"
                        break
            finally:
                results.close()
    except KeyboardInterrupt:
        report.interrupted = True
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        report.fatal = f"{ENOSPC_MESSAGE} writing {manifest.path}"
    return report


def check_items(items: Sequence[BatchItem], out_dir: str | os.PathLike) -> None:
    """Every output inside ``out_dir``, and no two items with one output.

    Raises:
        JobError: naming the item (and the other input of a collision).
    """
    seen: dict[str, BatchItem] = {}
    for it in items:
        if not is_inside(it.dst, out_dir):
            raise JobError(
                f"{printable(it.src)}: its output {printable(it.dst)} would be outside OUT_DIR {out_dir}"
            )
        dst = os.path.normcase(os.path.abspath(it.dst))
        other = seen.get(dst) or seen.get(f"key:{it.key}")
        if other is not None:
            raise JobError(
                f"{printable(other.src)} and {printable(it.src)} would both be written to {printable(it.dst)}"
            )
        seen[dst] = seen[f"key:{it.key}"] = it


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str, sort_keys=True))


def _check_settings(out: Path, command: str, settings: dict[str, Any], force: bool) -> None:
    """Compare with ``OUT/job.json`` (raise :class:`JobError` on a difference unless ``force``),
    then store the job's command and settings there."""
    path = out / JOB_NAME
    new = {"command": command, "settings": _jsonable(settings)}
    if path.exists() and not force:
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise JobError(f"{path}: unreadable job file ({e}); use --force to start over") from None
        if old.get("command") != command:
            raise JobError(
                f"{out} holds the outputs of 'audiokit {old.get('command')}', not '{command}'; "
                "choose another OUT_DIR (or --force)"
            )
        before, after = old.get("settings") or {}, new["settings"]
        changed = [
            f"{k}: {json.dumps(before.get(k))} -> {json.dumps(after.get(k))}"
            for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)
        ]
        if changed:
            raise JobError(
                f"{out} was made with other settings ({'; '.join(changed)}); rerun with the same "
                "settings to resume, --force to redo every item with the new ones, or choose another OUT_DIR"
            )
        return
    text = json.dumps({**new, "audiokit_version": __version__}, indent=1, ensure_ascii=False) + "\n"
    tmp = out / f".{JOB_NAME}.{os.getpid()}.tmp"
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _lock(out: Path, shard_spec: str | None) -> Iterator[None]:
    """Hold a ``flock`` on the folder OUT: exclusive for a whole job, shared by the shards of one
    job (each also holds ``OUT/.audiokit.lock.<i>-of-<N>`` exclusively), so two runs never compute
    the same items at once while the shards of a job array can run together."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): no lock
        yield
        return
    i, n = parse_shard(shard_spec)
    locks = [(out, fcntl.LOCK_SH if n > 1 else fcntl.LOCK_EX)]
    if n > 1:
        locks.append((out / f"{LOCK_NAME}.{i}-of-{n}", fcntl.LOCK_EX))
    fds: list[int] = []
    try:
        for path, mode in locks:
            fd = os.open(path, os.O_RDONLY) if path == out else os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            fds.append(fd)
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                what = "this shard of " if path != out else ""
                raise JobError(
                    f"{out}: another audiokit run is writing {what}this folder; wait for it to finish "
                    "or choose another OUT_DIR"
                ) from None
        yield
    finally:
        for fd in fds:
            os.close(fd)


@contextlib.contextmanager
def open_job(
    command: str,
    out_dir: str | os.PathLike,
    settings: dict[str, Any],
    *,
    items: Sequence[BatchItem] = (),
    in_dir: str | os.PathLike | None = None,
    force: bool = False,
    shard_spec: str | None = None,
    legacy_manifest: str | None = None,
) -> Iterator[Manifest]:
    """Apply the shared batch rules and yield the job's :class:`Manifest` (``OUT/manifest.jsonl``).

    In order: OUT is not IN nor above it (:func:`check_in_out`), outputs stay in OUT and do not
    collide (:func:`check_items`), OUT is a writable folder (:func:`prepare_out_dir`), the lock is
    taken, and ``settings`` (everything that changes the outputs) match those stored in
    ``OUT/job.json`` (``force`` replaces them). ``legacy_manifest`` names an older manifest file
    in OUT that is renamed to ``manifest.jsonl``, so reruns of older jobs resume.

    Raises:
        JobError: one line for the CLI (exit code 2).
    """
    if in_dir is not None:
        check_in_out(in_dir, out_dir)
    check_items(items, out_dir)
    out = prepare_out_dir(out_dir)
    with _lock(out, shard_spec):
        manifest = Manifest(out / MANIFEST_NAME)
        if legacy_manifest and (out / legacy_manifest).exists() and not manifest.path.exists():
            os.replace(out / legacy_manifest, manifest.path)
        _check_settings(out, command, settings, force)
        yield manifest
