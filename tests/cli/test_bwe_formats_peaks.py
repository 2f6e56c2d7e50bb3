"""``audiokit bwe``: mp3 inputs give wav outputs (issue 14, row 13) and outputs above full scale follow a
stated peak policy, reported once per batch instead of a warning per file (row 20)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import soundfile as sf

from audiokit.assets import speech_files
from audiokit.batch import MANIFEST_NAME
from audiokit.bwe import APBWE
from audiokit.cli import main
from audiokit.cli.bwe import bundled_model_dir
from audiokit.io import load

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model():
    return APBWE.from_pretrained(bundled_model_dir()).fuse("fp32")


@pytest.fixture(scope="module")
def loud_speech(tmp_path_factory):
    """The bundled 16 kHz clips (1.5 s) peak-normalised to full scale, as many recordings are, in PCM_16."""
    d = tmp_path_factory.mktemp("loud")
    for f in speech_files(16000):
        wav, sr = load(f)
        wav = wav[:, : 3 * sr // 2]
        sf.write(d / f.name, (wav / wav.abs().max() * 0.9999).T.numpy(), sr, subtype="PCM_16")
    return d


def test_mp3_input_gives_a_wav_output(tmp_path, model, capsys):
    wav, sr = load(speech_files(16000)[0])
    wav = wav[:, :sr]
    src = tmp_path / "in" / "s.mp3"
    src.parent.mkdir()
    sf.write(src, wav.T.numpy(), sr, format="MP3")
    out = tmp_path / "out"
    assert main(["bwe", str(src.parent), str(out), "--no-progress", "--precision", "fp32"]) == 0
    assert "1 done" in capsys.readouterr().out
    info = sf.info(out / "s.wav")
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    decoded, _ = load(src)
    ref = model.extend(decoded, sr)
    got, _ = load(out / "s.wav")
    assert got.shape == ref.shape
    assert float((got - ref).abs().max()) < 2e-4  # PCM_16 quantisation of the same output
    record = json.loads((out / MANIFEST_NAME).read_text().splitlines()[-1])
    assert record["status"] == "ok" and record["subtype"] == "PCM_16"


def _refs(model, folder):
    refs = {}
    for f in sorted(folder.iterdir()):
        x, sr = load(f)
        refs[f.name] = model.extend(x, sr)[0].numpy()
    return refs


def _run_quietly(argv):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(argv)
    return code, [str(w.message) for w in caught]


def test_default_peak_policy_limits_and_reports_once(loud_speech, tmp_path, model, capsys):
    refs = _refs(model, loud_speech)
    over = sorted(k for k, v in refs.items() if np.abs(v).max() > 0.999)
    assert over, "the test needs at least one output above full scale"
    out = tmp_path / "out"
    code, warned = _run_quietly(["bwe", str(loud_speech), str(out), "--no-progress", "--precision", "fp32"])
    assert code == 0 and warned == []
    printed = capsys.readouterr().out
    lines = [ln for ln in printed.splitlines() if "full scale" in ln]
    assert len(lines) == 1 and f"{len(over)} of {len(refs)} outputs" in lines[0] and "limit" in lines[0]
    records = {json.loads(ln)["key"]: json.loads(ln) for ln in (out / MANIFEST_NAME).read_text().splitlines()}
    for name, ref in refs.items():
        got, _ = sf.read(out / name, dtype="float32")
        peak = float(np.abs(ref).max())
        gain = 0.999 / peak if peak > 0.999 else 1.0  # one gain for the whole file, not clipping
        assert np.abs(got - ref * gain).max() < 2e-4
        assert records[name]["peak"] == pytest.approx(peak, abs=1e-5)
        assert ("peak_gain_db" in records[name]) == (name in over)


def test_clip_and_none_policies(loud_speech, tmp_path, model, capsys):
    refs = _refs(model, loud_speech)
    out = tmp_path / "clip"
    code, warned = _run_quietly(
        ["bwe", str(loud_speech), str(out), "--no-progress", "--precision", "fp32", "--peak", "clip"]
    )
    assert code == 0 and warned == []
    assert "clipped" in capsys.readouterr().out
    for name, ref in refs.items():
        got, _ = sf.read(out / name, dtype="float32")
        assert np.abs(got - np.clip(ref, -0.999, 0.999)).max() < 2e-4
    out = tmp_path / "none"  # float outputs keep the overshoot
    argv = [
        "bwe",
        str(loud_speech),
        str(out),
        "--no-progress",
        "--precision",
        "fp32",
        "--peak",
        "none",
        "--subtype",
        "FLOAT",
    ]
    code, warned = _run_quietly(argv)
    assert code == 0 and warned == []
    for name, ref in refs.items():
        got, _ = sf.read(out / name, dtype="float32")
        assert np.abs(got - ref).max() < 1e-6
    assert "kept (float outputs)" in capsys.readouterr().out
    out = tmp_path / "none16"  # integer outputs of --peak none are clipped by the format: said once
    code, warned = _run_quietly(
        ["bwe", str(loud_speech), str(out), "--no-progress", "--precision", "fp32", "--peak", "none"]
    )
    assert code == 0 and warned == []
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "full scale" in ln]
    assert len(lines) == 1 and "PCM_16" in lines[0]
