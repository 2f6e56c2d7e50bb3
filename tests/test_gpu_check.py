"""benchmarks/gpu_check.py: skips cleanly without CUDA, and its quick CPU mode runs end to end."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def gpu_check():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("gpu_check", BENCH / "gpu_check.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(autouse=True)
def _keep_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def test_skips_without_cuda(gpu_check, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 0
    assert "skipped, no CUDA device" in capsys.readouterr().out


def test_quick_cpu_run_prints_the_table(gpu_check, capsys, monkeypatch):
    tables = []
    printed = gpu_check.print_table
    monkeypatch.setattr(gpu_check, "print_table", lambda h, rows: (tables.append(rows), printed(h, rows)))
    assert gpu_check.main(["--device", "cpu", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "QUICK mode" in out and "CPU:" in out and "APNet2" in out
    (rows,) = tables
    for model in ("APNet", "APNet2", "AP-BWE 8k->16k"):
        paths = {r[1].split(" (")[0]: r for r in rows if r[0] == model}
        assert set(paths) == {"fp32", "bf16 autocast", "train fp32", "train bf16"}, paths
        assert paths["fp32"][5] == float("inf") and paths["bf16 autocast"][5] > 25  # SNR vs fp32
        assert all(isinstance(r[2], float) and r[2] > 0 for r in paths.values())
        assert paths["train fp32"][5] == paths["train bf16"][5] == "finite"
    assert gpu_check.main(["--device", "tpu"]) == 2
