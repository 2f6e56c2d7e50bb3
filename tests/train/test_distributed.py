"""A real 2-process torchrun job on CPU (gloo, localhost) through ``audiokit train``.

SIGTERM reaches rank 1 only: both ranks must agree to stop after the same step, rank 0 alone writes
the checkpoint (with both ranks' RNG states), the replicas hold identical parameters, the data are
sharded and validation is averaged over the ranks. (Exact resumption is tested in-process in
test_trainer.py, which is cheaper than a second torchrun launch.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from audiokit.train import load_checkpoint, read_log

ROOT = Path(__file__).resolve().parents[2]


def test_torchrun_two_ranks_identical_signal_agreed_only_rank0_writes(tones_dir, tmp_path):
    run, dump = tmp_path / "run", tmp_path / "dump"
    cfg = tmp_path / "ddp.yaml"
    cfg.write_text(
        "task: tests.train.tiny_tasks:TinyGANTask\n"
        "train:\n"
        f"  run_dir: {run}\n"
        "  max_steps: 6\n"
        "  batch_size: 4\n"  # global: 2 per rank
        "  num_workers: 0\n"
        "  log_every: 2\n"
        "  checkpoint_every: 3\n"
        "  validate_every: 2\n"
        "  val_metrics: [snr]\n"
        "  tensorboard: false\n"
        "  optimizer: {lr: 3.0e-3}\n"
        f"data: {{train: {{path: {tones_dir}}}, val_holdout: 3}}\n"
        f"dump_dir: {dump}\n"
        "interrupt_at_step: 4\n"  # rank 1 sends itself SIGTERM during step 4
        "interrupt_rank: 1\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "audiokit", "train", str(cfg), "--no-progress"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    log = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode != 0, "an interrupted run must not report success\n" + log
    assert "exitcode: 143" in proc.stderr, log  # 128 + SIGTERM

    d0, d1 = (json.loads((dump / f"diag_rank{r}_interrupted.json").read_text()) for r in (0, 1))
    # both ranks stopped after step 4 although only rank 1 got the signal
    assert d0["steps_run"] == d1["steps_run"] == [0, 1, 2, 3]
    # DDP kept the replicas identical
    p0 = torch.load(dump / "params_rank0.pt", weights_only=True)
    p1 = torch.load(dump / "params_rank1.pt", weights_only=True)
    for name in ("generator", "discriminator"):
        assert p0[name].keys() == p1[name].keys()
        for k in p0[name]:
            assert torch.equal(p0[name][k], p1[name][k]), (name, k)
    # the data were sharded: 13 training files -> 6 per rank -> 3 batches of 2; disjoint within epoch 0
    a, b = set(d0["seen"][:6]), set(d1["seen"][:6])
    assert len(a) == len(b) == 6 and not a & b
    # only rank 0 built checkpoint states (step 3, and step 4 on the signal) and wrote files
    assert d0["extra_state_calls"] == 2 and d1["extra_state_calls"] == 0
    names = sorted(p.name for p in (run / "checkpoints").iterdir())  # no stray temporary files
    assert names == ["step_00000003.pt", "step_00000004.pt"]
    state = load_checkpoint(run / "checkpoints" / "step_00000004.pt")
    assert state["step"] == 4 and state["extra"] == {"writer_rank": 0}
    assert len(state["rng"]) == 2 and not torch.equal(state["rng"][0]["torch"], state["rng"][1]["torch"])
    for k, v in state["models"]["generator"].items():
        assert torch.equal(v, p0["generator"][k])
    # one log, each record written once by rank 0; validation averaged over both ranks' shards
    events = [r["event"] for r in read_log(run, "event")]
    assert events.count("start") == 1 and events.count("interrupted") == 1
    assert [r["step"] for r in read_log(run, "train")] == [2, 4]
    val = read_log(run, "val")
    assert [r["step"] for r in val] == [2, 4] and all({"recon", "snr"} <= set(r) for r in val)
