"""Every numeric or enumerated CLI argument is checked before any work: one line on stderr naming
the argument, exit code 2, nothing written (issue 14, rows 16 and 17)."""

from __future__ import annotations

import pytest
import torch

from audiokit.assets import speech_files
from audiokit.cli import main
from audiokit.io import load, save

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("args")
    wav, sr = load(speech_files(16000)[0])
    save(d / "in" / "a.wav", wav[:, :sr], sr)
    save(d / "ref" / "a.wav", wav[:, :sr], sr)
    save(d / "scape.wav", wav[:, :sr].repeat(2, 1), sr)
    save(d / "maskers" / "m.wav", 0.1 * torch.randn(1, sr), sr)
    return d


# (argv with {d} for the fixture folder and {o} for a fresh output, the flag the message must name)
CASES = [
    # row 16
    ("synth notes {o}/n.wav --f0 A4 --duration inf", "--duration"),
    ("synth notes {o}/n.wav --f0 A4 --duration nan", "--duration"),
    ("synth notes {o}/n.wav --f0 A4 --duration -1", "--duration"),
    ("synth notes {o}/n.wav --f0 A4 --duration 0", "--duration"),
    ("synth notes {o}/n.wav --f0 A4 --duration 1e7", "--duration"),
    ("synth notes {o}/n.wav --f0 A4,B4 --duration 0.5,1e308", "--duration"),
    ("synth notes {o}/n.wav --f0 A4 --loudness nan", "--loudness"),
    ("synth notes {o}/n.wav --f0 A4 --glide-ms -100", "--glide-ms"),
    ("synth notes {o}/n.wav --f0 A4 --glide-ms inf", "--glide-ms"),
    ("synth notes {o}/n.wav --f0 A4 --vibrato-hz nan", "--vibrato-hz"),
    ("synth notes {o}/n.wav --f0 A4 --vibrato-cents -5", "--vibrato-cents"),
    ("synth notes {o}/n.wav --f0 A4 --sample-rate 0", "--sample-rate"),
    ("synth notes {o}/n.wav --f0 A4 --duration 100 --sample-rate 1000000000", "--duration"),
    ("synth notes {o}/n.wav --f0 nan", "--f0"),
    ("synth notes {o}/n.wav --f0 -440", "--f0"),
    ("synth timbre-transfer {d}/in {o} --model ddsp_tiny --pitch-shift nan", "--pitch-shift"),
    ("synth timbre-transfer {d}/in {o} --model ddsp_tiny --loudness-shift 1e308", "--loudness-shift"),
    ("synth timbre-transfer {d}/in {o} --model ddsp_tiny --quiet-db -3", "--quiet-db"),
    ("synth timbre-transfer {d}/in {o} --model ddsp_tiny --workers 0", "--workers"),
    ("masker mix {d}/scape.wav {d}/maskers/m.wav {o}/m.wav --gain-db 1e308", "--gain-db"),
    ("masker mix {d}/scape.wav {d}/maskers/m.wav {o}/m.wav --gain-db nan", "--gain-db"),
    (
        "masker mix {d}/scape.wav {d}/maskers/m.wav {o}/m.wav --gain-db 0 --soundscape-gain-db inf",
        "--soundscape-gain-db",
    ),
    # row 17
    ("vocode {d}/in {o} --workers -1", "--workers"),
    ("vocode {d}/in {o} --workers 0", "--workers"),
    ("vocode {d}/in {o} --threads -2", "--threads"),
    ("vocode {d}/in {o} --phase-refine -1", "--phase-refine"),
    ("vocode {d}/in {o} --phase-refine 2.5", "--phase-refine"),
    ("vocode {d}/in {o} --chunk-seconds 0.0001", "--chunk-seconds"),
    ("vocode {d}/in {o} --chunk-seconds nan", "--chunk-seconds"),
    ("vocode {d}/in {o} --chunk-seconds -1", "--chunk-seconds"),
    ("bwe {d}/in {o} --workers 0", "--workers"),
    ("bwe {d}/in {o} --threads 0", "--threads"),
    ("bwe {d}/in {o} --chunk-frames 0", "--chunk-frames"),
    ("perturb {d}/in {o} --variants 1 --constraint foo", "constraint"),
    ("perturb {d}/in {o} --variants 1 --target foo", "target"),
    ("perturb {d}/in {o} --variants 0", "--variants"),
    ("perturb {d}/in {o} --variants 1 --choose 0", "--choose"),
    ("perturb {d}/in {o} --search --target keyword:yes --budget 0", "--budget"),
    ("perturb {d}/in {o} --workers -1", "--workers"),
    ("perturb {d}/in {o} --variants 1 --seed -1", "--seed"),
    ("synth notes {o}/n.wav --f0 A4 --seed 18446744073709551616", "--seed"),
    ("eval {d}/ref {d}/in --sr 0 --out {o}/r.csv", "--sr"),
    ("eval {d}/ref {d}/in --metrics lsd_hf --cutoff-hz nan --out {o}/r.csv", "--cutoff-hz"),
    ("eval {d}/ref {d}/in --metrics lsd_hf --cutoff-hz -5 --out {o}/r.csv", "--cutoff-hz"),
    ("eval {d}/ref {d}/in --metrics ,,, --out {o}/r.csv", "--metrics"),
    ("eval {d}/ref {d}/in --workers 0 --out {o}/r.csv", "--workers"),
    ("masker rank {d}/scape.wav --maskers {d}/maskers --risk-k nan --out {o}/r.csv", "--risk-k"),
    ("masker rank {d}/scape.wav --maskers {d}/maskers --threshold inf --out {o}/r.csv", "--threshold"),
    ("masker rank {d}/scape.wav --maskers {d}/maskers --gains 0,1e308 --out {o}/r.csv", "--gains"),
    ("masker rank {d}/scape.wav --maskers {d}/maskers --gains -6:6:1e-9 --out {o}/r.csv", "-6:6:1e-9"),
    (
        "masker rank {d}/scape.wav --maskers {d}/maskers --soundscape-gain-db nan --out {o}/r.csv",
        "--soundscape-gain-db",
    ),
    ("masker rank {d}/scape.wav --maskers {d}/maskers --top -1 --out {o}/r.csv", "--top"),
]


@pytest.mark.parametrize("argv, flag", CASES)
def test_bad_argument_is_one_usage_line(argv, flag, files, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(argv.format(d=files, o=out).split())
    assert code == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("audiokit ") and "error:" in err and flag in err, err
    assert "Traceback" not in captured.out + captured.err
    assert not out.exists()  # nothing written, no folder made


def test_train_device_that_does_not_exist(tmp_path, capsys):
    run_dir = tmp_path / "run"
    argv = ["train", str(ROOT / "recipes" / "apnet_tiny" / "config.yaml"), "train.device=cuda:7"]
    assert main([*argv, "train.max_steps=1", "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "train.device" in err and "cuda:7" in err, err
    assert not run_dir.exists()
    assert main([*argv[:2], "train.device=tpu", "--run-dir", str(run_dir)]) == 2
    assert "train.device" in capsys.readouterr().err


def test_good_values_still_parse():
    from audiokit.cli import build_parser

    args = build_parser().parse_args(["vocode", "a", "b", "--chunk-seconds", "0", "--workers", "2"])
    assert args.chunk_seconds == 0.0 and args.workers == 2
    args = build_parser().parse_args(["masker", "mix", "a", "b", "c", "--gain-db", "-6"])
    assert args.gain_db == -6.0
    args = build_parser().parse_args(["synth", "notes", "o.wav", "--f0", "A4", "--glide-ms", "0"])
    assert args.glide_ms == 0.0
