"""Fixtures of the soundscape tests: short synthetic scenes and maskers, a synthetic ARAUS folder."""

from __future__ import annotations

import pytest

from audiokit.soundscape.synthetic import synth_masker, synth_soundscape
from audiokit.soundscape.synthetic_araus import SyntheticARAUSConfig, make_synthetic_araus

SR = 44100


@pytest.fixture(scope="session")
def scene():
    """A 4 s binaural street scene at -30 dBFS and its SoundInfo."""
    return synth_soundscape(4.0, SR, seed=11, scene="street", level=-30.0)


@pytest.fixture(scope="session")
def maskers():
    """One 4 s masker per class (mono, -30 dBFS): {class: (wav, info)}."""
    return {
        k: synth_masker(k, 4.0, SR, seed=i, level=-30.0)
        for i, k in enumerate(["bird", "water", "wind", "traffic", "construction", "silence"])
    }


@pytest.fixture(scope="session")
def araus_root(tmp_path_factory):
    """A small synthetic dataset in the ARAUS layout (1 s clips, 6 folds)."""
    root = tmp_path_factory.mktemp("araus")
    cfg = SyntheticARAUSConfig(
        seconds=1.0, soundscapes_per_fold=3, maskers_per_fold=5, participants_per_fold=3
    )
    return make_synthetic_araus(root, cfg)


@pytest.fixture(scope="session")
def araus_feature_cache(tmp_path_factory):
    """A feature cache folder shared by the tests that train or build datasets on ``araus_root``."""
    return tmp_path_factory.mktemp("araus_features")
