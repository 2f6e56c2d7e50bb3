"""``audiokit bwe``: folders, rates, channels, subtypes, resume, bad files, model selection."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.batch import MANIFEST_NAME
from audiokit.bwe import APBWE, PRESETS, APBWEConfig
from audiokit.cli import main
from audiokit.cli.bwe import PRESET_NAMES, bundled_model_dir

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("bwe_model") / "m"
    APBWE(APBWEConfig.preset("8k_16k").replace(channels=16, layers=2)).save_pretrained(path)
    return path


@pytest.fixture()
def in_dir(tmp_path):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    sf.write(d / "a.wav", 0.3 * rng.standard_normal(8000).astype(np.float32), 8000, subtype="PCM_16")
    sf.write(d / "sub" / "b.flac", 0.3 * rng.standard_normal((12000, 2)).astype(np.float32), 16000, "PCM_24")
    sf.write(d / "c.wav", 0.3 * rng.standard_normal(11025).astype(np.float32), 22050, subtype="FLOAT")
    (d / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    return d


def test_preset_names_match_library():
    assert PRESET_NAMES == tuple(PRESETS)


def test_folder_extension_resume_and_bad_file(in_dir, tmp_path, model_dir, capsys):
    out = tmp_path / "out"
    args = ["bwe", str(in_dir), str(out), "--checkpoint", str(model_dir), "--no-progress"]
    args += ["--precision", "fp32"]
    assert main(args) == 1  # one bad file: exit 1, the rest done
    printed = capsys.readouterr()
    assert "3 done" in printed.out and "1 failed" in printed.out
    assert "failed: broken.wav" in printed.err  # failed items on stderr
    a = sf.info(out / "a.wav")
    assert (a.samplerate, a.frames, a.channels, a.subtype) == (16000, 16000, 1, "PCM_16")
    b = sf.info(out / "sub" / "b.flac")  # stereo kept, duration kept, PCM_24 kept
    assert (b.samplerate, b.frames, b.channels, b.subtype) == (16000, 12000, 2, "PCM_24")
    c = sf.info(out / "c.wav")  # 22.05 kHz goes through 8 kHz
    assert (c.samplerate, c.frames, c.subtype) == (16000, 8000, "FLOAT")
    # channels were extended independently and written in the right orientation
    stereo, _ = sf.read(out / "sub" / "b.flac", dtype="float32")
    src, _ = sf.read(in_dir / "sub" / "b.flac", dtype="float32")
    model = APBWE.from_pretrained(model_dir).fuse("fp32")
    ref = model.extend(torch.from_numpy(src.T.copy()), 16000).numpy()
    assert np.abs(stereo.T - ref).max() < 2**-22 * 8  # PCM_24 quantisation
    records = [json.loads(line) for line in (out / MANIFEST_NAME).read_text().splitlines()]
    assert {r["status"] for r in records} == {"ok", "error"}
    # rerun: finished files are skipped, the bad one is retried
    mtime = (out / "a.wav").stat().st_mtime_ns
    assert main([*args, "--subtype", "PCM_16"]) == 2  # other settings: refused, nothing redone
    assert 'subtype: null -> "PCM_16"' in capsys.readouterr().err
    assert main(args) == 1
    assert "3 skipped" in capsys.readouterr().out
    assert (out / "a.wav").stat().st_mtime_ns == mtime
    assert not list(out.rglob(".*.tmp*"))  # no temporary files left behind


def test_precisions_and_subtype(in_dir, tmp_path, model_dir):
    (in_dir / "broken.wav").unlink()
    outs = {}
    for prec in ("reference", "fp32", "bf16"):
        out = tmp_path / prec
        args = ["bwe", str(in_dir), str(out), "--checkpoint", str(model_dir), "--precision", prec]
        assert main([*args, "--subtype", "FLOAT", "--no-progress"]) == 1  # FLOAT is not valid for flac
        outs[prec], _ = sf.read(out / "a.wav", dtype="float32")
        assert sf.info(out / "a.wav").subtype == "FLOAT"
        assert not (out / "sub" / "b.flac").exists()
    assert np.abs(outs["fp32"] - outs["reference"]).max() < 1e-5
    snr = 10 * np.log10(np.sum(outs["fp32"] ** 2) / np.sum((outs["bf16"] - outs["fp32"]) ** 2))
    assert snr > 20


def test_model_selection_errors(in_dir, tmp_path, model_dir, capsys):
    out = str(tmp_path / "o")
    assert main(["bwe", str(in_dir), out, "--preset", "8k_48k"]) == 2
    err = capsys.readouterr().err
    assert "no bundled model for preset 8k_48k" in err and "--checkpoint" in err
    assert main(["bwe", str(in_dir), out, "--checkpoint", str(tmp_path / "nope")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    assert main(["bwe", str(in_dir), out, "--checkpoint", str(model_dir), "--preset", "4k_16k"]) == 2
    assert "holds a 8k_16k model, not 4k_16k" in capsys.readouterr().err
    bad = tmp_path / "g_bad"
    torch.save({"generator": {"conv_pre_mag.weight": torch.zeros(1)}}, bad)
    assert main(["bwe", str(in_dir), out, "--checkpoint", str(bad)]) == 2
    assert "missing 161 key(s)" in capsys.readouterr().err
    assert main(["bwe", str(tmp_path / "none"), out, "--checkpoint", str(model_dir)]) == 2
    assert main(["bwe", str(in_dir), out, "--checkpoint", str(model_dir), "--chunk-frames", "0"]) == 2


@pytest.mark.filterwarnings("ignore:.*exceeds full scale")  # random weights
def test_official_checkpoint_file(in_dir, tmp_path, capsys):
    """An official generator file: the preset gives the rates, the size is the official one."""
    for f in ("broken.wav", "c.wav", "sub/b.flac"):
        (in_dir / f).unlink()
    torch.manual_seed(1)
    small = APBWE(APBWEConfig.preset("12k_48k").replace(channels=16, layers=2))
    torch.save({"generator": small.state_dict()}, tmp_path / "g_small")
    args = ["bwe", str(in_dir), str(tmp_path / "o"), "--preset", "12k_48k", "--no-progress"]
    assert main([*args, "--checkpoint", str(tmp_path / "g_small")]) == 2
    assert "conv_pre_mag.weight: checkpoint (16, 513, 7) vs model (512, 513, 7)" in capsys.readouterr().err
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in APBWE(PRESETS["12k_48k"]).state_dict().items()}
    from tests.bwe.seeded import seeded_state_dict

    torch.save({"generator": seeded_state_dict(shapes)}, tmp_path / "g_12kto48k")
    assert main([*args, "--checkpoint", str(tmp_path / "g_12kto48k")]) == 0
    info = sf.info(tmp_path / "o" / "a.wav")
    assert (info.samplerate, info.frames) == (48000, 48000)  # 1 s at 8 kHz -> 1 s at 48 kHz


def test_default_model_is_the_bundled_one(in_dir, tmp_path):
    (in_dir / "broken.wav").unlink()
    if not (bundled_model_dir() / "model.safetensors").exists():
        pytest.fail(f"the bundled default model {bundled_model_dir()} is missing")
    assert main(["bwe", str(in_dir), str(tmp_path / "o"), "--no-progress"]) == 0
    assert sf.info(tmp_path / "o" / "a.wav").samplerate == 16000


def test_eval_full_high_and_low_band_lsd(tmp_path, speech16k, capsys):
    """``audiokit eval`` scores a bandwidth extension: full-band, high-band and low-band LSD."""
    from audiokit.bwe import simulate_narrowband
    from audiokit.io import save
    from audiokit.metrics import lsd

    wav, sr = speech16k
    nb = simulate_narrowband(wav, sr, 8000)
    save(tmp_path / "ref" / "x.wav", wav, sr, subtype="FLOAT")
    save(tmp_path / "deg" / "x.wav", nb, sr, subtype="FLOAT")
    out = tmp_path / "r.csv"
    args = ["eval", str(tmp_path / "ref"), str(tmp_path / "deg"), "--metrics", "lsd,lsd_hf,lsd_lf"]
    assert main([*args, "--out", str(out), "--no-progress"]) == 2  # the band metrics need the cutoff
    assert "needs --cutoff-hz" in capsys.readouterr().err
    assert main([*args, "--cutoff-hz", "4000", "--out", str(out), "--no-progress"]) == 0
    import csv

    row = next(csv.DictReader(open(out)))
    full, hf, lf = float(row["lsd"]), float(row["lsd_hf"]), float(row["lsd_lf"])
    assert full == pytest.approx(lsd(wav, nb), rel=1e-4)
    assert hf == pytest.approx(lsd(wav, nb, sr, band=(4000, 8000)), rel=1e-4)
    assert lf == pytest.approx(lsd(wav, nb, sr, band=(0, 4000)), rel=1e-4)
    assert hf > full > 4 * lf  # the narrowband input lost its upper band only


def test_demo_step(tmp_path):
    assert main(["demo", str(tmp_path / "demo"), "--only", "bwe", "--fast"]) == 0
    summary = (tmp_path / "demo" / "summary.md").read_text()
    assert "Bandwidth extension" in summary and "Step failed" not in summary
    assert f"AP-BWE ({bundled_model_dir().name})" in summary and "sinc upsampling" in summary
    pngs = list((tmp_path / "demo" / "bwe").glob("*.png"))
    assert pngs and sf.info(next((tmp_path / "demo" / "bwe").glob("*_ap_bwe_16k.wav"))).samplerate == 16000


def test_keep_low_band_flag(in_dir, tmp_path, model_dir):
    (in_dir / "broken.wav").unlink()
    outs = {}
    for flag in ("auto", "yes", "no"):
        out = tmp_path / flag
        args = ["bwe", str(in_dir), str(out), "--checkpoint", str(model_dir), "--keep-low-band", flag]
        assert main([*args, "--no-progress"]) == 0
        outs[flag], _ = sf.read(out / "a.wav", dtype="float32")
    assert np.array_equal(outs["auto"], outs["no"])  # this model's config keeps it off
    assert not np.array_equal(outs["yes"], outs["no"])
