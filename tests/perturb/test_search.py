"""The constrained search: best feasible kept, fresh copies, stop at success, reproducibility,
full history, and the official AJailBench behaviour as a selectable sampler."""

import hashlib

import numpy as np
import optuna
import pytest
import torch

from audiokit.perturb import FunctionConstraint, FunctionTarget, SearchSpace, search
from audiokit.perturb.base import Uniform
from audiokit.perturb.search import Outcome, make_sampler, run_study
from tests.conftest import tone

SR = 16000


def _level_target(threshold=None):
    """Score = RMS level in dB of the audio (a gain search has a known optimum)."""

    def fn(wav, sr):
        return float(10 * np.log10(np.mean(np.asarray(wav, dtype=np.float64) ** 2)))

    return FunctionTarget(fn, threshold, name="level")


def _gain_limit(max_db):
    """Feasible when the level rose by at most ``max_db``."""

    def fn(orig, pert, sr):
        lo, lp = (float(10 * np.log10(np.mean(np.asarray(a, dtype=np.float64) ** 2))) for a in (orig, pert))
        return max_db - (lp - lo)

    return FunctionConstraint(fn, 0.0, name="gain_limit")


def test_best_feasible_is_kept_not_the_last_and_trials_start_clean():
    x = tone(300.0, SR, 0.5, amp=0.05)
    seen = []

    def target(wav, sr):
        seen.append(hashlib.sha1(np.asarray(wav).tobytes()).hexdigest())
        return _level_target()(wav, sr)

    space = SearchSpace([{"name": "gain", "gain_db": [-12, 12]}])
    res = search(x, SR, target, _gain_limit(6.0), space, budget=12, sampler="tpe", seed=0, peak="none")
    feas = [h for h in res.history if h.feasible]
    assert res.best.score == max(h.score for h in feas)
    assert res.best.params["gain.gain_db"] <= 6.0 + 1e-9  # every kept trial respects the constraint
    last = res.history[-1]
    assert res.best.number != last.number or res.best.score >= last.score
    assert all(h.queried == h.feasible for h in res.history)  # infeasible trials cost no target query
    assert res.queries == 1 + sum(h.queried for h in res.history)  # + the baseline query
    # every trial started from the clean audio: each perturbed output equals gain(clean)
    outs = {hashlib.sha1(np.asarray(x).tobytes()).hexdigest()}
    for h in feas:
        g = h.params["gain.gain_db"]
        outs.add(hashlib.sha1((x * np.float32(10 ** (g / 20))).numpy().tobytes()).hexdigest())
    assert set(seen) <= outs
    assert torch.allclose(res.wav, x * 10 ** (res.best.params["gain.gain_db"] / 20), atol=1e-7)


def test_stops_at_success_reproducible_and_history_is_complete():
    x = tone(300.0, SR, 0.5, amp=0.05)
    tgt = _level_target(threshold=-26.0)  # tone RMS is about -29 dB: needs > +3 dB
    kw = dict(space=[{"name": "gain", "gain_db": [-12, 12]}], budget=20, seed=3, peak="none")
    a = search(x, SR, tgt, _gain_limit(6.0), sampler="random", **kw)
    b = search(x, SR, tgt, _gain_limit(6.0), sampler="random", **kw)
    assert a.success and a.history[-1].success and sum(h.success for h in a.history) == 1
    assert a.trials < 20
    assert [h.params for h in a.history] == [h.params for h in b.history]
    assert [h.to_dict()["score"] for h in a.history] == [h.to_dict()["score"] for h in b.history]
    c = search(x, SR, tgt, _gain_limit(6.0), sampler="random", **{**kw, "seed": 4})
    assert [h.params for h in c.history] != [h.params for h in a.history]


def test_gp_sampler_uses_the_constraint_and_is_reproducible():
    x = tone(300.0, SR, 0.5, amp=0.05)
    kw = dict(space=[{"name": "gain", "gain_db": [-12, 12]}], budget=12, sampler="gp", seed=1, n_startup=3)
    # success needs more than +2.5 dB, feasibility at most +5 dB: a window of 10 % of the range
    a = search(x, SR, _level_target(-26.5), _gain_limit(5.0), peak="none", **kw)
    b = search(x, SR, _level_target(-26.5), _gain_limit(5.0), peak="none", **kw)
    assert [h.params for h in a.history] == [h.params for h in b.history]
    assert a.success and a.best.feasible and 2.5 < a.best.params["gain.gain_db"] <= 5.0
    assert any(not h.feasible for h in a.history)  # it met the constraint and stayed inside


def test_legacy_constraints_func_path_gives_the_same_feasibility():
    dims = {"x": Uniform(0.0, 1.0)}

    def ev(values, number):
        feas = values["x"] <= 0.5
        return Outcome(
            values["x"] if feas else None,
            0.5 - values["x"],
            feas,
            False,
            feas,
            {"violation": values["x"] - 0.5},
        )

    h1, k1 = run_study(ev, dims, 12, "tpe", 0, legacy_constraints=True)
    h2, k2 = run_study(ev, dims, 12, "tpe", 0, legacy_constraints=False)
    assert [h.params for h in h1] == [h.params for h in h2]
    assert k1.params == k2.params and k1.params["x"] <= 0.5


def test_ajailbench_sampler_is_random_search_keeps_last_and_accumulates(speech16k):
    # optuna's default TPESampler with 10 trials never leaves its random start-up phase
    smp = make_sampler("ajailbench", seed=5, n_startup=None, budget=10)
    assert isinstance(smp, optuna.samplers.TPESampler) and smp._n_startup_trials == 10
    dims = {"way": Uniform(0.0, 1.0), "parameter": Uniform(0.0, 1.0)}
    ev = lambda v, n: Outcome(v["way"], 1.0, True, False, True)  # noqa: E731
    h_off, _ = run_study(ev, dims, 10, "ajailbench", 5, stop_at_success=False)
    rnd = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=5))
    rnd.optimize(lambda t: t.suggest_float("way", 0, 1) + t.suggest_float("parameter", 0, 1), n_trials=10)
    assert [h.params for h in h_off] == [t.params for t in rnd.trials]
    # full official procedure on audio: no early stop, last trial kept, perturbations accumulate
    x, sr = speech16k
    x = x[: sr * 2]
    res = search(x, sr, lambda w, s: 1.0, "snr:-100", budget=4, sampler="ajailbench", seed=2)
    assert res.trials == 4 and res.best.number == 3 and res.queries == 5
    n_applied = sum(len(h.info["records"]) for h in res.history)
    assert len(res.records) == n_applied  # the kept audio carries every trial's perturbation


def test_clean_audio_that_already_succeeds_needs_no_search():
    x = tone(300.0, SR, 0.5)
    res = search(x, SR, FunctionTarget(lambda w, s: 1.0, 0.5), "snr:10", ["gain"], budget=5)
    assert res.success and res.trials == 0 and res.queries == 1 and res.records == []


def test_failed_trials_are_recorded_and_the_search_goes_on():
    x = tone(300.0, SR, 0.5, amp=0.05)
    calls = {"n": 0}

    def flaky(wav, sr):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("model server hiccup")
        return 0.0

    res = search(x, SR, flaky, "snr:-100", [{"name": "gain", "gain_db": [-3, 3]}], budget=4, sampler="random")
    states = [h.state for h in res.history]
    assert states.count("fail") == 1 and len(states) == 4
    assert "hiccup" in next(h.error for h in res.history if h.state == "fail")


def test_bad_arguments():
    x = tone(300.0, SR, 0.5)
    with pytest.raises(ValueError, match="sampler"):
        search(x, SR, lambda w, s: 0.0, None, ["gain"], sampler="cma")
    with pytest.raises(ValueError, match="budget"):
        search(x, SR, lambda w, s: 0.0, None, ["gain"], budget=0, baseline=False)
    with pytest.raises(ValueError, match="constraint"):
        search(x, SR, lambda w, s: 0.0, "bogus", ["gain"])


@pytest.mark.parametrize("legacy", [True, False])
def test_last_bit_noise_in_the_metrics_does_not_reach_the_sampler(monkeypatch, legacy):
    """ESTOI and similarity differ in the last bits between processes (numpy's summation follows the
    arrays' alignment); the sampler sees rounded values, so a rerun suggests the same trials and its
    queries come from the reply cache. The records keep the exact values."""
    import math

    from audiokit.perturb.search import _VIOLATION

    studies = []
    real = optuna.create_study
    monkeypatch.setattr(optuna, "create_study", lambda *a, **k: studies.append(real(*a, **k)) or studies[-1])
    dims = {"x": Uniform(0.0, 1.0)}

    def make_ev(ulps):
        def ev(values, number):
            score = math.sin(7.0 * values["x"]) + 2.0
            margin = 0.6 - values["x"]
            for _ in range(ulps):
                score, margin = math.nextafter(score, math.inf), math.nextafter(margin, math.inf)
            return Outcome(score, margin, margin >= 0, False, True, {"violation": -margin})

        return ev

    ha, _ = run_study(make_ev(0), dims, 10, "tpe", 0, legacy_constraints=legacy)
    hb, _ = run_study(make_ev(1), dims, 10, "tpe", 0, legacy_constraints=legacy)
    assert [h.params for h in ha] == [h.params for h in hb]
    assert all(a.score != b.score for a, b in zip(ha, hb))  # the noise is there, in the records
    sa, sb = studies
    assert [t.value for t in sa.trials] == [t.value for t in sb.trials]
    if legacy:
        assert [t.user_attrs[_VIOLATION] for t in sa.trials] == [t.user_attrs[_VIOLATION] for t in sb.trials]
    else:
        assert [t.system_attrs.get("constraints") for t in sa.trials] == [
            t.system_attrs.get("constraints") for t in sb.trials
        ]
