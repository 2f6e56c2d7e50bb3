"""``audiokit masker rank|mix``."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch

from audiokit.cli import main
from audiokit.io import load, save
from audiokit.soundscape import MaskerGainConfig, MaskerGainPredictor, leq_db
from audiokit.soundscape.synthetic import synth_masker, synth_soundscape

SR = 44100


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("masker_cli")
    x, _ = synth_soundscape(1.5, SR, seed=5, scene="park", level=-30.0)
    save(root / "scene.wav", x, SR)
    for i, k in enumerate(["bird", "water", "traffic", "silence"]):
        m, _ = synth_masker(k, 1.0, SR, seed=i, level=-30.0)
        save(root / "maskers" / f"{k}.wav", m, SR)
    torch.manual_seed(0)
    model = MaskerGainPredictor(
        MaskerGainConfig(hidden=16, context_layers=1, mix_layers=1, heads=2, dropout=0.0)
    )
    model.save_pretrained(root / "model")
    return root


def test_rank_writes_csv_and_prints_table(files, tmp_path, capsys):
    out = tmp_path / "ranking.csv"
    args = [
        "masker",
        "rank",
        str(files / "scene.wav"),
        "--maskers",
        str(files / "maskers"),
        "--gains",
        "-6:6:3",
    ]
    code = main([*args, "--model", str(files / "model"), "--out", str(out), "--top", "3", "--select", "risk"])
    assert code == 0
    text = capsys.readouterr().out
    assert "4 maskers x 5 gains" in text and "mean - 1*std" in text
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 20 and rows[0]["rank"] == "1"
    assert {r["masker"] for r in rows} == {"bird.wav", "water.wav", "traffic.wav", "silence.wav"}
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_rank_survives_a_bad_masker_and_caches_the_bank(files, tmp_path, capsys):
    maskers = tmp_path / "maskers"
    for f in (files / "maskers").iterdir():
        (maskers / f.name).parent.mkdir(exist_ok=True)
        (maskers / f.name).write_bytes(f.read_bytes())
    (maskers / "corrupt.wav").write_bytes(b"RIFF----WAVEfmt ")
    cache = tmp_path / "bank.safetensors"
    args = [
        "masker",
        "rank",
        str(files / "scene.wav"),
        "--maskers",
        str(maskers),
        "--model",
        str(files / "model"),
    ]
    assert main([*args, "--cache", str(cache), "--out", str(tmp_path / "a.csv")]) == 1  # one masker failed
    text = capsys.readouterr().err  # failed items on stderr
    assert "failed: corrupt.wav" in text and cache.is_file()
    stamp = cache.stat().st_mtime_ns
    assert main([*args, "--cache", str(cache), "--out", str(tmp_path / "b.csv")]) == 1
    assert cache.stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert open(tmp_path / "a.csv").read() == open(tmp_path / "b.csv").read()
    (maskers / "corrupt.wav").unlink()
    assert main([*args, "--cache", str(cache)]) == 0  # sources changed: rebuilt
    assert cache.stat().st_mtime_ns != stamp


@pytest.mark.parametrize(
    "extra,match",
    [
        (["--gains", "1:0:1"], "bad range"),
        (["--model", "/nonexistent/model"], "no such model folder"),
        (["--maskers", "/nonexistent"], "no such directory"),
    ],
)
def test_rank_usage_errors(files, capsys, extra, match):
    base = [
        "masker",
        "rank",
        str(files / "scene.wav"),
        "--maskers",
        str(files / "maskers"),
        "--model",
        str(files / "model"),
    ]
    assert main(base + extra) == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1


def test_mix_digital_and_smr(files, tmp_path, capsys):
    out = tmp_path / "mix.wav"
    assert (
        main(
            [
                "masker",
                "mix",
                str(files / "scene.wav"),
                str(files / "maskers" / "bird.wav"),
                str(out),
                "--gain-db",
                "-6",
            ]
        )
        == 0
    )
    y, sr = load(out)
    s, _ = load(files / "scene.wav")
    m, _ = load(files / "maskers" / "bird.wav")
    assert sr == SR and y.shape == s.shape
    looped = torch.cat([m, m], dim=1)[:, : s.shape[1]]
    expected = s + 10 ** (-6 / 20) * looped  # mono masker on both ears, looped to the scene's length
    assert torch.allclose(y, expected, atol=2 / 32768)
    assert (
        main(
            [
                "masker",
                "mix",
                str(files / "scene.wav"),
                str(files / "maskers" / "bird.wav"),
                str(out),
                "--gain-db",
                "0",
            ]
        )
        == 2
    )
    assert "exists" in capsys.readouterr().err
    smr_out = tmp_path / "smr.wav"
    args = ["masker", "mix", str(files / "scene.wav"), str(files / "maskers" / "water.wav"), str(smr_out)]
    assert main([*args, "--gain-db", "3", "--gain-reference", "smr"]) == 0
    y, _ = load(smr_out)
    w, _ = load(files / "maskers" / "water.wav")
    part = (y - s).numpy()
    assert leq_db(s.numpy(), SR) - leq_db(part, SR) == pytest.approx(3.0, abs=0.1)
    assert not math.isnan(float(np.abs(w.numpy()).max()))
    assert main([*args[:-1], str(tmp_path / "x.wav"), "--gain-db", "0", "--gain-reference", "smr"]) == 0
    silent = [
        "masker",
        "mix",
        str(files / "scene.wav"),
        str(files / "maskers" / "silence.wav"),
        str(tmp_path / "s.wav"),
    ]
    assert main([*silent, "--gain-db", "3", "--gain-reference", "smr"]) == 2
    assert "silent masker" in capsys.readouterr().err


def test_mix_rescale(files, tmp_path, capsys):
    out = tmp_path / "loud.wav"
    args = [
        "masker",
        "mix",
        str(files / "scene.wav"),
        str(files / "maskers" / "traffic.wav"),
        str(out),
        "--gain-db",
        "40",
    ]
    assert main([*args, "--rescale"]) == 0
    y, _ = load(out)
    assert float(y.abs().max()) == pytest.approx(0.99, abs=1e-3)
    assert main([*args, "--force"]) == 0
    assert "clipped" in capsys.readouterr().out


def test_default_model_and_demo_step(files, tmp_path, capsys):
    args = ["masker", "rank", str(files / "scene.wav"), "--maskers", str(files / "maskers"), "--top", "2"]
    assert main(args) == 0  # the bundled masker_tiny
    assert "ranked by mean" in capsys.readouterr().out
    assert main(["demo", str(tmp_path / "demo"), "--only", "masker", "--fast"]) == 0
    summary = (tmp_path / "demo" / "summary.md").read_text()
    assert "Top candidates" in summary and "Step failed" not in summary
    out = tmp_path / "demo" / "masker"
    assert (out / "pleasantness_vs_smr.png").is_file() and (out / "best_mix.wav").is_file()
    assert len(list(csv.DictReader(open(out / "ranking.csv")))) == 5 * 13


def test_rank_stream_on_equals_off(files, tmp_path, monkeypatch):
    """``--stream on`` (0.3 s blocks): the same ranking as the whole-file path; the gains and mean
    predictions agree to the framed A-weighted level's accuracy."""
    import audiokit.cli._common as common
    import audiokit.soundscape as soundscape

    monkeypatch.setattr(common, "STREAM_BLOCK_SECONDS", 0.3)
    calls = []
    real = soundscape.rank_maskers_stream

    def counting(blocks, *a, **kw):
        blocks = list(blocks)
        calls.append(len(blocks))
        return real(iter(blocks), *a, **kw)

    monkeypatch.setattr(soundscape, "rank_maskers_stream", counting)
    rows = {}
    for mode in ("on", "off"):
        out = tmp_path / f"{mode}.csv"
        args = ["masker", "rank", str(files / "scene.wav"), "--maskers", str(files / "maskers")]
        argv = [*args, "--gain-reference", "smr", "--model", str(files / "model"), "--out", str(out)]
        assert main([*argv, "--stream", mode]) == 0
        rows[mode] = list(csv.DictReader(open(out)))
    assert calls == [5]  # only --stream on streamed, in 0.3 s blocks
    assert [(r["masker"], r["smr_db"]) for r in rows["on"]] == [
        (r["masker"], r["smr_db"]) for r in rows["off"]
    ]
    for a, b in zip(rows["on"], rows["off"]):
        assert float(a["gain_db"]) == pytest.approx(float(b["gain_db"]), abs=0.05)
        assert float(a["mean"]) == pytest.approx(float(b["mean"]), abs=2e-3)
