"""LR decay schedules (closed forms), checkpoint files, RNG state capture."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from audiokit.train import ExponentialDecay, LRDecayConfig, OptimizerConfig, build_optimizer, build_scheduler
from audiokit.train.checkpoint import (
    CHECKPOINT_FORMAT,
    capture_rng_state,
    checkpoint_path,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    resolve_checkpoint,
    restore_rng_state,
    save_checkpoint,
)


def _opt(lr=2e-4):
    return build_optimizer([torch.nn.Parameter(torch.zeros(3))], OptimizerConfig(lr=lr))


def test_epoch_decay_equals_torch_exponential_lr():
    a, b = _opt(), _opt()
    ours = build_scheduler(a, LRDecayConfig(gamma=0.999, interval="epoch"))
    ref = torch.optim.lr_scheduler.ExponentialLR(b, gamma=0.999)
    for _ in range(50):
        a.step(), b.step()
        ours.step(), ref.step()
        assert a.param_groups[0]["lr"] == pytest.approx(b.param_groups[0]["lr"], rel=1e-12)
    assert a.param_groups[0]["lr"] == pytest.approx(2e-4 * 0.999**50, rel=1e-12)


def test_ddsp_style_smooth_step_decay():
    opt = _opt(3e-4)
    # "0.98 per 10k steps" scaled down 100x: lr = 3e-4 * 0.98 ** (n / 100)
    sched = build_scheduler(opt, LRDecayConfig(gamma=0.98, interval="step", every=100, staircase=False))
    assert sched.interval == "step"
    for _ in range(250):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(3e-4 * 0.98**2.5, rel=1e-9)


def test_staircase_and_state_round_trip():
    opt = _opt(1.0)
    sched = ExponentialDecay(opt, 0.5, every=3, staircase=True, interval="step")
    lrs = []
    for _ in range(7):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]  # 0.5 ** (n // 3), n = 1..7
    opt2 = _opt(1.0)
    sched2 = ExponentialDecay(opt2, 0.5, every=3, staircase=True, interval="step")
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(sched.state_dict())
    for expected in (0.25, 0.125):  # n = 8, 9
        opt2.step()
        sched2.step()
        assert opt2.param_groups[0]["lr"] == expected


def _state(step):
    return {
        "format": CHECKPOINT_FORMAT,
        "task": "m:T",
        "config": {},
        "step": step,
        "models": {"m": {"w": torch.ones(2)}},
    }


def test_checkpoint_files(tmp_path):
    d = tmp_path / "ck"
    for s in (5, 10, 15, 20):
        save_checkpoint(_state(s), checkpoint_path(d, s))
    (d / ".step_00000025.pt.tmp.pt").write_bytes(b"partial")  # a crashed write: ignored
    assert [s for s, _ in list_checkpoints(d)] == [5, 10, 15, 20]
    assert latest_checkpoint(d).name == "step_00000020.pt"
    assert resolve_checkpoint(tmp_path / "ck") == d / "step_00000020.pt"
    removed = prune_checkpoints(d, keep=2)
    assert [p.name for p in removed] == ["step_00000005.pt", "step_00000010.pt"]
    state = load_checkpoint(d / "step_00000015.pt")
    assert state["step"] == 15 and torch.equal(state["models"]["m"]["w"], torch.ones(2))


class Custom:  # a pickled object: refused by weights_only loading
    pass


def test_load_checkpoint_rejects_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="untrusted or unreadable checkpoint: .*junk.pt"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"generator": {}}, tmp_path / "official.pt")
    with pytest.raises(ValueError, match="not an audiokit training checkpoint"):
        load_checkpoint(tmp_path / "official.pt")

    torch.save({"format": CHECKPOINT_FORMAT, "obj": Custom()}, tmp_path / "pickle.pt")
    with pytest.raises(ValueError, match="untrusted or unreadable checkpoint"):
        load_checkpoint(tmp_path / "pickle.pt")


def test_rng_state_round_trip_through_a_checkpoint(tmp_path):
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    state = capture_rng_state()
    save_checkpoint({**_state(1), "rng": [state]}, tmp_path / "c.pt")
    expected = (torch.rand(4), np.random.rand(4), [random.random() for _ in range(4)], np.random.randn(3))
    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    restore_rng_state(load_checkpoint(tmp_path / "c.pt")["rng"][0])
    got = (torch.rand(4), np.random.rand(4), [random.random() for _ in range(4)], np.random.randn(3))
    assert torch.equal(expected[0], got[0])
    assert (
        np.array_equal(expected[1], got[1]) and expected[2] == got[2] and np.array_equal(expected[3], got[3])
    )
