"""Timing helpers shared by the benchmark scripts: medians of repeated runs, interleaved, and the
one line naming the machine that every benchmark prints first."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def machine_line() -> str:
    """CPU model, its AVX2/AVX512/AVX512_BF16/AMX support, torch's kernel level (``ATEN_CPU_CAPABILITY``
    shows here), any ISA override in the environment, torch version and threads."""
    import os

    import torch

    from audiokit.device import describe_cpu

    forced = [f"{k}={os.environ[k]}" for k in _ISA_VARIABLES if k in os.environ]
    return (
        f"CPU: {describe_cpu()}{' (' + ', '.join(forced) + ')' if forced else ''}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores"
    )


_ISA_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def print_machine() -> None:
    """Print :func:`machine_line` (call after setting the thread count)."""
    print(machine_line(), flush=True)


def median_time(fn: Callable[[], object], repeats: int = 7, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved_medians(
    fns: dict[str, Callable[[], object]], repeats: int = 7, warmup: int = 2
) -> dict[str, float]:
    """Median times of several functions, run round-robin (in a rotating order, so no function is
    always first after another's cache footprint) so that machine drift hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    keys = list(fns)
    for r in range(repeats):
        for k in keys[r % len(keys) :] + keys[: r % len(keys)]:
            fn = fns[k]
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def print_table(header: list[str], rows: list[list[object]]) -> None:
    def fmt(v: object) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    cells = [header] + [[fmt(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for j, r in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if j == 0:
            print("  ".join("-" * w for w in widths))
