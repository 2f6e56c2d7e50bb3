import csv

import numpy as np
import pytest
import torch

from audiokit.assets import speech_files
from audiokit.cli import main
from audiokit.io import load, save


def test_help_and_bad_usage(capsys):
    assert main(["--help"]) == 0
    assert "info" in capsys.readouterr().out
    assert main([]) == 2
    assert main(["no-such-command"]) == 2


def test_info(capsys, tmp_path):
    f = speech_files(16000)[0]
    assert main(["info", str(f)]) == 0
    out = capsys.readouterr().out
    assert "16000" in out and f.name in out
    assert main(["info", str(tmp_path / "missing.wav")]) == 2  # nothing readable
    assert "no such file" in capsys.readouterr().err
    # one bad file among good ones: the good ones are listed, the error goes to stderr, exit 1
    (tmp_path / "bad.wav").write_bytes(b"RIFF not really")
    assert main(["info", str(f), str(tmp_path / "bad.wav")]) == 1
    printed = capsys.readouterr()
    assert f.name in printed.out and "bad.wav" not in printed.out
    assert printed.err.count("\n") == 1 and "bad.wav" in printed.err


def _make_pairs(tmp_path):
    ref_dir, deg_dir = tmp_path / "ref", tmp_path / "deg"
    for f in speech_files(16000):
        wav, sr = load(f)
        save(ref_dir / "sub" / f.name, wav, sr)
        noisy = wav + 0.01 * torch.randn_like(wav)
        save(deg_dir / "sub" / f.with_suffix(".flac").name, noisy, sr)  # other extension: still paired
    save(ref_dir / "only_ref.wav", torch.zeros(1, 16000) + 0.1, 16000)
    (ref_dir / "broken.wav").write_bytes(b"RIFFxxxxWAVE")
    (deg_dir / "broken.wav").write_bytes(b"RIFFxxxxWAVE")
    return ref_dir, deg_dir


def test_eval_writes_csv_and_summary_and_survives_bad_files(tmp_path, capsys):
    ref_dir, deg_dir = _make_pairs(tmp_path)
    out = tmp_path / "res" / "results.csv"
    code = main(
        ["eval", str(ref_dir), str(deg_dir), "--metrics", "snr,lsd,stoi", "--out", str(out), "--no-progress"]
    )
    assert code == 1  # some pairs failed, but the batch finished
    rows = list(csv.DictReader(open(out)))
    status = {r["file"]: r["status"] for r in rows}
    assert status["only_ref.wav"] == "missing"
    assert status["broken.wav"] == "error"
    good = [r for r in rows if r["status"] == "ok"]
    assert len(good) == 3
    for r in good:
        assert 10 < float(r["snr"]) < 30 and 0.9 < float(r["stoi"]) <= 1.0
    summary = list(csv.DictReader(open(tmp_path / "res" / "results_summary.csv")))
    snr_mean = float(next(s for s in summary if s["metric"] == "snr")["mean"])
    assert snr_mean == pytest.approx(np.mean([float(r["snr"]) for r in good]), rel=1e-4)
    assert "2 failed or missing" in capsys.readouterr().out


def test_eval_bad_usage(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nope"), str(tmp_path)]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["eval", str(tmp_path), str(tmp_path), "--metrics", "bogus"]) == 2
    assert "unknown metric" in capsys.readouterr().err


def test_demo_fast(tmp_path):
    assert main(["demo", str(tmp_path / "demo"), "--only", "frontend", "--fast"]) == 0
    summary = (tmp_path / "demo" / "summary.md").read_text()
    assert "Frontend" in summary and "Step failed" not in summary
    assert any(p.suffix == ".png" for p in (tmp_path / "demo" / "frontend").iterdir())
    assert main(["demo", str(tmp_path / "d2"), "--only", "nope"]) == 2
