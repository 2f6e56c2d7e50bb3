"""ARAUS loader on a synthetic folder in the ARAUS layout."""

from __future__ import annotations

import csv
import math
import shutil

import numpy as np
import pytest

from audiokit.io import load
from audiokit.soundscape.araus import (
    ARAUS,
    ATTRIBUTES,
    CV_FOLDS,
    iso_eventfulness,
    iso_pleasantness,
)
from audiokit.soundscape.synthetic import SPL_OFFSET_DB, level_db


def test_iso_formulas_closed_forms():
    neutral = [3] * 8
    assert iso_pleasantness(neutral) == 0.0 and iso_eventfulness(neutral) == 0.0
    best = dict(pleasant=5, eventful=3, chaotic=1, vibrant=5, uneventful=3, calm=5, annoying=1, monotonous=1)
    assert iso_pleasantness(best) == pytest.approx(1.0)
    worst = {a: 6 - v for a, v in best.items()}
    assert iso_pleasantness(worst) == pytest.approx(-1.0)
    # the ARAUS weights: (pl - an) + cos45 (ca - ch) + cos45 (vi - mo) over 4 + sqrt(32)
    r = [4, 2, 1, 5, 3, 2, 2, 4]
    c = math.sqrt(2) / 2
    manual = ((4 - 2) + c * (2 - 1) + c * (5 - 4)) / (4 + math.sqrt(32))
    assert iso_pleasantness(r) == pytest.approx(manual)
    manual_ev = ((2 - 3) + c * (1 - 2) + c * (5 - 4)) / (4 + math.sqrt(32))
    assert iso_eventfulness(r) == pytest.approx(manual_ev)
    with pytest.raises(ValueError, match="expected 8"):
        iso_pleasantness([3] * 7)


def test_loader_counts_exclusions_and_folds(araus_root):
    d = ARAUS(araus_root)
    n_rows = sum(1 for _ in open(araus_root / "data" / "responses.csv")) - 1
    assert len(d.responses) == n_rows
    usable = d.usable_responses()
    # each participant had practice (first), attention (middle) and consistency (last) stimuli
    assert len(d.responses) - len(usable) == 3 * len(d.participants)
    assert all(r.fold >= 0 and not r.is_attention for r in usable)
    assert d.folds() == [0, 1, 2, 3, 4, 5]
    counts = d.check_folds()
    assert counts == {"soundscape": 15, "masker": 30, "participant": 15}
    train, val, test = d.split(2)
    assert {x.fold for x in train} == set(CV_FOLDS) - {2} and {x.fold for x in val} == {2}
    assert all(x.n_responses == 1 for x in train + val)
    # the test fold: one item per stimulus, ratings averaged over its participants (all 3 heard it)
    assert {x.n_responses for x in test} == {3} and len(test) == len(
        {(x.soundscape, x.masker, x.smr) for x in test}
    )
    with pytest.raises(ValueError, match="not one of the cross-validation folds"):
        d.split(0)


def test_test_fold_label_is_the_mean_of_ratings(araus_root):
    d = ARAUS(araus_root)
    item = d.items(0)[0]
    rows = [
        r
        for r in d.usable_responses()
        if (r.fold, r.soundscape, r.masker, r.smr) == (0, item.soundscape, item.masker, item.smr)
    ]
    assert item.pleasantness == pytest.approx(np.mean([r.pleasantness for r in rows]))  # ISO Pl is linear


def test_masker_gain_places_the_masker_at_the_smr(araus_root):
    d = ARAUS(araus_root)
    for r in d.usable_responses()[:12]:
        if d.maskers[r.masker].cls == "silence":
            continue
        m, _ = load(d.masker_path(r.masker))
        s, _ = load(d.soundscape_path(r.soundscape))
        lm = level_db(m.numpy() * d.masker_gain(r.masker, r.soundscape, r.smr)) + SPL_OFFSET_DB
        ls = level_db(s.numpy() * d.soundscape_gain(r.soundscape)) + SPL_OFFSET_DB
        insitu = d.soundscapes[r.soundscape].insitu_leq
        assert ls == pytest.approx(insitu, abs=0.01)  # gain_s reproduces the in-situ level
        assert lm == pytest.approx(insitu - r.smr, abs=0.01)  # the masker sits at insitu - SMR


def test_labels_follow_the_oracle(araus_root):
    d = ARAUS(araus_root)
    oracle = {
        (r["participant"], int(r["stimulus_index"])): float(r["oracle_pleasantness"])
        for r in csv.DictReader(open(araus_root / "data" / "oracle.csv"))
    }
    usable = d.usable_responses()
    y = np.array([r.pleasantness for r in usable])
    o = np.array([oracle[(r.participant, r.stimulus_index)] for r in usable])
    assert np.corrcoef(y, o)[0, 1] > 0.7


def test_bad_folders_are_named(araus_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        ARAUS(tmp_path / "missing")
    bad = tmp_path / "bad"
    shutil.copytree(araus_root / "data", bad / "data")
    (bad / "data" / "maskers.csv").unlink()
    with pytest.raises(FileNotFoundError, match="maskers.csv"):
        ARAUS(bad)
    shutil.copy(araus_root / "data" / "maskers.csv", bad / "data" / "maskers.csv")
    rows = list(csv.DictReader(open(araus_root / "data" / "responses.csv")))
    header = [h for h in rows[0] if h != "calm"]
    with open(bad / "data" / "responses.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(ValueError, match="missing column.*calm"):
        ARAUS(bad)
    rows[5]["soundscape"] = "nowhere.wav"
    rows[6]["smr"] = "loud"
    with open(bad / "data" / "responses.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(ValueError, match="row 7: soundscape 'nowhere.wav'"):
        ARAUS(bad)


def test_check_folds_detects_leakage(araus_root, tmp_path):
    bad = tmp_path / "leak"
    shutil.copytree(araus_root / "data", bad / "data")
    rows = list(csv.DictReader(open(bad / "data" / "responses.csv")))
    i = next(k for k, r in enumerate(rows) if r["fold_r"] == "2")
    j = next(k for k, r in enumerate(rows) if r["fold_r"] == "3")
    rows[j]["masker"] = rows[i]["masker"]  # a fold-2 masker heard in fold 3
    with open(bad / "data" / "responses.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(ValueError, match="masker .* appears in folds 2 and 3"):
        ARAUS(bad).check_folds()


def test_missing_calibration_level(araus_root):
    d = ARAUS(araus_root)
    r = next(r for r in d.usable_responses() if d.maskers[r.masker].cls != "silence")
    with pytest.raises(ValueError, match="no calibration at"):
        d.masker_gain(r.masker, r.soundscape, 60.0)
    assert ATTRIBUTES[0] == "pleasant"
