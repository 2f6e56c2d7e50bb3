"""``audiokit synth notes`` and ``audiokit synth timbre-transfer``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from audiokit.cli import main
from audiokit.ddsp.model import DDSPAutoencoder, DDSPConfig, DecoderConfig
from audiokit.io import info, load, save


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ddsp_model")
    cfg = DDSPConfig(
        decoder=DecoderConfig(rnn_channels=16, ch=8, layers_per_stack=1),
        reverb_length=800,
        f0_min=80.0,
        f0_max=800.0,
    )
    torch.manual_seed(0)
    DDSPAutoencoder(cfg).save_pretrained(d)
    return d


def test_notes_without_model(tmp_path, capsys):
    out = tmp_path / "notes.wav"
    assert (
        main(
            [
                "synth",
                "notes",
                str(out),
                "--f0",
                "A4,m81,660",
                "--duration",
                "0.4,0.2,0.4",
                "--vibrato-cents",
                "10",
            ]
        )
        == 0
    )
    wav, sr = load(out)
    assert sr == 16000 and wav.shape == (1, int(1.0 * 250) * 64)
    seg = wav[0, 1600:5600].double().numpy()  # inside the first note
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size)))
    assert abs(np.argmax(spec) * sr / seg.size - 440.0) < 8.0
    assert "wrote" in capsys.readouterr().out


def test_notes_bad_input(tmp_path, capsys):
    assert main(["synth", "notes", str(tmp_path / "x.wav"), "--f0", "H9"]) == 2
    assert "bad note" in capsys.readouterr().err
    assert main(["synth", "notes", str(tmp_path / "x.wav"), "--f0", "A4,B4", "--duration", "1,2,3"]) == 2
    assert main(["synth", "notes", str(tmp_path / "x.wav"), "--f0", "9000"]) == 2
    assert (
        main(["synth", "notes", str(tmp_path / "x.wav"), "--f0", "A4", "--model", str(tmp_path / "none")])
        == 2
    )
    assert not (tmp_path / "x.wav").exists()


def test_notes_with_model(tmp_path, model_dir):
    out = tmp_path / "m.wav"
    assert (
        main(["synth", "notes", str(out), "--f0", "C4,E4", "--duration", "0.25", "--model", str(model_dir)])
        == 0
    )
    assert info(out).frames == 2 * int(0.25 * 250) * 64


def _tone(freq, sr=16000, seconds=0.5, channels=1):
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * freq * t)
    return torch.from_numpy(np.stack([x] * channels)).float()


def test_timbre_transfer_file_and_errors(tmp_path, model_dir, capsys):
    src = tmp_path / "in.wav"
    save(src, _tone(220, sr=22050), 22050)
    out = tmp_path / "out" / "o.wav"
    assert (
        main(
            [
                "synth",
                "timbre-transfer",
                str(src),
                str(out),
                "--model",
                str(model_dir),
                "--pitch-shift",
                "-12",
            ]
        )
        == 0
    )
    meta = info(out)
    assert meta.sample_rate == 16000 and meta.frames > 0
    stereo = tmp_path / "st.wav"
    save(stereo, _tone(220, channels=2), 16000)
    capsys.readouterr()
    assert (
        main(["synth", "timbre-transfer", str(stereo), str(tmp_path / "s.wav"), "--model", str(model_dir)])
        == 2
    )
    assert "mono" in capsys.readouterr().err
    assert (
        main(
            [
                "synth",
                "timbre-transfer",
                str(stereo),
                str(tmp_path / "s.wav"),
                "--model",
                str(model_dir),
                "--mix-down",
            ]
        )
        == 0
    )
    assert (
        main(
            ["synth", "timbre-transfer", str(src), str(tmp_path / "z.wav"), "--model", str(tmp_path / "nope")]
        )
        == 2
    )
    assert (
        main(
            [
                "synth",
                "timbre-transfer",
                str(tmp_path / "missing.wav"),
                str(tmp_path / "z.wav"),
                "--model",
                str(model_dir),
            ]
        )
        == 2
    )


def test_timbre_transfer_folder_survives_bad_files_and_resumes(tmp_path, model_dir, capsys):
    src = tmp_path / "in"
    save(src / "a.wav", _tone(200), 16000)
    save(src / "sub" / "b.flac", _tone(300), 16000)
    (src / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")
    out = tmp_path / "out"
    args = ["synth", "timbre-transfer", str(src), str(out), "--model", str(model_dir), "--no-progress"]
    assert main(args) == 1
    assert (out / "a.wav").exists() and (out / "sub" / "b.wav").exists() and not (out / "bad.wav").exists()
    recs = [json.loads(line) for line in open(out / "manifest.jsonl")]
    assert {r["key"]: r["status"] for r in recs} == {"a.wav": "ok", "sub/b.wav": "ok", "bad.wav": "error"}
    capsys.readouterr()
    assert main(args) == 1  # rerun: the two good files are skipped, the bad one fails again
    assert "2 skipped" in capsys.readouterr().out
