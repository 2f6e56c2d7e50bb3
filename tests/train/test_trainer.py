"""The Trainer on a tiny GAN task: loss falls, interrupt/resume is exact, checkpoints, validation, export."""

from __future__ import annotations

import hashlib
import json
import math

import pytest
import torch
import yaml
from safetensors.torch import load_file

from audiokit.cli import main
from audiokit.train import (
    Trainer,
    TrainerConfig,
    TrainingTask,
    from_dict,
    load_checkpoint,
    read_log,
    to_dict,
)
from audiokit.train.checkpoint import list_checkpoints
from tests.train.tiny_tasks import TinyConfig, TinyGANTask


def _task(tones_dir, run_dir, task_overrides=None, **train):
    settings = dict(run_dir=str(run_dir), batch_size=4, num_workers=0, log_every=1, validate_every=0)
    settings.update(checkpoint_every=0, progress=False, tensorboard=False, val_metrics=["snr", "lsd"])
    settings.update(train)
    config = from_dict(TinyConfig, {"data": {"train": {"path": str(tones_dir)}}, **(task_overrides or {})})
    return TinyGANTask(config, from_dict(TrainerConfig, {"optimizer": {"lr": 3e-3}, **settings}))


def test_generator_loss_falls_and_validation_runs(tones_dir, tmp_path):
    task = _task(tones_dir, tmp_path / "run", max_steps=36, validate_every=18, log_every=6)
    result = Trainer(task).fit()
    assert result.status == "completed" and result.step == 36
    train = read_log(tmp_path / "run", "train")
    assert [r["step"] for r in train] == [6, 12, 18, 24, 30, 36]
    recon = [r["recon"] for r in train]
    assert recon[-1] < 0.5 * recon[0], recon
    assert all(math.isfinite(r["loss_d"]) and r["grad_norm/g"] > 0 for r in train)
    # per-epoch LR decay (14 training files, 4 per batch: 3 steps per epoch)
    last = train[-1]
    assert last["epoch"] == 11 and last["lr/g"] == pytest.approx(
        3e-3 * 0.999**11, rel=1e-9
    )  # step 36 ends epoch 11
    val = read_log(tmp_path / "run", "val")
    assert [r["step"] for r in val] == [18, 36]
    assert {"recon", "snr", "lsd"} <= set(val[-1]) and val[-1]["recon"] < val[0]["recon"]
    samples = tmp_path / "run" / "samples" / "step_00000036"
    assert sorted(p.name for p in samples.iterdir()) == [
        "00_generated.wav",
        "00_target.wav",
        "01_generated.wav",
        "01_target.wav",
    ]
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["task"] == "tests.train.tiny_tasks:TinyGANTask" and saved["train"]["max_steps"] == 36


def test_interrupted_run_resumes_at_the_saved_step_with_the_same_state(tones_dir, tmp_path):
    ref = _task(tones_dir, tmp_path / "ref", max_steps=10, checkpoint_every=4, keep_checkpoints=2)
    assert Trainer(ref).fit().status == "completed"
    assert [s for s, _ in list_checkpoints(tmp_path / "ref" / "checkpoints")] == [8, 10]  # keep the last 2

    cut = _task(tones_dir, tmp_path / "cut", {"interrupt_at_step": 5}, max_steps=10)
    result = Trainer(cut).fit()  # SIGTERM arrives during step 5: finish it, save, stop
    assert result.status == "interrupted" and result.step == 5 and result.signal == 15
    state = load_checkpoint(result.checkpoint)
    assert state["step"] == 5 and state["epoch"] == 1 and state["batch_in_epoch"] == 2
    for name, opt in cut.optimizers.items():  # the checkpoint holds the optimizer state at the cut
        live, saved = opt.state_dict(), state["optimizers"][name]
        assert live["param_groups"] == saved["param_groups"]
        for k, v in live["state"].items():
            for field in ("exp_avg", "exp_avg_sq", "step"):
                assert torch.equal(v[field], saved["state"][k][field])

    resumed = _task(tones_dir, tmp_path / "cut", max_steps=10)
    assert Trainer(resumed).fit().status == "completed"
    assert resumed.resumed and resumed.steps_run == [5, 6, 7, 8, 9]
    # the resumed run ends exactly where the uninterrupted run ended (same data, same updates)
    final_ref = load_checkpoint(tmp_path / "ref" / "checkpoints" / "step_00000010.pt")
    final_cut = load_checkpoint(tmp_path / "cut" / "checkpoints" / "step_00000010.pt")
    for name in ("generator", "discriminator"):
        for k, v in final_ref["models"][name].items():
            assert torch.equal(v, final_cut["models"][name][k]), (name, k)
    for k, v in final_ref["optimizers"]["g"]["state"].items():
        assert torch.equal(v["exp_avg_sq"], final_cut["optimizers"]["g"]["state"][k]["exp_avg_sq"])
    events = [r["event"] for r in read_log(tmp_path / "cut", "event")]
    assert events[:2] == ["start", "epoch_end"] and "interrupted" in events and "resume" in events


def test_bf16_autocast_and_step_lr_decay(tones_dir, tmp_path):
    overrides = {"precision": "bf16", "lr_decay": {"gamma": 0.5, "interval": "step", "every": 2}}
    task = _task(tones_dir, tmp_path / "run", max_steps=4, **overrides)
    seen = {}

    def spy(batch):
        with task.autocast():
            seen["dtype"] = task.model("generator")(batch["input"]).dtype
        return TinyGANTask.training_step(task, batch)

    task.training_step = spy
    assert Trainer(task).fit().status == "completed"
    assert seen["dtype"] == torch.bfloat16
    logs = read_log(tmp_path / "run", "train")
    assert all(math.isfinite(r["loss_g"]) for r in logs)
    assert [r["lr/g"] for r in logs] == pytest.approx([3e-3, 1.5e-3, 1.5e-3, 0.75e-3])  # 0.5 ** (step // 2)


def test_nonfinite_gradients_skip_the_update():
    task = TrainingTask(train=TrainerConfig(grad_clip=1.0))
    net = torch.nn.Linear(3, 1)
    task.models = {"net": net}
    task.optimizers = {"main": torch.optim.SGD(net.parameters(), lr=0.1)}
    before = [p.detach().clone() for p in net.parameters()]
    stats = task.step_optimizer("main", net(torch.full((2, 3), float("nan"))).sum())
    assert math.isnan(stats["grad_norm/main"]) and task.skipped_steps == {"main": 1}
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    stats = task.step_optimizer("main", 100 * net(torch.ones(2, 3)).sum())
    assert stats["grad_norm/main"] > 1.0  # the norm before clipping is reported...
    moved = torch.cat([(a - b.detach()).flatten() for a, b in zip(before, net.parameters())])
    assert float(moved.norm()) == pytest.approx(0.1 * 1.0, rel=1e-5)  # ...and the update used the clipped one


def test_cli_train_resume_and_export(tones_dir, tmp_path, capsys):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(
        "task: tests.train.tiny_tasks:TinyGANTask\n"
        "train: {max_steps: 3, batch_size: 4, num_workers: 0, validate_every: 0, tensorboard: false}\n"
        f"data: {{train: {{path: {tones_dir}}}}}\n"
        "channels: 6\n"
    )
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--run-dir", str(run), "--no-progress"]) == 0
    assert main(["train", str(cfg), "train.max_steps=5", "--run-dir", str(run), "--no-progress"]) == 0
    events = read_log(run, "event")
    assert [e["step"] for e in events if e["event"] == "resume"] == [3]
    assert [s for s, _ in list_checkpoints(run / "checkpoints")] == [3, 5]

    out = tmp_path / "export"
    capsys.readouterr()
    assert main(["export", str(run), str(out)]) == 0
    assert capsys.readouterr().out.split() == [
        str(out / n) for n in ("model.safetensors", "config.json", "SHA256SUMS")
    ]
    weights = load_file(str(out / "model.safetensors"))
    ckpt = load_checkpoint(run / "checkpoints" / "step_00000005.pt")
    generator = ckpt["models"]["generator"]
    assert set(weights) == set(generator) and all(torch.equal(weights[k], generator[k]) for k in weights)
    config = json.loads((out / "config.json").read_text())
    assert config == to_dict(
        from_dict(TinyConfig, {k: v for k, v in ckpt["config"].items() if k not in ("task", "train")})
    )
    assert config["channels"] == 6
    for line in (out / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    assert main(["export", str(tmp_path / "nowhere"), str(out)]) == 2
