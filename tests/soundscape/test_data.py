"""Feature-domain training data: ARAUS items and synthetic pairs."""

from __future__ import annotations

import math

import pytest
import torch

from audiokit.io import load
from audiokit.soundscape import features, mix_features
from audiokit.soundscape.araus import ARAUS
from audiokit.soundscape.data import (
    FeatureCache,
    PairDataset,
    araus_pairs,
    band_statistics,
    make_synthetic_pairs,
)


def test_araus_pairs_reproduce_the_araus_stimulus(araus_root, tmp_path):
    d = ARAUS(araus_root)
    train, val, test = d.split(1)
    cache = FeatureCache(tmp_path / "cache")
    ds = araus_pairs(d, train, cache)
    assert len(ds) == len(train)
    assert torch.allclose(ds.label, torch.tensor([x.pleasantness for x in train]))
    assert (
        len(list((tmp_path / "cache").glob("*.safetensors"))) == ds.soundscapes.shape[0] + ds.maskers.shape[0]
    )
    # the feature-domain item matches the features of the ARAUS waveform stimulus gain_s*s + gain_m*m
    i = next(k for k, x in enumerate(train) if d.maskers[x.masker].cls != "silence")
    item, x = ds[i], train[i]
    s, _ = load(d.soundscape_path(x.soundscape))
    m, _ = load(d.masker_path(x.masker))
    stim = d.soundscape_gain(x.soundscape) * s + d.masker_gain(x.masker, x.soundscape, x.smr) * m
    ref = features(stim, 44100)
    est = mix_features(item["soundscape_db"], item["masker_db"], item["gain_db"].item())
    assert float((est - ref).abs().median()) < 1.0
    assert item["gain_db"].item() == pytest.approx(
        20 * math.log10(d.masker_gain(x.masker, x.soundscape, x.smr)), abs=1e-4
    )
    # the disk cache is reused
    again = araus_pairs(d, train, FeatureCache(tmp_path / "cache"))
    assert torch.equal(again.soundscapes, ds.soundscapes)
    mean, std = band_statistics(ds)
    assert mean.shape == std.shape == (64,) and torch.all(std > 0)
    with pytest.raises(ValueError, match="no items"):
        araus_pairs(d, [])


def test_synthetic_pairs_are_disjoint_and_labelled_by_the_oracle():
    a = make_synthetic_pairs("train", 3, 6, 10, seconds=1.0, seed=0)
    b = make_synthetic_pairs("val", 3, 6, 10, seconds=1.0, seed=0)
    assert (
        len(a.pairs) == 30
        and a.pairs.soundscapes.shape == (3, 2, 64, 20)
        and a.pairs.maskers.shape == (6, 1, 64, 20)
    )
    assert not torch.equal(a.pairs.soundscapes, b.pairs.soundscapes)  # different scenes per split
    assert torch.equal(
        make_synthetic_pairs("train", 3, 6, 10, seconds=1.0, seed=0).pairs.label, a.pairs.label
    )
    noise = a.pairs.label - a.oracle
    assert float(noise.abs().max()) > 0 and float(noise.std()) < 0.3
    clean = make_synthetic_pairs("train", 3, 6, 10, seconds=1.0, seed=0, label_noise=False)
    assert torch.allclose(clean.pairs.label, clean.oracle.clamp(-1, 1))
    with pytest.raises(ValueError, match="split must be"):
        make_synthetic_pairs("dev", 1, 1, 1)


def test_pair_dataset_validation():
    z = torch.zeros
    with pytest.raises(ValueError, match="entries"):
        PairDataset(z(1, 2, 64, 5), z(1, 1, 64, 5), z(2).long(), z(1).long(), z(1), z(1), z(1))
    with pytest.raises(ValueError, match="frames"):
        PairDataset(z(1, 2, 64, 5), z(1, 1, 64, 6), z(1).long(), z(1).long(), z(1), z(1), z(1))
    ds = PairDataset(
        z(1, 2, 64, 5), z(1, 1, 64, 5), z(2).long(), z(2).long(), z(2), z(2), torch.tensor([0.0, 1.0])
    )
    assert ds.label_mean_mse() == pytest.approx(0.25) and ds.label_mean_mse(0.0) == pytest.approx(0.5)
