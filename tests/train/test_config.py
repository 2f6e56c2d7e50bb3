"""Config dataclasses <-> YAML: round trip, strict validation naming the key, dotted overrides."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import pytest
import yaml

from audiokit.cli import main
from audiokit.train import (
    TrainerConfig,
    apply_overrides,
    from_dict,
    load_run_config,
    load_yaml,
    save_yaml,
    to_dict,
)


@dataclass
class Inner:
    lr: float = 2e-4
    betas: tuple[float, float] = (0.8, 0.99)
    mode: Literal["epoch", "step"] = "epoch"


@dataclass
class Outer:
    steps: int = 10
    name: str = "x"
    gain: float | None = None
    flags: list[bool] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=lambda: {"a": 1.0})
    inner: Inner = field(default_factory=lambda: Inner(lr=1e-3))


def test_round_trip_through_yaml(tmp_path):
    cfg = Outer(
        steps=3, gain=0.5, flags=[True, False], weights={"mel": 45.0}, inner=Inner(5e-4, (0.5, 0.9), "step")
    )
    save_yaml(cfg, tmp_path / "c.yaml")
    back = from_dict(Outer, load_yaml(tmp_path / "c.yaml"))
    assert back == cfg
    assert isinstance(back.inner.betas, tuple)
    assert to_dict(back) == yaml.safe_load((tmp_path / "c.yaml").read_text())


def test_partial_section_keeps_declared_defaults():
    cfg = from_dict(Outer, {"inner": {"mode": "step"}})
    assert cfg.inner == Inner(lr=1e-3, mode="step")  # lr from the field's default instance


def test_numbers_written_as_strings_are_parsed():
    # YAML 1.1 reads "2e-4" as a string; float/int fields accept exact numeric strings
    cfg = from_dict(Outer, yaml.safe_load("steps: 1e3\ninner: {lr: 2e-4}"))
    assert cfg.steps == 1000 and isinstance(cfg.steps, int)
    assert cfg.inner.lr == pytest.approx(2e-4)


@pytest.mark.parametrize(
    "data, key",
    [
        ({"stepz": 1}, "'stepz'"),
        ({"inner": {"lrr": 1.0}}, "'inner.lrr'"),
        ({"steps": "ten"}, "'steps'"),
        ({"steps": 1.5}, "'steps'"),
        ({"steps": True}, "'steps'"),
        ({"gain": [1]}, "'gain'"),
        ({"flags": [1]}, "'flags[0]'"),
        ({"weights": {"mel": "x"}}, "'weights.mel'"),
        ({"inner": {"betas": [0.8]}}, "'inner.betas'"),
        ({"inner": {"mode": "epochs"}}, "'inner.mode'"),
        ({"inner": 3}, "'inner'"),
        ({"name": 3}, "'name'"),
    ],
)
def test_bad_values_name_the_key(data, key):
    with pytest.raises(
        ValueError, match=re.escape(f"config key {key}") + "|" + re.escape(f"unknown config key {key}")
    ):
        from_dict(Outer, data)


def test_unknown_key_suggests_the_close_one():
    with pytest.raises(ValueError, match=r"did you mean 'inner\.lr'"):
        from_dict(Outer, {"inner": {"lrr": 1.0}})


def test_overrides():
    data = apply_overrides(
        {"inner": {"lr": 1.0}}, ["steps=5", "inner.betas=[0.5, 0.6]", "gain=null", "new.deep.key=1"]
    )
    assert data == {
        "inner": {"lr": 1.0, "betas": [0.5, 0.6]},
        "steps": 5,
        "gain": None,
        "new": {"deep": {"key": 1}},
    }
    with pytest.raises(ValueError, match="'inner.lr' is a value"):
        apply_overrides(data, ["inner.lr.x=1"])
    with pytest.raises(ValueError, match="key=value"):
        apply_overrides(data, ["steps"])


def test_trainer_config_checks_values():
    with pytest.raises(ValueError, match="train.batch_size"):
        from_dict(TrainerConfig, {"batch_size": 0}, _path="train")
    with pytest.raises(ValueError, match=r"'train\.lr_decay\.gamma'"):
        from_dict(TrainerConfig, {"lr_decay": {"gamma": 1.5}}, _path="train")


def _write(tmp_path, text):
    p = tmp_path / "run.yaml"
    p.write_text(text)
    return p


def test_run_config_validates_task_and_sections(tmp_path):
    good = "task: tests.train.tiny_tasks:TinyGANTask\ntrain: {max_steps: 3}\nchannels: 4\n"
    run = load_run_config(_write(tmp_path, good), ["train.batch_size=2", "data.train.path=/x"])
    assert run.train.batch_size == 2 and run.task_config.channels == 4
    assert run.task_config.data.train.path == "/x" and run.task_config.data.sample_rate == 8000
    assert run.train.run_dir == "runs/run"  # default: runs/<config stem>
    assert run.to_dict()["task"] == "tests.train.tiny_tasks:TinyGANTask"
    with pytest.raises(ValueError, match="'train.max_stepz'"):
        load_run_config(_write(tmp_path, good), ["train.max_stepz=3"])
    with pytest.raises(ValueError, match="'channels'"):
        load_run_config(_write(tmp_path, good), ["channels=wide"])
    with pytest.raises(ValueError, match="config key 'task'"):
        load_run_config(_write(tmp_path, "task: no.such.module:Task\n"))
    with pytest.raises(ValueError, match="config key 'task'"):
        load_run_config(_write(tmp_path, "train: {max_steps: 1}\n"))
    with pytest.raises(ValueError, match="not a TrainingTask"):
        load_run_config(_write(tmp_path, "task: audiokit.io:load\n"))


def test_cli_bad_config_exits_2_naming_the_key(tmp_path, capsys):
    cfg = _write(tmp_path, "task: tests.train.tiny_tasks:TinyGANTask\ntrain: {max_steps: 3, batch_sise: 4}\n")
    assert main(["train", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert (
        "'train.batch_sise'" in err
        and "did you mean 'train.batch_size'" in err
        and len(err.strip().splitlines()) == 1
    )
    cfg.write_text("task: tests.train.tiny_tasks:TinyGANTask\ntrain: {max_steps: 3}\n")
    assert main(["train", str(cfg), "data.segment_length=abc"]) == 2
    assert "'data.segment_length'" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2


def test_cli_print_config(tmp_path, capsys):
    cfg = _write(tmp_path, "task: tests.train.tiny_tasks:TinyGANTask\ntrain: {max_steps: 3}\n")
    assert main(["train", str(cfg), "train.seed=7", "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["train"]["seed"] == 7 and printed["data"]["sample_rate"] == 8000
