"""Chains are steps too: they nest (audiotools' combinators), and their records stay a flat list that
replays bit-exactly."""

from __future__ import annotations

import numpy as np
import pytest

from audiokit.perturb.base import replay
from audiokit.perturb.chain import Chain

SR = 16000


def _audio() -> np.ndarray:
    t = np.arange(SR // 2) / SR
    return (0.2 * np.sin(2 * np.pi * 220 * t))[None].astype(np.float32)


def test_a_chain_nests_and_replays():
    one_of = Chain([{"name": "gain", "gain_db": -6.0}, {"name": "gain", "gain_db": -12.0}], choose=1)
    outer = Chain([one_of, {"name": "noise", "snr_db": 30.0}])
    x = _audio()
    for seed in range(6):
        recs = outer.sample(seed)
        assert [r.name for r in recs] == ["gain", "gain", "noise"]
        assert [r.applied for r in recs[:2]].count(True) == 1 and recs[2].applied
        res = outer.apply(x, SR, recs)
        np.testing.assert_array_equal(res.wav, replay(res.to_dicts(), x, SR))
    # both branches of the inner "one of" are reached
    chosen = {
        next(r.params["gain_db"] for r in outer.sample(s) if r.applied and r.name == "gain")
        for s in range(20)
    }
    assert chosen == {-6.0, -12.0}


def test_a_nested_chain_with_p_zero_is_skipped_and_configs_round_trip():
    inner = Chain([{"name": "gain", "gain_db": 6.0}], p=0.0)
    outer = Chain([inner, {"name": "gain", "gain_db": -3.0}])
    recs = outer.sample(1)
    assert [(r.params["gain_db"], r.applied) for r in recs] == [(6.0, False), (-3.0, True)]
    cfg = outer.config()
    assert cfg["perturbations"][0] == {"perturbations": inner.config()["perturbations"], "p": 0.0}
    again = Chain.from_config(cfg)
    assert again.config() == cfg and isinstance(again.perturbations[0], Chain)
    with pytest.raises(ValueError, match="p must be in"):
        Chain(["gain"], p=2.0)
