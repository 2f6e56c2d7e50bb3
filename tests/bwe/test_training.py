"""AP-BWE training task: published weights, narrowband hook, a few real steps, export -> load."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.bwe import APBWE, simulate_narrowband
from audiokit.bwe.training import APBWETask, APBWETrainConfig, NarrowbandSimulation
from audiokit.frontend import sinc_resample
from audiokit.train import Trainer, TrainerConfig, export_checkpoint, from_dict, load_run_config, read_log

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def speech_dir(tmp_path_factory):
    """Harmonic 'speech' with content up to 8 kHz at 16 kHz, plus one file at 22.05 kHz."""
    folder = tmp_path_factory.mktemp("bwe_speech")
    rng = np.random.default_rng(0)
    for i in range(6):
        sr = 22050 if i == 5 else 16000
        t = np.arange(int(sr * rng.uniform(0.4, 0.7))) / sr
        f0 = rng.uniform(100, 250)
        wav = sum(0.4 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, int(7500 / f0)))
        sf.write(folder / f"u{i}.wav", (0.5 * wav / np.abs(wav).max()).astype(np.float32), sr)
    return folder


def test_published_defaults():
    cfg = APBWETrainConfig()
    assert (cfg.data.sample_rate, cfg.data.segment_length) == (16000, 8000)
    assert (cfg.stft.n_fft, cfg.stft.hop_length, cfg.stft.win_length, cfg.stft.log_eps) == (
        1024,
        80,
        320,
        1e-4,
    )
    loss = cfg.loss
    assert (loss.amplitude, loss.phase, loss.complex, loss.consistency) == (45.0, 100.0, 90.0, 90.0)
    assert (loss.real_imag, loss.mel, loss.adversarial, loss.phase_form) == (0.0, 0.0, "hinge", "abs")
    assert loss.generator_grad_clip == loss.discriminator_grad_clip == 10.0
    assert list(cfg.discriminators) == ["mrad", "mrpd", "mpd"]
    assert [(d.weight, d.fm_weight) for d in cfg.discriminators.values()] == [
        (0.1, 0.1),
        (0.1, 0.1),
        (1.0, 1.0),
    ]
    train = TrainerConfig()
    assert (train.optimizer.name, train.optimizer.lr, train.optimizer.betas) == ("adamw", 2e-4, (0.8, 0.99))
    assert (train.lr_decay.gamma, train.lr_decay.interval, train.batch_size) == (0.999, "epoch", 16)


def test_narrowband_hook_matches_official_simulation():
    hook = NarrowbandSimulation(8000, 16000)
    x = torch.randn(16000)
    out = hook(audio=x, sample_rate=16000, source=x, source_rate=16000)
    torch.testing.assert_close(out["input"], simulate_narrowband(x, 16000, 8000), atol=0, rtol=0)
    # from a 22.05 kHz source: source -> lr -> hr, not through the resampled target
    src = torch.randn(22050)
    target = sinc_resample(src, 22050, 16000)
    out = hook(audio=target, sample_rate=16000, source=src, source_rate=22050)
    ref = sinc_resample(sinc_resample(src, 22050, 8000), 8000, 16000)[: target.numel()]
    torch.testing.assert_close(out["input"], ref, atol=0, rtol=0)
    with pytest.raises(ValueError, match="target rate"):
        hook(audio=x, sample_rate=48000, source=x, source_rate=48000)


@pytest.mark.parametrize(
    "override,match",
    [
        ({"data": {"sample_rate": 48000}}, "data.sample_rate"),
        ({"stft": {"hop_length": 160}}, "config key 'stft'"),
        ({"data": {"segment_length": 8001}}, "segment_length"),
        ({"stft": {"log_eps": 1e-5}}, "stft.log_eps' and 'model.log_eps"),
    ],
)
def test_config_consistency(override, match):
    with pytest.raises(ValueError, match=match):
        APBWETask(from_dict(APBWETrainConfig, override), TrainerConfig(run_dir="x"))


def _tiny(speech_dir, run_dir, **train):
    cfg = from_dict(
        APBWETrainConfig,
        {
            "data": {"train": {"path": str(speech_dir)}, "val_holdout": 1, "segment_length": 2400},
            "model": {"channels": 16, "layers": 2},
            "discriminators": {
                "mrad": {"weight": 0.1, "fm_weight": 0.1, "options": {"channels": 4}},
                "mrpd": {"weight": 0.1, "fm_weight": 0.1, "options": {"channels": 4}},
                "mpd": {
                    "options": {"include_first_fmap": False, "channels": [4, 4, 4, 4, 4], "periods": [2, 3]}
                },
            },
        },
    )
    settings = dict(run_dir=str(run_dir), batch_size=2, num_workers=0, log_every=1, progress=False)
    settings.update(tensorboard=False, val_metrics=["lsd"], checkpoint_every=0, optimizer={"lr": 1e-3})
    settings.update(train)
    return APBWETask(cfg, from_dict(TrainerConfig, settings))


def test_training_steps_and_export_round_trip(speech_dir, tmp_path):
    task = _tiny(speech_dir, tmp_path / "run", max_steps=3, validate_every=3)
    item = task.train_dataset()[0]
    assert item["audio"].shape == item["input"].shape == (2400,)
    assert Trainer(task).fit().status == "completed"
    logs = read_log(tmp_path / "run", "train")
    keys = {"amplitude", "phase_ip", "phase_gd", "phase_ptd", "complex", "consistency", "loss_g", "loss_d"}
    keys |= {"adv/mpd", "adv/mrad", "adv/mrpd", "fm/mpd", "d/mrpd", "grad_norm/generator"}
    assert len(logs) == 3 and all(keys <= set(r) and all(math.isfinite(r[k]) for k in keys) for r in logs)
    assert "real" not in logs[0] and "mel" not in logs[0]  # weight 0 in AP-BWE
    val = read_log(tmp_path / "run", "val")[-1]
    assert "lsd" in val and math.isfinite(val["lsd"])

    export_checkpoint(tmp_path / "run", tmp_path / "export")
    model = APBWE.from_pretrained(tmp_path / "export")
    assert (model.config.channels, model.config.layers) == (16, 2)
    gen = task.model("generator")
    for k, v in gen.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    y = model.extend(torch.randn(8000), 8000)
    assert y.shape == (1, 16000) and torch.isfinite(y).all()


def test_recipes_parse():
    for path in [
        "recipes/ap_bwe_tiny/config.yaml",
        "recipes/ap_bwe_vctk/8k_16k.yaml",
        "recipes/ap_bwe_vctk/24k_48k.yaml",
    ]:
        run = load_run_config(path)
        assert run.task_cls is APBWETask
        APBWETask(run.task_config, run.train)  # consistency checks pass
