"""The DDSP training task on the shared engine: a short run, resume, export and reload."""

from __future__ import annotations

import json

import pytest
import torch

from audiokit.cli import main
from audiokit.ddsp import synthetic
from audiokit.ddsp.data import DDSPExamples
from audiokit.ddsp.model import DDSPAutoencoder
from audiokit.train import Trainer, load_run_config, read_log

RECIPE = "recipes/ddsp_solo/tiny.yaml"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddsp_syn")
    synthetic.write_dataset(root / "train", n_examples=6, seconds=1.0, seed=0)
    synthetic.write_dataset(root / "val", n_examples=1, seconds=1.0, seed=1)
    return root


def _overrides(data_dir, run_dir, steps):
    return [
        f"data.path={data_dir / 'train'}",
        f"data.val_path={data_dir / 'val'}",
        f"train.run_dir={run_dir}",
        f"train.max_steps={steps}",
        "train.batch_size=2",
        "train.validate_every=2",
        "train.checkpoint_every=2",
        "train.log_every=1",
        "train.progress=false",
        "data.example_seconds=0.5",
        "data.hop_seconds=0.5",
        "model.reverb_length=4000",
        "model.decoder.rnn_channels=16",
        "loss.fft_sizes=[512, 128]",
    ]


def test_recipes_parse():
    for path in ("recipes/ddsp_solo/config.yaml", RECIPE):
        run = load_run_config(path, ["data.path=/x"])
        assert run.task_config.model.sample_rate == 16000 and run.task_config.model.frame_rate == 250
        assert run.train.optimizer.lr == pytest.approx(3e-4) and run.train.grad_clip == 3.0
        assert run.train.lr_decay.gamma == 0.98 and run.train.lr_decay.every == 10000
        assert run.train.lr_decay.interval == "step" and not run.train.lr_decay.staircase
    with pytest.raises(ValueError, match="model.decoder.bogus"):
        load_run_config(RECIPE, ["model.decoder.bogus=1"])


def test_short_run_resume_export_and_reload(tmp_path, data_dir):
    run_dir = tmp_path / "run"
    result = Trainer.from_config(load_run_config(RECIPE, _overrides(data_dir, run_dir, 2))).fit()
    assert result.status == "completed" and result.step == 2
    # rerunning with more steps resumes at step 2
    result = Trainer.from_config(load_run_config(RECIPE, _overrides(data_dir, run_dir, 4))).fit()
    assert result.step == 4
    records = read_log(run_dir)
    train = [r for r in records if r["split"] == "train"]
    val = [r for r in records if r["split"] == "val"]
    assert [r["step"] for r in train] == [1, 2, 3, 4]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in train) and "loss/logmag" in train[0]
    assert val and "spectral_loss" in val[-1] and "loudness_l1_db" in val[-1]
    assert any(r.get("event") == "resume" for r in records)
    out = tmp_path / "exported"
    assert main(["export", str(run_dir), str(out)]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_type"] == "ddsp" and cfg["config"]["decoder"]["rnn_channels"] == 16
    model = DDSPAutoencoder.from_pretrained(out)
    assert model.loudness_mean_db is not None  # training-data statistics travel with the weights
    y = model(torch.full((1, 50), 300.0), torch.full((1, 50), -30.0))["audio"]
    assert y.shape == (1, 3200) and bool(torch.isfinite(y).all())


def test_dataset_split_by_chunks(data_dir):
    common = dict(example_seconds=0.5, hop_seconds=0.5, chunk_seconds=1.0, val_every=3)
    train = DDSPExamples(data_dir / "train", split="train", **common)
    val = DDSPExamples(data_dir / "val", split="all", **common)
    held = DDSPExamples(data_dir / "train", split="val", **common)
    assert len(train) == 4 * 2 and len(held) == 2 * 2 and len(val) == 2  # files 2 and 5 held out
    assert {i for i, _ in held.index}.isdisjoint({i for i, _ in train.index})
