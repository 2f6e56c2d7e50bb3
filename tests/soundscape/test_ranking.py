"""Ranking maskers x gains: table semantics, SMR gains, masker banks, agreement with waveform mixing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from audiokit.io import save
from audiokit.soundscape import (
    MaskerBank,
    MaskerGainConfig,
    MaskerGainPredictor,
    features,
    leq_db,
    mix_waveforms,
    rank_maskers,
)

SR = 44100


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = MaskerGainPredictor(MaskerGainConfig(hidden=16, context_layers=1, mix_layers=1, heads=2, dropout=0.0))
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return m.eval()


@pytest.fixture(scope="module")
def bank_inputs(maskers):
    return {k: (x[:, : 2 * SR], SR) for k, (x, _) in maskers.items()}


def test_ranking_table(scene, bank_inputs, model):
    s = scene[0][:, : 2 * SR]
    gains = np.arange(-6.0, 6.01, 3.0)
    r = rank_maskers(s, SR, bank_inputs, gains, model=model, threshold=0.1)
    assert len(r.rows) == len(bank_inputs) * len(gains)
    assert [x.rank for x in r.rows] == list(range(1, len(r.rows) + 1))
    scores = [x.score for x in r.rows]
    assert scores == sorted(scores, reverse=True) and r.best.score == max(scores)
    for x in r.rows:
        assert x.score == x.mean
        assert x.p_exceed == pytest.approx(0.5 * math.erfc((0.1 - x.mean) / (x.std * math.sqrt(2))), abs=1e-6)
    risky = rank_maskers(s, SR, bank_inputs, gains, model=model, select="risk", risk_k=2.0)
    assert all(x.score == pytest.approx(x.mean - 2.0 * x.std) for x in risky.rows)
    assert [x.score for x in risky.rows] == sorted((x.score for x in risky.rows), reverse=True)
    # SMR and gain are consistent: SMR = L_A(soundscape) - L_A(masker) - gain
    l_s = leq_db(s, SR)
    l_bird = leq_db(bank_inputs["bird"][0], SR)
    bird = [x for x in r.rows if x.masker == "bird"]
    assert all(x.smr_db == pytest.approx(l_s - l_bird - x.gain_db, abs=1e-3) for x in bird)
    assert all(math.isinf(x.smr_db) for x in r.rows if x.masker == "silence")
    g, mu, sd = r.curve("bird")
    assert g == sorted(gains.tolist()) and len(mu) == len(sd) == len(gains)
    assert [x.masker for x in r.best_per_masker()][0] == r.best.masker
    assert len(r.best_per_masker()) == len(bank_inputs)


def test_smr_reference(scene, bank_inputs, model):
    s = scene[0][:, : 2 * SR]
    r = rank_maskers(s, SR, bank_inputs, [-3.0, 3.0], model=model, gain_reference="smr")
    l_s = leq_db(s, SR)
    for x in r.rows:
        if x.masker == "silence":
            assert x.gain_db == 0.0 and math.isinf(x.smr_db)
        else:
            assert x.smr_db in (-3.0, 3.0)
            assert x.gain_db == pytest.approx(l_s - leq_db(bank_inputs[x.masker][0], SR) - x.smr_db, abs=1e-3)


def test_mono_soundscape_resampling_and_errors(scene, bank_inputs, model):
    s = scene[0][:1, : 2 * SR]
    r = rank_maskers(s, SR, bank_inputs, [0.0], model=model)
    r2 = rank_maskers(np.repeat(s, 2, axis=0), SR, bank_inputs, [0.0], model=model)
    assert [x.mean for x in r.rows] == pytest.approx([x.mean for x in r2.rows], abs=1e-5)
    import soxr

    r48 = rank_maskers(soxr.resample(s.T, SR, 48000).T, 48000, bank_inputs, [0.0], model=model)
    assert len(r48.rows) == len(bank_inputs)
    with pytest.raises(ValueError, match="channels"):
        rank_maskers(np.zeros((3, SR)), SR, bank_inputs, [0.0], model=model)
    with pytest.raises(ValueError, match="select"):
        rank_maskers(s, SR, bank_inputs, [0.0], model=model, select="max")
    with pytest.raises(ValueError, match="finite"):
        rank_maskers(s, SR, bank_inputs, [float("nan")], model=model)
    with pytest.raises(ValueError, match="shorter than one feature frame"):
        rank_maskers(s[:, :1000], SR, bank_inputs, [0.0], model=model)


def test_masker_bank_files_save_load_and_failures(tmp_path, bank_inputs, scene, model):
    folder = tmp_path / "maskers"
    for k, (x, sr) in bank_inputs.items():
        save(folder / "sub" / f"{k}.wav", x, sr, subtype="FLOAT")
    (folder / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    n = 3 * SR  # longer than the maskers: they are looped
    bank = MaskerBank.from_folder(folder, n)
    assert sorted(bank.names) == sorted(f"sub/{k}.wav" for k in bank_inputs)
    assert "broken.wav" in bank.failures
    assert bank.features_db.shape == (len(bank_inputs), 1, 64, 63)
    # a looped masker equals the features of the waveform looped by hand
    i = bank.names.index("sub/water.wav")
    x = torch.as_tensor(bank_inputs["water"][0])
    looped = torch.cat([x, x[:, :SR]], dim=1)
    assert torch.allclose(bank.features_db[i], features(looped, SR), atol=1e-4)
    bank.save(tmp_path / "bank.safetensors", {"a": "1"})
    again, sources = MaskerBank.load(tmp_path / "bank.safetensors")
    assert (
        again.names == bank.names
        and torch.equal(again.features_db, bank.features_db)
        and sources == {"a": "1"}
    )
    short = again.cropped(20)
    assert short.features_db.shape[-1] == 20
    with pytest.raises(ValueError, match="fewer than"):
        again.cropped(100)
    r = rank_maskers(scene[0][:, : 2 * SR], SR, again, [0.0], model=model)
    assert len(r.rows) == len(bank_inputs)
    (tmp_path / "junk.safetensors").write_bytes(b"not a bank")
    with pytest.raises(ValueError, match="not a masker bank"):
        MaskerBank.load(tmp_path / "junk.safetensors")
    with pytest.raises(ValueError, match="no usable masker"):
        MaskerBank.from_files([folder / "broken.wav"], n)


def test_feature_domain_search_agrees_with_waveform_mixing(scene, bank_inputs, model):
    """The batched feature-domain search ranks pairs like brute-force waveform mixing + features +
    the same model (the benchmark's check, small)."""
    s = torch.as_tensor(scene[0][:, : 2 * SR])
    gains = torch.tensor([-9.0, -3.0, 3.0])
    names = [k for k in bank_inputs if k != "silence"]
    bank = MaskerBank.from_waveforms({k: bank_inputs[k] for k in names}, s.shape[-1])
    with torch.no_grad():
        es = model.encode_soundscape(features(s, SR))
        em = model.encode_maskers(bank.features_db)
        fast, _ = model.search(es, em, gains)
        slow = torch.empty_like(fast)
        for i, k in enumerate(names):
            for j, g in enumerate(gains.tolist()):
                aug = features(mix_waveforms(s, torch.as_tensor(bank_inputs[k][0]), g), SR)
                slow[i, j] = model.predict(es, em.select(torch.tensor([i])), torch.tensor([g]), aug[None])[0]
    from scipy.stats import spearmanr

    assert spearmanr(fast.flatten(), slow.flatten()).statistic > 0.9
    assert (fast - slow).abs().max() < 0.05
