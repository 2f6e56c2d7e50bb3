"""Unreadable or untrusted ``step_*.pt`` files in a run (issue 14 row 19) and unusable run/export
folders (row 6): pruning and export ignore them, the message is one line."""

from __future__ import annotations

import torch
from safetensors import safe_open

from audiokit.cli import main
from audiokit.train.checkpoint import list_checkpoints, prune_checkpoints
from tests.batch_helpers import read_only_dir


class Custom:  # a pickled object: refused by weights_only loading
    pass


def _config(tmp_path, tones_dir):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(
        "task: tests.train.tiny_tasks:TinyGANTask\n"
        "train: {max_steps: 2, batch_size: 4, num_workers: 0, validate_every: 0, tensorboard: false,\n"
        "        checkpoint_every: 1, keep_checkpoints: 2}\n"
        f"data: {{train: {{path: {tones_dir}}}}}\n"
        "channels: 4\n"
    )
    return cfg


def test_unreadable_checkpoints_are_ignored_by_pruning_and_export(tones_dir, tmp_path, capsys):
    cfg, run = _config(tmp_path, tones_dir), tmp_path / "run"
    assert main(["train", str(cfg), "--run-dir", str(run), "--no-progress"]) == 0
    ckpts = run / "checkpoints"
    junk, evil = ckpts / "step_99999999.pt", ckpts / "step_99999998.pt"
    junk.write_bytes(b"\x00garbage" * 100)
    torch.save({"format": "audiokit.train/1", "obj": Custom()}, evil)  # needs unpickling code
    # resume skips them; the pruning after each save keeps the newest 2 *readable* checkpoints
    assert main(["train", str(cfg), "train.max_steps=4", "--run-dir", str(run), "--no-progress"]) == 0
    assert [s for s, _ in list_checkpoints(ckpts)] == [3, 4, 99999998, 99999999]
    assert prune_checkpoints(ckpts, keep=1) == [ckpts / "step_00000003.pt"]
    assert junk.exists() and evil.exists()
    capsys.readouterr()
    out = tmp_path / "export"
    assert main(["export", str(run), str(out)]) == 0  # the newest readable one
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert f.metadata()["step"] == "4"
    for bad in (junk, evil):
        assert main(["export", str(bad), str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert err == f"audiokit export: error: untrusted or unreadable checkpoint: {bad}\n"


def _refused(cfg, run, capsys) -> None:
    assert main(["train", str(cfg), "--run-dir", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(run) in err


def test_run_dir_that_is_a_file_is_one_line(tones_dir, tmp_path, capsys):
    cfg = _config(tmp_path, tones_dir)
    a_file = tmp_path / "f"
    a_file.write_text("x")
    for run in (a_file, a_file / "run"):
        _refused(cfg, run, capsys)


def test_read_only_run_dir_is_one_line(tones_dir, tmp_path, capsys):
    cfg = _config(tmp_path, tones_dir)
    with read_only_dir(tmp_path / "ro") as ro:
        for run in (ro / "run", ro):
            _refused(cfg, run, capsys)
