"""The banded Viterbi decoder equals librosa's dense one exactly (states, ties included), and pYIN
decoded with it equals plain ``librosa.pyin``."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from audiokit.assets import real_speech_files, speech_files
from audiokit.frontend.viterbi import banded_viterbi, exact_pyin_viterbi
from audiokit.io import load


def _pyin_like_transition(n_bins: int, width: int) -> np.ndarray:
    local = librosa.sequence.transition_local(n_bins, width, window="triangle", wrap=False)
    return np.kron(librosa.sequence.transition_loop(2, 0.99), local)


@pytest.mark.parametrize("seed", range(4))
def test_banded_equals_dense_on_hard_cases(seed):
    """Mostly-zero observations (out-of-band jumps win), rounded values (ties), silent stretches."""
    rng = np.random.default_rng(seed)
    trans = _pyin_like_transition(30, 5)
    for trial in range(60):
        prob = rng.random((60, 70))
        prob[rng.random(prob.shape) < 0.7] = 0.0
        if trial % 3 == 0:
            prob = np.round(prob, 1)
        if trial % 5 == 0:
            prob[:, 10:30] = 0.0
        if trial % 7 == 0:
            prob[:] = 0.5  # all tied
        np.testing.assert_array_equal(banded_viterbi(prob, trans), librosa.sequence.viterbi(prob, trans))
    batched = rng.random((2, 60, 40))
    np.testing.assert_array_equal(banded_viterbi(batched, trans), librosa.sequence.viterbi(batched, trans))


def test_dense_matrices_are_left_to_librosa():
    rng = np.random.default_rng(0)
    trans = rng.random((12, 12))
    trans /= trans.sum(1, keepdims=True)
    prob = rng.random((12, 30))
    np.testing.assert_array_equal(banded_viterbi(prob, trans), librosa.sequence.viterbi(prob, trans))


@pytest.mark.parametrize(("hop", "fmax"), [(64, 2200.0), (256, 1000.0)])
def test_pyin_with_the_banded_decoder_equals_librosa(hop, fmax):
    files = speech_files(16000)[:1] + real_speech_files()[:1]
    x = np.concatenate([load(f, sr=16000, mono=True)[0][0].double().numpy() for f in files])[: 16000 * 4]
    ref = librosa.pyin(x, fmin=50, fmax=fmax, sr=16000, frame_length=2048, hop_length=hop)
    original = librosa.sequence.viterbi
    with exact_pyin_viterbi():
        assert librosa.sequence.viterbi is not original
        got = librosa.pyin(x, fmin=50, fmax=fmax, sr=16000, frame_length=2048, hop_length=hop)
    assert librosa.sequence.viterbi is original
    assert np.mean(ref[1]) > 0.3  # voiced speech: a real decoding
    for a, b in zip(ref, got):
        np.testing.assert_array_equal(np.nan_to_num(a), np.nan_to_num(b))
