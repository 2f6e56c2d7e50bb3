"""APNet/APNet2 training tasks: published presets, recipes that load, a real (tiny) run under torchrun
with export to a loadable pretrained folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.train import load_run_config, read_log
from audiokit.train.gan import gan_preset
from audiokit.vocoders import APNet, SpectralVocoder
from audiokit.vocoders.training import APNet2Task, APNet2TrainConfig, APNetTask, APNetTrainConfig

ROOT = Path(__file__).resolve().parents[2]


def test_published_presets():
    a, b = APNetTrainConfig(), APNet2TrainConfig()
    assert (a.stft, a.loss, a.discriminators) == gan_preset("apnet")
    assert (b.stft, b.loss, b.discriminators) == gan_preset("apnet2")
    assert (a.data.sample_rate, a.data.segment_length) == (16000, 8000)
    assert (b.data.sample_rate, b.data.segment_length) == (22050, 8192)
    assert a.loss.adversarial == "lsgan" and set(a.discriminators) == {"mpd", "msd"}
    assert a.discriminators["mpd"].fm_weight == 2.0 and a.loss.phase_form == "cos"
    assert b.loss.adversarial == "hinge" and b.discriminators["mrd"].weight == 0.1
    assert b.loss.mel_f_max is None and a.loss.mel_f_max == 8000.0  # APNet2's mel loss is full band
    assert (a.model.sample_rate, b.model.sample_rate) == (16000, 22050)


@pytest.mark.parametrize(
    "recipe,task,sr",
    [
        ("apnet_ljspeech/apnet.yaml", APNetTask, 16000),
        ("apnet_ljspeech/apnet2.yaml", APNet2Task, 22050),
        ("apnet_tiny/config.yaml", APNetTask, 16000),
    ],
)
def test_recipes_are_valid(recipe, task, sr):
    run = load_run_config(ROOT / "recipes" / recipe)
    assert run.task_cls is task
    t = run.build()
    assert t.config.model.sample_rate == t.config.data.sample_rate == sr


def test_inconsistent_configs_are_rejected():
    cfg = APNetTrainConfig()
    cfg.data.sample_rate = 22050
    with pytest.raises(ValueError, match="data.sample_rate"):
        APNetTask(cfg)
    cfg = APNet2TrainConfig()
    cfg.stft.hop_length = 80
    with pytest.raises(ValueError, match="config key 'stft'"):
        APNet2Task(cfg)
    cfg = APNetTrainConfig()
    cfg.data.segment_length = 8001
    with pytest.raises(ValueError, match="multiple of the model.s hop"):
        APNetTask(cfg)


def _write_speechlike(folder: Path, n: int = 10, sr: int = 16000) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        t = np.arange(int(sr * rng.uniform(0.3, 0.5))) / sr
        f0 = rng.uniform(100, 250) * (1 + 0.1 * np.sin(2 * np.pi * 3 * t))
        phase = 2 * np.pi * np.cumsum(f0) / sr
        wav = sum(0.2 / k * np.sin(k * phase) for k in range(1, 12)) + 0.003 * rng.standard_normal(t.size)
        sf.write(folder / f"utt_{i:02d}.wav", wav.astype(np.float32), sr, subtype="PCM_16")
    return folder


def test_torchrun_two_ranks_train_and_export(tmp_path):
    """A tiny APNet (weight norm, MPD + MRD at reduced width) trains under torchrun with 2 gloo ranks;
    ``audiokit export`` gives a folder that loads as an APNet and vocodes."""
    data = _write_speechlike(tmp_path / "wavs")
    run = tmp_path / "run"
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(
        "task: audiokit.vocoders.training:APNetTask\n"
        "train:\n"
        f"  run_dir: {run}\n"
        "  max_steps: 3\n"
        "  batch_size: 4\n"
        "  num_workers: 0\n"
        "  log_every: 1\n"
        "  validate_every: 3\n"
        "  val_metrics: [snr]\n"
        "  tensorboard: false\n"
        "model: {channels: 8, resblock_kernel_sizes: [3], resblock_dilations: [[1, 3]]}\n"
        f"data: {{train: {{path: {data}}}, val_holdout: 2, segment_length: 1600}}\n"
        "discriminators:\n"
        "  mpd: {weight: 1.0, fm_weight: 2.0, options: {periods: [2, 3], channels: [4, 8, 8, 8, 8]}}\n"
        "  mrd: {weight: 1.0, fm_weight: 2.0, options: {resolutions: [[512, 128, 512]], channels: 4}}\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "audiokit", "train", str(cfg), "--no-progress"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    train = read_log(run, "train")
    assert [r["step"] for r in train] == [1, 2, 3]
    for key in ("amplitude", "phase_ip", "consistency", "mel", "adv/mpd", "fm/mrd", "d/mpd"):
        assert all(np.isfinite(r[key]) for r in train), key
    val = read_log(run, "val")
    assert val and "loss/amplitude" in val[-1]

    out = tmp_path / "exported"
    proc = subprocess.run(
        [sys.executable, "-m", "audiokit", "export", str(run), str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    model = SpectralVocoder.from_pretrained(out)
    assert isinstance(model, APNet) and not model.weight_normed and model.config.channels == 8
    audio = model.synthesize(torch.randn(1, 80, 21) - 5)
    assert audio.shape == (1, 80 * 20) and torch.isfinite(audio).all()
