"""The shipped pretrained/ddsp_tiny: it loads, and it resynthesises phrases of the synthetic instrument it
was trained on (drawn with seeds the training and validation data did not use) much closer than the
default timbre does, with the pitch and loudness it is given."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from audiokit import ddsp
from audiokit.ddsp.features import get_f0_extractor
from audiokit.ddsp.model import resolve_pretrained
from audiokit.ddsp.synthetic import SyntheticInstrument, random_phrase

MODEL_DIR = resolve_pretrained("ddsp_tiny")
SR, FR = 16000, 250


@pytest.fixture(scope="module")
def model():
    return ddsp.DDSPAutoencoder.from_pretrained(MODEL_DIR)


@pytest.fixture(scope="module")
def resynthesis(model):
    """Two 2 s phrases (as ``write_dataset`` makes them) and what the model and references render."""
    inst = SyntheticInstrument()
    rng = np.random.default_rng(7)
    gen = torch.Generator().manual_seed(7)
    loss = ddsp.SpectralLoss()
    rows = []
    for _ in range(2):
        f0, ld = random_phrase(inst, 2.0, rng)
        f0_t, ld_t = torch.from_numpy(f0).float()[None], torch.from_numpy(ld).float()[None]
        with torch.no_grad():
            audio = inst.render(f0_t, ld_t, gen)
            audio = audio * min(1.0, 0.99 / float(audio.abs().max()))
            ld_in = ddsp.compute_loudness(audio, SR, FR)[:, : f0.size]
            model.processor_group.modules_by_name["filtered_noise"].generator = torch.Generator().manual_seed(
                0
            )
            out = model(f0_t, ld_in)
            rows.append(
                {
                    "f0": f0,
                    "pitched": ld > -75,
                    "ld_in": ld_in[0],
                    "out": out["audio"],
                    "dry": out["audio_dry"],
                    # the true instrument with other noise: the best any model can do
                    "floor": float(loss(audio, inst.render(f0_t, ld_in, gen))),
                    # audiokit's default timbre: no learning
                    "default": float(loss(audio, ddsp.synthesize(f0_t, ld_in))),
                    "model": float(loss(audio, out["audio"])),
                    "model_dry": float(loss(audio, out["audio_dry"])),
                }
            )
    return rows


def test_shipped_files_and_config(model):
    assert {"model.safetensors", "config.json", "MODEL_CARD.md", "eval.json"} <= {
        p.name for p in MODEL_DIR.iterdir()
    }
    cfg = model.config
    assert (cfg.sample_rate, cfg.frame_rate, cfg.n_harmonics, cfg.n_noise_bands) == (16000, 250, 60, 65)
    assert sum(p.numel() for p in model.parameters()) < 300_000  # magenta's tiny_instrument size class
    assert model.loudness_mean_db is not None  # data statistics for timbre transfer were stored
    results = json.loads((MODEL_DIR / "eval.json").read_text())["results"]
    assert results["ddsp_tiny (this model)"]["f0_outlier_ratio"] == 0.0


def test_shipped_model_timbre_is_learned(resynthesis):
    for r in resynthesis:
        # what the decoder learned (harmonic + noise, before the reverb) closes most of the gap between
        # an untrained timbre and the noise floor on every phrase
        closed = (r["default"] - r["model_dry"]) / (r["default"] - r["floor"])
        assert closed > 0.6, r
    # with the learned reverb too, on average (its tail rings into rests: see the model card)
    assert np.mean([r["model"] for r in resynthesis]) < np.mean([r["default"] for r in resynthesis]) - 1.0


def _f0_errors(r, key):
    tracker = get_f0_extractor("pyin", fmin=100.0, fmax=1200.0)
    f0_out, voiced = tracker(r[key][0].double().numpy(), SR, SR // FR)
    n = r["f0"].size
    sel = r["pitched"] & (np.asarray(voiced)[:n] > 0.5)
    assert sel.mean() > 0.9
    return np.abs(12.0 * np.log2(np.asarray(f0_out)[:n][sel] / r["f0"][sel]))


def test_shipped_model_follows_pitch_and_loudness(resynthesis):
    for r in resynthesis:
        err = _f0_errors(r, "dry")  # pYIN on the resynthesis finds the pitch it was given
        assert np.median(err) < 0.15 and (err < 0.5).mean() > 0.9, np.percentile(err, [50, 90])
        err = _f0_errors(r, "out")  # the reverb tail misleads pYIN at note changes, not within notes
        assert np.median(err) < 0.15, np.percentile(err, [50, 90])
        n, pitched = r["f0"].size, torch.from_numpy(r["pitched"])
        ld_out = ddsp.compute_loudness(r["out"], SR, FR)[0, :n]
        assert float((ld_out - r["ld_in"])[pitched].abs().median()) < 2.5
