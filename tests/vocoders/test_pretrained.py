"""The bundled tiny APNet: it loads, its model card numbers are reproducible; the demo and ``vocode``
run with the default model."""

from __future__ import annotations

import json

import pytest
import torch

from audiokit.assets import PRETRAINED_DIR, speech_files
from audiokit.cli import main
from audiokit.io import load
from audiokit.vocoders import APNet, SpectralVocoder
from audiokit.vocoders.evaluation import evaluate_resynthesis

TINY = PRETRAINED_DIR / "apnet_tiny"


@pytest.fixture(scope="module")
def tiny():
    return SpectralVocoder.from_pretrained(TINY)


def test_bundled_model_loads(tiny):
    assert isinstance(tiny, APNet) and tiny.sample_rate == 16000 and not tiny.weight_normed
    card = (TINY / "MODEL_CARD.md").read_text()
    assert "Griffin-Lim" in card and "PESQ" in card


def test_model_card_numbers_are_reproducible(tiny):
    """Re-measure the bundled-clip row of metrics.json (the model card's numbers)."""
    measured = json.loads((TINY / "metrics.json").read_text())
    row = measured["bundled clips (audiokit/assets/speech)"]
    clips = [(p.stem, load(p, sr=16000, mono=True)[0][0]) for p in speech_files(16000)]
    s = evaluate_resynthesis(tiny, clips, names=("pesq", "stoi", "lsd"), gl_iters=32)
    for which, ours in (("apnet", s.mean("vocoder")), ("griffin_lim", s.mean("griffin_lim"))):
        assert ours["pesq"] == pytest.approx(row[which]["pesq"], abs=0.05)
        assert ours["stoi"] == pytest.approx(row[which]["stoi"], abs=0.01)
        assert ours["lsd"] == pytest.approx(row[which]["lsd"], abs=0.02)


def test_demo_vocoder_step(tmp_path):
    assert main(["demo", str(tmp_path / "demo"), "--only", "vocoder", "--fast"]) == 0
    summary = (tmp_path / "demo" / "summary.md").read_text()
    assert "Vocoder" in summary and "Step failed" not in summary and "Griffin-Lim" in summary
    files = {p.name for p in (tmp_path / "demo" / "vocoder").iterdir()}
    assert {"slt_16k_apnet.wav", "slt_16k_griffinlim.wav", "slt_16k.png"} <= files


def test_vocode_cli_default_checkpoint(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    wav, sr = load(speech_files(16000)[0])
    from audiokit.io import save

    save(src / "a.wav", wav[:, : sr // 2], sr)
    assert main(["vocode", str(src), str(tmp_path / "out"), "--no-progress"]) == 0
    out, _ = load(tmp_path / "out" / "a.wav")
    assert out.shape[-1] == 80 * (sr // 2 // 80) and torch.isfinite(out).all()
    assert main(["vocode", str(src), str(tmp_path / "o2"), "--model", "apnet2"]) == 2
    assert "bundled default model is an APNet" in capsys.readouterr().err
