"""The default models of ``vocode``, ``bwe`` and ``demo`` (trained on real recorded speech): their
``metrics.json`` rows for the bundled held-out real clips are re-measured here, and on those clips they
do better than the synthetic-speech tiny models they replaced, measured side by side."""

from __future__ import annotations

import json

import pytest
import torch

from audiokit import metrics
from audiokit.assets import PRETRAINED_DIR, real_speech_files
from audiokit.cli.bwe import bundled_model_dir
from audiokit.cli.vocode import default_checkpoint
from audiokit.frontend import sinc_resample
from audiokit.io import load
from audiokit.vocoders import SpectralVocoder
from audiokit.vocoders.evaluation import evaluate_resynthesis

pytestmark = pytest.mark.usefixtures("one_thread")

BUNDLED = "bundled real clips (audiokit/assets/speech/real)"


def _clips(sr: int) -> list[tuple[str, torch.Tensor]]:
    return [(p.stem, load(p, sr=sr, mono=True)[0][0]) for p in real_speech_files()]


def test_default_vocoder_on_bundled_real_speech():
    model = SpectralVocoder.from_pretrained(default_checkpoint())
    assert default_checkpoint().name == "apnet_realspeech_16k"
    card = (default_checkpoint() / "MODEL_CARD.md").read_text()
    assert "GPL-2" in card and "Griffin-Lim" in card
    stored = json.loads((default_checkpoint() / "metrics.json").read_text())[BUNDLED]
    clips = _clips(model.sample_rate)
    ours = evaluate_resynthesis(model, clips, names=("pesq", "stoi", "lsd"), gl_iters=32)
    for which, key in (("vocoder", "model"), ("griffin_lim", "griffin_lim")):
        for name, tol in (("pesq", 0.05), ("stoi", 0.01), ("lsd", 0.02)):
            assert ours.mean(which)[name] == pytest.approx(stored[key][name], abs=tol), (which, name)
    tiny = SpectralVocoder.from_pretrained(PRETRAINED_DIR / "apnet_tiny")
    before = evaluate_resynthesis(tiny, clips, names=("pesq",), gl_iters=1)
    assert ours.mean("vocoder")["pesq"] > before.mean("vocoder")["pesq"] + 1.0


def test_default_bwe_on_bundled_real_speech():
    from audiokit.bwe import APBWE

    model = APBWE.from_pretrained(bundled_model_dir())
    assert bundled_model_dir().name == "ap_bwe_realspeech_8k_16k"
    assert model.config.keep_low_band
    stored = json.loads((bundled_model_dir() / "metrics.json").read_text())[BUNDLED]["sinc"]
    tiny = APBWE.from_pretrained(PRETRAINED_DIR / "ap_bwe_tiny_8k_16k")
    rows: dict[str, list[dict[str, float]]] = {"model": [], "upsampling": [], "tiny": []}
    for _, ref in _clips(16000):
        narrow = sinc_resample(ref, 16000, 8000)
        with torch.inference_mode():
            outs = {
                "model": model.extend(narrow, 8000)[0],
                "upsampling": sinc_resample(narrow, 8000, 16000),
                "tiny": tiny.extend(narrow, 8000)[0],
            }
        for k, y in outs.items():
            n = min(len(ref), len(y))
            rows[k].append({"pesq": metrics.pesq(ref[:n], y[:n], 16000), "lsd": metrics.lsd(ref[:n], y[:n])})
    mean = {k: {m: sum(r[m] for r in v) / len(v) for m in ("pesq", "lsd")} for k, v in rows.items()}
    for k in ("model", "upsampling"):
        assert mean[k]["pesq"] == pytest.approx(stored[k]["pesq"], abs=0.05), k
        assert mean[k]["lsd"] == pytest.approx(stored[k]["lsd"], abs=0.02), k
    assert mean["model"]["lsd"] < 0.6 * mean["upsampling"]["lsd"]
    assert mean["model"]["lsd"] < mean["tiny"]["lsd"]
