"""Streamed soundscape analysis (issue 14 row 10): the features of blocks equal the one-pass
features, the framed A-weighted level agrees with the whole-signal one, and a streamed ranking equals
the whole-file ranking."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audiokit.io import load
from audiokit.perturb.backgrounds import bundled_backgrounds
from audiokit.soundscape import (
    LevelMeter,
    MelPowerStream,
    leq_db,
    mel_power,
    rank_maskers,
    rank_maskers_stream,
)
from audiokit.soundscape.mix import fit_length
from audiokit.soundscape.ranking import _looped_blocks

SR = 44100


def _blocks(x: torch.Tensor, sizes=(100_003, 1, 4096, 250_000)):
    i, k = 0, 0
    while i < x.shape[-1]:
        yield x[:, i : i + sizes[k % len(sizes)]]
        i, k = i + sizes[k % len(sizes)], k + 1


@pytest.fixture(scope="module")
def recording() -> torch.Tensor:
    """20 s of the bundled background beds (street, rain, music, babble...), two different channels."""
    parts = [load(p, sr=SR, mono=True)[0] for p in bundled_backgrounds().values()]
    x = torch.cat(parts, dim=-1)[:, : 20 * SR]
    return torch.cat([x, x.flip(-1)], dim=0)


def test_mel_power_stream_equals_mel_power(recording):
    s = MelPowerStream()
    for b in _blocks(recording):
        s.push(b)
    ref = mel_power(recording, SR)
    assert torch.equal(s.finish(), ref)  # the same frames from the same samples


@pytest.mark.parametrize("weighting", ["A", None])
def test_level_meter_agrees_with_the_whole_signal_level(recording, weighting):
    for x in (recording, recording[:, :3000], recording[:1] * 0.01):
        m = LevelMeter(SR, weighting)
        for b in _blocks(x):
            m.push(b)
        ref = leq_db(x, SR, weighting)
        tol = 1e-9 if weighting is None else 0.02  # plain mean square: exact (Parseval)
        assert m.level_db() == pytest.approx(ref, abs=tol)
    silent = LevelMeter(SR)
    silent.push(torch.zeros(2, 10000))
    assert silent.level_db() == -np.inf


def test_looped_blocks_equal_fit_length():
    x = torch.arange(7.0)[None]
    for n, block in ((30, 4), (5, 4), (30, 100), (7, 7)):
        parts = list(_looped_blocks(x, n, block))
        assert torch.equal(torch.cat(parts, -1), fit_length(x, n))
        assert max(p.shape[-1] for p in parts) <= block


def test_streamed_ranking_equals_whole_file_ranking(recording):
    from audiokit.soundscape import MaskerGainConfig, MaskerGainPredictor

    torch.manual_seed(0)
    model = MaskerGainPredictor(
        MaskerGainConfig(hidden=16, context_layers=1, mix_layers=1, heads=2, dropout=0.0)
    )
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    model.eval()
    x48 = load(bundled_backgrounds()["street"], sr=48000)[0][:, : 48000 * 8]  # a rate the stream resamples
    maskers = {
        f"m{i}": (recording[i : i + 1, k * SR : (k + 2) * SR], SR) for i, k in ((0, 1), (1, 3), (0, 9))
    }
    gains = np.arange(-6.0, 6.01, 2.0)
    whole = rank_maskers(x48, 48000, maskers, gains, model=model, gain_reference="smr")
    streamed = rank_maskers_stream(_blocks(x48), 48000, maskers, gains, model=model, gain_reference="smr")
    assert [(r.masker, r.smr_db) for r in whole.rows[:5]] == [(r.masker, r.smr_db) for r in streamed.rows[:5]]
    for a, b in zip(whole.rows, streamed.rows):
        assert b.mean == pytest.approx(a.mean, abs=2e-3)  # the levels behind the SMR gains: 0.02 dB
        assert b.smr_db == pytest.approx(a.smr_db, abs=1e-9)
        assert b.gain_db == pytest.approx(a.gain_db, abs=0.05)
