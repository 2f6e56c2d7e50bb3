"""``audiokit vocode``: wavs and .npy mels in, resumable, bad files reported and skipped."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from audiokit.assets import speech_files
from audiokit.batch import MANIFEST_NAME
from audiokit.cli import main
from audiokit.io import info, load, save
from audiokit.vocoders import APNet, APNet2, APNet2Config, APNetConfig

SMALL = APNetConfig(channels=8, resblock_kernel_sizes=(3,), resblock_dilations=((1, 3),))


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def tiny_ckpt(tmp_path):
    model = APNet(SMALL).fold_weight_norm()
    with torch.no_grad():
        model.ASP_output_conv.weight.mul_(0.1)
        model.ASP_output_conv.bias.fill_(-3.0)  # quiet output: no clipping at the PCM_16 write
    model.save_pretrained(tmp_path / "ckpt")
    return tmp_path / "ckpt", model


def _inputs(tmp_path, n_mels=80):
    src = tmp_path / "in"
    wav, sr = load(speech_files(16000)[0])
    save(src / "a" / "speech.wav", wav[:, : sr // 2], sr)
    save(src / "stereo44k.flac", torch.randn(2, 22050) * 0.05, 44100)  # downmixed and resampled
    np.save(src / "mel.npy", np.random.randn(n_mels, 30).astype(np.float32) - 5)
    np.save(src / "official_layout.npy", np.random.randn(1, 25, n_mels).astype(np.float32) - 5)
    (src / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    save(src / "short.wav", torch.zeros(1, 100), 16000)
    np.save(src / "bad.npy", np.zeros((3, 3), dtype=np.float32))
    return src


def test_vocode_folder(tmp_path, tiny_ckpt, capsys):
    ckpt, model = tiny_ckpt
    src, out = _inputs(tmp_path), tmp_path / "out"
    args = ["vocode", str(src), str(out), "--checkpoint", str(ckpt), "--no-progress", "--precision", "fp32"]
    assert main(args) == 1  # three bad files, the rest done
    printed = capsys.readouterr()
    text = printed.err  # failed items on stderr
    assert "4 done" in printed.out and "3 failed" in printed.out
    for name in ("broken.wav", "short.wav", "bad.npy"):
        assert name in text
    assert "too short" in text and "expected a log-mel of shape (80, N)" in text
    i = info(out / "a" / "speech.wav")
    assert i.sample_rate == 16000 and i.channels == 1 and i.frames == 80 * (1 + 8000 // 80 - 1)
    assert info(out / "stereo44k.wav").frames == 80 * (22050 * 16000 // 44100 // 80)
    assert info(out / "mel.wav").frames == 80 * 29
    assert info(out / "official_layout.wav").frames == 80 * 24
    # the file content is the model's synthesis of the model's mel
    wav, _ = load(src / "a" / "speech.wav")
    expected = model.synthesize(model.mel(wav[0]), dtype=torch.float32)[0]
    got, _ = load(out / "a" / "speech.wav")
    assert float((got[0] - expected).abs().max()) < 2 / 32768  # PCM_16 rounding
    assert not [p for p in out.rglob("*.tmp*")]  # atomic writes leave no temporaries
    records = [json.loads(line) for line in (out / MANIFEST_NAME).read_text().splitlines()]
    assert {r["status"] for r in records} == {"ok", "error"} and records[0]["model"] == "apnet"
    # rerun: done files are skipped, failures retried (and fail again)
    assert main(args) == 1
    assert "0 done, 4 skipped" in capsys.readouterr().out
    assert main(args + ["--force", "--precision", "bf16"]) == 1
    assert "4 done" in capsys.readouterr().out


def test_vocode_official_checkpoint_and_errors(tmp_path, capsys):
    cfg = APNet2Config(dim=8, intermediate_dim=16, num_layers=1)
    torch.save({"generator": APNet2(cfg).state_dict()}, tmp_path / "g_00001000")
    (tmp_path / "config.json").write_text(json.dumps({**cfg.to_dict()}))
    src = tmp_path / "in"
    np.save(src.mkdir() or src / "m.npy", np.random.randn(80, 12).astype(np.float32) - 5)
    base = ["vocode", str(src), str(tmp_path / "out"), "--checkpoint", str(tmp_path / "g_00001000")]
    assert main(base + ["--no-progress"]) == 2
    assert "needs the model type" in capsys.readouterr().err
    conf = ["--config", str(tmp_path / "config.json"), "--no-progress"]
    assert main(base + ["--model", "apnet2", *conf]) == 0
    assert info(tmp_path / "out" / "m.wav").sample_rate == 22050
    capsys.readouterr()
    assert main(base + ["--model", "apnet", "--no-progress"]) == 2  # wrong architecture: keys are listed
    err = capsys.readouterr().err
    assert "does not match the model" in err and "missing" in err and err.count("\n") == 1
    assert main(["vocode", str(src), str(tmp_path / "o2"), "--checkpoint", str(tmp_path / "nope")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
