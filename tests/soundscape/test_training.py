"""The masker training task on the engine: synthetic and ARAUS-format data, export, selection."""

from __future__ import annotations

import json

import pytest
import torch

from audiokit.soundscape import MaskerGainPredictor
from audiokit.soundscape.training import (
    MaskerGainTask,
    MaskerTaskConfig,
    evaluate,
    predict,
    select_checkpoint,
    selection_check,
)
from audiokit.train import Trainer, TrainerConfig, export_checkpoint, load_run_config, read_log

TINY_MODEL = {"hidden": 16, "context_layers": 1, "mix_layers": 1, "heads": 2, "time_pool": 4}


def _run(tmp_path, data: dict, steps: int, **train) -> Trainer:
    overrides = [f"train.run_dir={tmp_path / 'run'}", f"train.max_steps={steps}", "train.num_workers=0"]
    overrides += ["train.progress=false", "train.tensorboard=false", "train.val_batch_size=64"]
    overrides += [f"train.{k}={v}" for k, v in train.items()]
    overrides += [f"model.{k}={v}" for k, v in TINY_MODEL.items()]
    overrides += [f"data.{k}={json.dumps(v)}" for k, v in data.items()]
    run = load_run_config("recipes/masker_tiny/config.yaml", overrides)
    trainer = Trainer.from_config(run)
    trainer.fit()
    return trainer


SYNTH = {
    "source": "synthetic",
    "synthetic": {
        "seed": 3,
        "seconds": 1.0,
        "train": {"soundscapes": 6, "maskers": 6, "pairs_per_soundscape": 16},
        "val": {"soundscapes": 2, "maskers": 6, "pairs_per_soundscape": 8},
        "test": {"soundscapes": 2, "maskers": 6, "pairs_per_soundscape": 8},
    },
}


def test_synthetic_task_trains_exports_and_reloads(tmp_path):
    data = {**SYNTH, "synthetic": {**SYNTH["synthetic"], "cache": str(tmp_path / "cache")}}
    trainer = _run(tmp_path, data, 12, batch_size=16, validate_every=6, checkpoint_every=6, log_every=3)
    task: MaskerGainTask = trainer.task
    model = task.model("predictor")
    assert not torch.all(model.band_mean == -60.0)  # normalisation set from the training data
    train_log = read_log(tmp_path / "run", "train")
    assert len(train_log) == 4 and len(read_log(tmp_path / "run", "val")) == 2
    assert {"loss", "mse", "std", "grad_norm/main"} <= set(train_log[0])
    data = task.datasets()
    torch.manual_seed(task.train.seed)
    untrained = MaskerGainPredictor(task.config.model)
    untrained.set_normalization(model.band_mean, model.band_std)
    assert evaluate(model, data["train"])["mse"] < evaluate(untrained, data["train"])["mse"]  # it learns
    best, metrics, scores = select_checkpoint(tmp_path / "run")
    assert len(scores) == 2 and metrics["mse"] == min(s for _, s in scores)
    export_checkpoint(best, tmp_path / "export")
    loaded = MaskerGainPredictor.from_pretrained(tmp_path / "export")
    cfg = json.loads((tmp_path / "export" / "config.json").read_text())
    assert cfg["model_type"] == "masker" and cfg["config"]["hidden"] == 16
    assert cfg["training"]["source"] == "synthetic"
    mu, ls = predict(loaded, data["val"])
    assert mu.shape == ls.shape == (16,)
    report = selection_check(loaded, task.synthetic_split("test"))
    assert report["scenes"] == 2 and 0 <= report["class_match"] <= 1 and report["regret"] >= 0


def test_synthetic_cache_is_reused(tmp_path):
    cfg = MaskerTaskConfig()
    cfg.data.synthetic.seconds = 1.0
    cfg.data.synthetic.cache = str(tmp_path / "cache")
    for split in ("train", "val", "test"):
        setattr(cfg.data.synthetic, split, type(cfg.data.synthetic.train)(2, 6, 4))
    a = MaskerGainTask(cfg, TrainerConfig()).datasets()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [
        "test.safetensors",
        "train.safetensors",
        "val.safetensors",
    ]
    b = MaskerGainTask(cfg, TrainerConfig()).datasets()
    assert torch.equal(a["train"].soundscapes, b["train"].soundscapes) and torch.equal(
        a["val"].label, b["val"].label
    )
    cfg.data.synthetic.seed = 9  # other settings: regenerated, not reused
    c = MaskerGainTask(cfg, TrainerConfig()).datasets()
    assert not torch.equal(a["train"].label, c["train"].label)


def test_araus_task_runs_a_cross_validation_round(araus_root, araus_feature_cache, tmp_path):
    data = {
        "source": "araus",
        "araus": {"root": str(araus_root), "val_fold": 2, "cache_dir": str(araus_feature_cache)},
    }
    trainer = _run(tmp_path, data, 4, batch_size=8, validate_every=4, checkpoint_every=4)
    d = trainer.task.datasets()
    assert {"train", "val", "test"} == set(d)
    assert len(d["test"]) == 8  # fold 0: one averaged item per stimulus
    m = evaluate(trainer.task.model("predictor"), d["test"], train_label_mean=float(d["train"].label.mean()))
    assert m["n"] == 8 and m["mse"] > 0


def test_config_errors(araus_root, araus_feature_cache):
    cfg = MaskerTaskConfig()
    cfg.data.source = "araus"
    with pytest.raises(ValueError, match="data.araus.root"):
        MaskerGainTask(cfg, TrainerConfig()).datasets()
    cfg.data.araus.root = str(araus_root)
    cfg.data.araus.cache_dir = str(araus_feature_cache)
    task = MaskerGainTask(cfg, TrainerConfig())
    with pytest.raises(ValueError, match="no synthetic split"):
        task.synthetic_split("test")
    cfg.model.channels = 1
    with pytest.raises(ValueError, match="model.channels"):
        MaskerGainTask(cfg, TrainerConfig()).datasets()


def test_cross_validation_script_takes_overrides_after_options():
    """The documented ``cross_validate.py ROOT --run-dir DIR key=value ...`` command line parses."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "recipes" / "masker_araus" / "cross_validate.py"
    spec = importlib.util.spec_from_file_location("masker_araus_cross_validate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = module.parse_args(
        ["/data/ARAUS", "--run-dir", "runs/x", "train.max_epochs=2", "train.batch_size=8"]
    )
    assert args.root == "/data/ARAUS" and args.run_dir == "runs/x" and args.folds == [1, 2, 3, 4, 5]
    assert args.overrides == ["train.max_epochs=2", "train.batch_size=8"]
    args = module.parse_args(["/data/ARAUS", "a=1", "--folds", "2", "3", "--nproc", "2"])
    assert args.overrides == ["a=1"] and args.folds == [2, 3] and args.nproc == 2
