"""The GP search runs optuna's batched L-BFGS-B path (greenlet installed), without its fallback warning."""

from __future__ import annotations

import subprocess
import sys

CODE = """
from audiokit.perturb.base import Uniform
from audiokit.perturb.search import Outcome, run_study

def evaluate(values, number):
    s = -(values["a"] - 0.2) ** 2 - (values["b"] + 0.1) ** 2
    return Outcome(s, None, True, False, True)

history, kept = run_study(evaluate, {"a": Uniform(-1, 1), "b": Uniform(-1, 1)}, 4, n_startup=2,
                          stop_at_success=False)
assert len(history) == 4 and kept is not None
import optuna._gp.batched_lbfgsb as b
print("batched", b._greenlet_imports.is_successful())
"""


def test_gp_search_has_greenlet_and_prints_no_fallback_warning():
    # a fresh process: optuna warns when it first imports its L-BFGS-B module, once per process
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "batched True" in out.stdout
    assert "greenlet" not in out.stderr, out.stderr
