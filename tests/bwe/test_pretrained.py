"""The shipped tiny model ``pretrained/ap_bwe_tiny_8k_16k``: loads, extends real speech, beats sinc."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

from audiokit import metrics
from audiokit.assets import PRETRAINED_DIR, speech_files
from audiokit.bwe import APBWE, simulate_narrowband
from audiokit.frontend import sinc_resample
from audiokit.io import load

TINY = PRETRAINED_DIR / "ap_bwe_tiny_8k_16k"


@pytest.fixture(scope="module")
def model() -> APBWE:
    return APBWE.from_pretrained(TINY)


def test_release_files_and_config(model):
    path = TINY
    for name in ("model.safetensors", "config.json", "MODEL_CARD.md", "eval.json", "SHA256SUMS"):
        assert (path / name).is_file(), name
    for line in (path / "SHA256SUMS").read_text().splitlines():  # the weights are the released ones
        digest, name = line.split()
        assert hashlib.sha256((path / name).read_bytes()).hexdigest() == digest, name
    cfg = model.config
    assert (cfg.lr_sampling_rate, cfg.hr_sampling_rate) == (8000, 16000)
    evaluation = json.loads((path / "eval.json").read_text())
    for res in evaluation["results"].values():  # the card's claim: the default inference beats sinc
        assert res["ap_bwe_tiny"]["lsd"] < res["sinc"]["lsd"]
        assert res["ap_bwe_tiny"]["pesq"] > res["sinc"]["pesq"]
    card = (path / "MODEL_CARD.md").read_text()
    assert f"{evaluation['results']['bundled']['ap_bwe_tiny']['lsd']:.3f}" in card


@pytest.mark.usefixtures("one_thread")  # restores the thread count after (it leaked into later tests)
def test_extends_bundled_speech_better_than_sinc(model):
    lsd_model, lsd_sinc, lsd_hf_model, lsd_hf_sinc = [], [], [], []
    for f in speech_files(16000):
        ref = load(f, mono=True)[0][0]
        narrow = sinc_resample(ref, 16000, 8000)
        wide = model.extend(narrow, 8000)
        assert wide.shape == (1, 2 * narrow.numel()) and torch.isfinite(wide).all()  # input's duration
        wide = wide[:, : ref.numel()]
        sinc = sinc_resample(narrow, 8000, 16000)[: ref.numel()]
        lsd_model.append(metrics.lsd(ref, wide[0]))
        lsd_sinc.append(metrics.lsd(ref, sinc))
        lsd_hf_model.append(metrics.lsd(ref, wide[0], 16000, band=(4000.0, 8000.0)))
        lsd_hf_sinc.append(metrics.lsd(ref, sinc, 16000, band=(4000.0, 8000.0)))
    assert sum(lsd_model) < 0.9 * sum(lsd_sinc)  # clearly better, on every clip in total
    assert sum(lsd_hf_model) < 0.8 * sum(lsd_hf_sinc)  # the gain is in the band it adds
    assert all(m < s for m, s in zip(lsd_model, lsd_sinc, strict=True))


def test_wideband_input_is_degraded_and_re_extended(model, speech16k):
    wav, sr = speech16k
    wav = wav[: wav.numel() // 2 * 2]
    from_wide = model.extend(wav, sr)  # the official inference degrades 16 kHz input first ...
    from_narrow = model.extend(sinc_resample(wav, sr, 8000), 8000)  # ... to what 8 kHz input gives
    assert from_wide.shape == from_narrow.shape == (1, wav.numel())
    torch.testing.assert_close(from_wide, from_narrow, rtol=0, atol=1e-6)
    assert not torch.allclose(from_wide, simulate_narrowband(wav, sr, 8000)[None], atol=1e-3)
