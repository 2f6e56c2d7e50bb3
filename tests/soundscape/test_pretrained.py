"""The shipped ``pretrained/masker_tiny``: integrity, and quality on freshly generated held-out data."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from audiokit.soundscape import DEFAULT_MODEL, load_model
from audiokit.soundscape.data import make_synthetic_pairs
from audiokit.soundscape.model import resolve_pretrained
from audiokit.soundscape.training import evaluate, selection_check


@pytest.fixture(scope="module")
def model():
    return load_model()


def test_files_and_checksums():
    folder = resolve_pretrained(DEFAULT_MODEL)
    assert folder == Path(__file__).resolve().parents[2] / "pretrained" / "masker_tiny"
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["features"]["n_fft"] == 4096 and cfg["training"]["source"] == "synthetic"
    assert (folder / "MODEL_CARD.md").is_file()


def test_beats_the_label_mean_on_unseen_scenes(model):
    """Scenes, maskers and noise from a seed the model never saw."""
    split = make_synthetic_pairs("test", 8, 12, 24, seconds=4.0, seed=7)
    m = evaluate(model, split.pairs)
    assert m["mse"] < 0.6 * m["label_mean_mse"], m
    report = selection_check(model, split)
    assert report["gain_over_none"] > 0.0, report  # choosing a masker helps on average
    assert report["regret"] < 0.2, report
