"""GP search with and without ``greenlet``, side by side: does the dependency pay for itself?

optuna's ``GPSampler`` optimises its acquisition function with L-BFGS-B from several starting
points (``optuna/_gp/optim_mixed.py`` -> ``optuna/_gp/batched_lbfgsb.py``). With ``greenlet``
installed, the runs are interleaved as coroutines so that each step evaluates the acquisition
function (a torch GP) for all starting points in one batched call; without it, optuna logs "The
'greenlet' package is unavailable, falling back to sequential L-BFGS-B optimization" when that
module is first imported (so once per process that runs a GP search) and runs them one by one.

This script runs the same constrained GP study (:func:`audiokit.perturb.search.run_study`, a cheap
synthetic objective so the sampler's own time dominates) in fresh processes with ``greenlet``
importable and with it blocked, interleaved, and prints median seconds per study, the ratio, and
whether the suggested parameters were identical.

    python benchmarks/bench_gp_greenlet.py [--trials 30] [--repeats 3] [--dims 4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import print_machine, print_table  # noqa: E402


def one_study(trials: int, dims: int, seed: int) -> dict:
    """Run one GP study in this process; returns its time and suggested values."""
    import math
    import time

    from audiokit.perturb.base import Uniform
    from audiokit.perturb.search import Outcome, run_study

    space = {f"x{i}": Uniform(-1.0, 1.0) for i in range(dims)}

    def evaluate(values: dict, number: int) -> Outcome:
        x = [values[f"x{i}"] for i in range(dims)]
        score = -sum((v - 0.3 * (i % 3 - 1)) ** 2 for i, v in enumerate(x))
        margin = sum(abs(v) for v in x) - 0.6 * dims  # feasible when <= 0
        return Outcome(score, margin, margin <= 0, False, True, {"violation": margin})

    t0 = time.perf_counter()
    history, _ = run_study(evaluate, space, trials, sampler="gp", seed=seed, stop_at_success=False)
    seconds = time.perf_counter() - t0
    values = [[round(h.params[k], 12) for k in sorted(h.params)] for h in history]
    return {"seconds": seconds, "values": values, "finite": all(math.isfinite(v) for r in values for v in r)}


def run_child(greenlet: bool, trials: int, dims: int, seed: int) -> dict:
    block = "" if greenlet else "import sys; sys.modules['greenlet'] = None; "
    code = (
        f"{block}import json, sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); "
        f"from bench_gp_greenlet import one_study; print(json.dumps(one_study({trials}, {dims}, {seed})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["warned"] = "'greenlet' package is unavailable" in out.stderr
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--dims", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import importlib.util

    if importlib.util.find_spec("greenlet") is None:
        sys.exit("greenlet is not installed here: pip install greenlet (or the project's dependencies)")
    print_machine()
    times: dict[bool, list[float]] = {True: [], False: []}
    same, warned = True, {True: False, False: False}
    for seed in range(args.repeats):
        runs = {}
        for g in (seed % 2 == 0, seed % 2 != 0):  # alternate which goes first
            runs[g] = run_child(g, args.trials, args.dims, seed)
            times[g].append(runs[g]["seconds"])
            warned[g] |= runs[g]["warned"]
        same &= runs[True]["values"] == runs[False]["values"]
    med = {g: statistics.median(v) for g, v in times.items()}
    print_table(
        ["greenlet", "median s / study", "s / trial", "warning printed"],
        [[str(g), med[g], med[g] / args.trials, str(warned[g])] for g in (False, True)],
    )
    print(
        f"{args.trials} trials, {args.dims} dims, {args.repeats} seeds: sequential / greenlet = "
        f"{med[False] / med[True]:.2f}x; identical suggestions: {same}"
    )


if __name__ == "__main__":
    main()
