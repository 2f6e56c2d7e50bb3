"""Per-file search for the subtlest effective perturbation: Bayesian optimisation with optuna.

Each trial perturbs a fresh copy of the clean audio with parameters suggested by the sampler,
checks the semantic constraint, and (when feasible) queries the target. The constraint is passed
to optuna as a black-box inequality (``Trial.set_constraint``, the optuna 5 successor of the
samplers' ``constraints_func``, which is used on optuna 4.2-4.x), so the GP sampler optimises
log constrained expected improvement. The best *feasible* trial is kept (highest score, then the
more faithful), the search stops at the first success, a seed makes it reproducible, and the full
history is returned.

Samplers: ``gp`` (GPSampler, the default), ``tpe`` (multivariate TPE), ``random``, and
``ajailbench``: the official behaviour, i.e. optuna's default ``TPESampler`` (10 random start-up
trials, so with its budget of 10 it never fits a model), perturbations accumulating over trials
with the per-clip caps, no early stop, every trial queried, and the *last* trial kept.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from audiokit.perturb.ajailbench import AJailBenchCaps, resolve
from audiokit.perturb.base import (
    Choice,
    Fixed,
    Param,
    Perturbation,
    PerturbationRecord,
    RandomSeed,
    as_numpy,
    create,
    like_input,
    names_of,
)
from audiokit.perturb.chain import Chain, preset
from audiokit.perturb.constraints import Constraint, make_constraint
from audiokit.perturb.targets import Target, make_target

__all__ = [
    "SAMPLERS",
    "SearchSpace",
    "Outcome",
    "TrialRecord",
    "SearchResult",
    "make_sampler",
    "run_study",
    "search",
]

log = logging.getLogger(__name__)

SAMPLERS = ("gp", "tpe", "random", "ajailbench")


class SearchSpace:
    """The parameters a search optimises, over a list of perturbations.

    ``mode="chain"`` applies every perturbation in order; ``mode="one"`` adds a categorical
    ``perturbation`` dimension choosing one of them. All parameters of all perturbations are
    suggested in every trial (a flat space), so the GP models every dimension (a conditional space
    would make optuna fall back to independent random sampling). Parameters fixed in the space
    are not searched; random-seed parameters are held fixed per search.
    """

    def __init__(self, perturbations: Sequence[Perturbation | str | Mapping[str, Any]], mode: str = "chain"):
        self.perturbations = [create(p) for p in perturbations]
        if not self.perturbations:
            raise ValueError("a search space needs at least one perturbation")
        if mode not in ("chain", "one"):
            raise ValueError(f"mode must be 'chain' or 'one', got {mode!r}")
        self.mode = mode
        self.labels = names_of(self.perturbations)

    @classmethod
    def from_chain(cls, chain: Chain) -> SearchSpace:
        if chain.choose not in (None, 1):
            raise ValueError("a search needs a chain with choose=None (all steps) or choose=1 (one of them)")
        return cls(
            chain.perturbations, "one" if chain.choose == 1 and len(chain.perturbations) > 1 else "chain"
        )

    @property
    def is_ajailbench(self) -> bool:
        return [p.name for p in self.perturbations] == ["ajailbench"]

    def dims(self) -> dict[str, Param]:
        """Searched dimensions by optuna parameter name (``label.param``)."""
        out: dict[str, Param] = {}
        if self.mode == "one":
            out["perturbation"] = Choice(tuple(self.labels))
        for label, p in zip(self.labels, self.perturbations):
            for k, spec in p.searchable().items():
                out[f"{label}.{k}"] = spec
        return out

    def seeds(self, seed: int) -> dict[str, int]:
        """Fixed values of the random-seed parameters for a search with ``seed``."""
        rng = np.random.default_rng([int(seed), 7919])
        return {
            f"{label}.{k}": int(rng.integers(0, 2**31 - 1))
            for label, p in zip(self.labels, self.perturbations)
            for k, spec in p.space.items()
            if isinstance(spec, RandomSeed)
        }

    def records(self, values: Mapping[str, Any], seeds: Mapping[str, int]) -> list[PerturbationRecord]:
        """The perturbation records for suggested ``values`` (plus the fixed ``seeds``)."""
        chosen = values.get("perturbation") if self.mode == "one" else None
        recs = []
        for label, p in zip(self.labels, self.perturbations):
            params: dict[str, Any] = {}
            for k, spec in p.space.items():
                key = f"{label}.{k}"
                if key in values:
                    params[k] = values[key]
                elif key in seeds:
                    params[k] = seeds[key]
                elif isinstance(spec, Fixed):
                    params[k] = spec.value
                elif isinstance(spec, Choice) and len(spec.options) == 1:
                    params[k] = spec.options[0]
                else:
                    params[k] = spec.sample(np.random.default_rng(0))
            recs.append(p.record(params, applied=chosen is None or chosen == label))
        return recs

    def __repr__(self) -> str:
        return f"SearchSpace({self.labels}, mode={self.mode!r})"


@dataclass
class Outcome:
    """What one evaluation returns to :func:`run_study`."""

    score: float | None
    constraint: float | None
    feasible: bool
    success: bool
    queried: bool
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrialRecord:
    """One trial of the history."""

    number: int
    params: dict[str, Any]
    state: str
    score: float | None = None
    constraint: float | None = None
    feasible: bool = False
    success: bool = False
    queried: bool = False
    seconds: float = 0.0
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {
            "number": self.number,
            "params": self.params,
            "state": self.state,
            "score": self.score,
            "constraint": self.constraint,
            "feasible": self.feasible,
            "success": self.success,
            "queried": self.queried,
            "seconds": round(self.seconds, 4),
        }
        if self.error:
            d["error"] = self.error
        d.update(self.info)
        return d


@dataclass
class SearchResult:
    """Outcome of a search: the kept trial (``best``; ``None`` when no trial was feasible), whether
    it succeeded, the full ``history``, the number of target ``queries`` and the kept audio."""

    best: TrialRecord | None
    success: bool
    history: list[TrialRecord]
    queries: int
    sampler: str
    seed: int
    records: list[PerturbationRecord] = field(default_factory=list)
    wav: torch.Tensor | np.ndarray | None = None
    baseline_score: float | None = None
    peak: dict[str, Any] = field(default_factory=dict)
    baseline_info: dict[str, Any] | None = None

    @property
    def trials(self) -> int:
        return len(self.history)

    def summary(self) -> dict[str, Any]:
        b = self.best
        return {
            "success": self.success,
            "trials": self.trials,
            "queries": self.queries,
            "sampler": self.sampler,
            "seed": self.seed,
            "score": None if b is None else b.score,
            "constraint": None if b is None else b.constraint,
            "best_trial": None if b is None else b.number,
            "baseline_score": self.baseline_score,
        }


def default_startup(budget: int) -> int:
    """Random start-up trials of the model-based samplers: a quarter of the budget, 3 to 10."""
    return int(max(3, min(10, budget // 4)))


def _has_set_constraint() -> bool:
    import optuna

    return hasattr(optuna.trial.Trial, "set_constraint")


_VIOLATION = "semantic_violation"


def _constraints_func(frozen: Any) -> list[float]:
    return [float(frozen.user_attrs.get(_VIOLATION, 0.0))]


#: Decimals of the scores and constraint margins the sampler sees. Metrics computed with numpy
#: (ESTOI, similarity) differ in the last bits between processes (summation order follows the
#: arrays' memory alignment); the GP sampler can turn such a difference into another trial, so a
#: rerun would query audio the first run never sent (a reply-cache miss). Nine decimals remove that
#: noise and nothing a search could use; the records keep the exact values.
SAMPLER_DECIMALS = 9


def _for_sampler(value: float) -> float:
    return round(float(value), SAMPLER_DECIMALS)


def make_sampler(
    name: str, seed: int, n_startup: int | None, budget: int, legacy_constraints: bool = False
) -> Any:
    """The optuna sampler for ``name`` (see :data:`SAMPLERS`)."""
    import optuna

    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; use one of {', '.join(SAMPLERS)}")
    k = default_startup(budget) if n_startup is None else int(n_startup)
    cf = {"constraints_func": _constraints_func} if legacy_constraints else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)
        if name == "gp":
            return optuna.samplers.GPSampler(seed=seed, n_startup_trials=k, **cf)
        if name == "tpe":
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=k, multivariate=True, **cf)
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        return optuna.samplers.TPESampler(seed=seed, **cf)  # the official create_study() default


def run_study(
    evaluate: Callable[[dict[str, Any], int], Outcome],
    dims: Mapping[str, Param],
    budget: int,
    sampler: str = "gp",
    seed: int = 0,
    n_startup: int | None = None,
    stop_at_success: bool = True,
    keep: str = "best",
    legacy_constraints: bool | None = None,
    impute: float | None = None,
) -> tuple[list[TrialRecord], TrialRecord | None]:
    """The optimisation loop shared by :func:`search` and the benchmarks.

    ``evaluate(values, number)`` gets the suggested values of ``dims`` and returns an
    :class:`Outcome`. Unqueried infeasible trials are told ``impute`` (default: the lowest score seen,
    else 0) as their objective. Returns the history and the kept trial (``keep="best"``: best
    feasible; ``"last"``: the last completed trial).
    """
    import optuna

    if budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget}")
    if keep not in ("best", "last"):
        raise ValueError(f"keep must be 'best' or 'last', got {keep!r}")
    legacy = (not _has_set_constraint()) if legacy_constraints is None else legacy_constraints
    smp = make_sampler(sampler, seed, n_startup, budget, legacy)
    verbosity = optuna.logging.get_verbosity()
    if not log.isEnabledFor(logging.DEBUG):  # optuna's per-trial INFO lines only in debug mode
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        study = optuna.create_study(direction="maximize", sampler=smp)
    history: list[TrialRecord] = []
    scores: list[float] = []

    def objective(trial: Any) -> float:
        t0 = time.perf_counter()
        values = {name: p.suggest(trial, name) for name, p in dims.items()}
        rec = TrialRecord(trial.number, values, "complete")
        try:
            out = evaluate(values, trial.number)
        except Exception as e:
            rec.state, rec.error, rec.seconds = "fail", f"{type(e).__name__}: {e}", time.perf_counter() - t0
            history.append(rec)
            raise  # recorded here; optuna marks the trial failed and goes on
        rec.score, rec.constraint, rec.feasible = out.score, out.constraint, out.feasible
        rec.success, rec.queried, rec.info = out.success, out.queried, out.info
        # the signed margin (threshold - value): negative when feasible, so the constraint's GP
        # sees how far inside the feasible region a trial is, not just a 0/1 flag
        v = float(out.info.get("violation", 0.0 if out.feasible else 1.0))
        violation = _for_sampler(min(v, 0.0) if out.feasible else max(v, 1e-6))
        if legacy:
            trial.set_user_attr(_VIOLATION, violation)
        else:
            trial.set_constraint("semantic", violation)
        if out.score is not None:
            scores.append(out.score)
            value = out.score
        else:
            value = impute if impute is not None else (min(scores) if scores else 0.0)
        rec.seconds = time.perf_counter() - t0
        history.append(rec)
        if out.success and stop_at_success:
            trial.study.stop()
        return _for_sampler(value)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.simplefilter("ignore", FutureWarning)
            study.optimize(objective, n_trials=budget, catch=(Exception,), show_progress_bar=False)
    finally:
        optuna.logging.set_verbosity(verbosity)
    done = [h for h in history if h.state == "complete"]
    if keep == "last":
        kept = done[-1] if done else None
    else:
        feas = [h for h in done if h.feasible and h.score is not None]
        kept = max(feas, key=lambda h: (h.score, h.constraint or 0.0, -h.number)) if feas else None
    return history, kept


def search(
    wav: torch.Tensor | np.ndarray,
    sr: int,
    target: Target | Callable[[Any, int], float] | str,
    constraint: Constraint | str | None = None,
    space: SearchSpace | Chain | Sequence[Any] | None = None,
    budget: int = 30,
    sampler: str = "gp",
    seed: int = 0,
    *,
    n_startup: int | None = None,
    stop_at_success: bool | None = None,
    keep: str | None = None,
    cumulative: bool | None = None,
    query_infeasible: bool | None = None,
    peak: str = "limit",
    baseline: bool = True,
    legacy_constraints: bool | None = None,
) -> SearchResult:
    """Search the perturbation of ``wav`` that maximises ``target`` subject to ``constraint``.

    Args:
        wav: clean audio ``(T,)`` or ``(C, T)``; every trial starts from it (unless ``cumulative``).
        sr: sample rate.
        target: a :class:`~audiokit.perturb.targets.Target`, a callable ``(wav, sr) -> float``
            (higher = more effective) or a target spec string; success needs ``target.threshold``.
        constraint: a :class:`~audiokit.perturb.constraints.Constraint` or spec; default ESTOI >= 0.6.
        space: a :class:`SearchSpace`, a :class:`~audiokit.perturb.chain.Chain` or a list of
            perturbations (chained); default the ``ajailbench`` preset for the ``ajailbench``
            sampler, else pitch shift, time stretch, noise and gain.
        budget: maximum number of trials.
        sampler: ``gp``, ``tpe``, ``random`` or ``ajailbench`` (see the module docstring).
        seed: makes the search reproducible (sampler, fixed noise seeds).
        n_startup: random start-up trials of ``gp``/``tpe`` (default :func:`default_startup`).
        stop_at_success, keep, cumulative, query_infeasible: override the sampler's behaviour
            (defaults: stop at success, keep the best feasible, fresh copies, no target query for
            infeasible trials; ``ajailbench``: no stop, keep the last, cumulative, query all).
        peak: peak policy of each perturbed candidate (:func:`~audiokit.perturb.chain.limit_peaks`).
        baseline: query the target once on the clean audio first (the reference score, imputed
            for unqueried infeasible trials); if the clean audio already succeeds, nothing is searched.

    Returns:
        a :class:`SearchResult` with the kept trial, its records and audio, and the full history.
    """
    official = sampler == "ajailbench"
    policy = _Policy.of(sampler, stop_at_success, keep, cumulative, query_infeasible)
    tgt = make_target(target)
    con = make_constraint(constraint)
    space = _search_space(space, official)
    x0 = as_numpy(wav, "search input")
    trials = _Trials(x0, int(sr), space, seed, tgt, con, policy, peak)
    dims = space.dims()
    baseline_score = None
    baseline_info = None
    if baseline:
        baseline_score, baseline_info = trials.query(x0)
        if tgt.success(baseline_score):
            return _baseline_result(baseline_score, baseline_info, sampler, seed, wav)
    history, kept = run_study(
        trials,
        dims,
        budget,
        sampler,
        seed,
        n_startup,
        policy.stop_at_success,
        policy.keep,
        legacy_constraints,
        impute=baseline_score,
    )
    out_wav, records, peak_report = trials.kept_output(kept)
    if out_wav is not None:
        out_wav = like_input(as_numpy(out_wav), wav)
    return SearchResult(
        kept,
        bool(kept is not None and kept.success),
        history,
        trials.queries,
        sampler,
        seed,
        records,
        out_wav,
        baseline_score,
        peak_report,
        baseline_info,
    )


@dataclass(frozen=True)
class _Policy:
    """How a search treats its trials (:func:`search`'s overrides over the sampler's defaults)."""

    stop_at_success: bool
    keep: str
    cumulative: bool
    query_infeasible: bool

    @classmethod
    def of(
        cls,
        sampler: str,
        stop_at_success: bool | None,
        keep: str | None,
        cumulative: bool | None,
        query_infeasible: bool | None,
    ) -> _Policy:
        """The defaults: stop at success, keep the best, fresh copies, no target query for infeasible
        trials; ``ajailbench``: no stop, keep the last, cumulative, query all."""
        official = sampler == "ajailbench"
        return cls(
            stop_at_success=(not official) if stop_at_success is None else stop_at_success,
            keep=("last" if official else "best") if keep is None else keep,
            cumulative=official if cumulative is None else cumulative,
            query_infeasible=official if query_infeasible is None else query_infeasible,
        )


def _search_space(space: SearchSpace | Chain | Sequence[Any] | None, official: bool) -> SearchSpace:
    """``space`` as a :class:`SearchSpace` (default: the ``ajailbench`` preset for the official
    sampler, else pitch shift, time stretch, noise and gain)."""
    if space is None:
        space = preset("ajailbench") if official else ["pitch_shift", "time_stretch", "noise", "gain"]
    if isinstance(space, Chain):
        return SearchSpace.from_chain(space)
    if not isinstance(space, SearchSpace):
        return SearchSpace(space)
    return space


def _baseline_result(
    score: float, info: dict[str, Any] | None, sampler: str, seed: int, wav: Any
) -> SearchResult:
    """The result of a search whose clean audio already succeeds (nothing searched)."""
    trial_info = {"baseline": True, **({"target": info} if info else {})}
    rec = TrialRecord(-1, {}, "complete", score, 1.0, True, True, True, info=trial_info)
    return SearchResult(rec, True, [], 1, sampler, seed, [], wav, score, baseline_info=info)


class _Trials:
    """The objective of :func:`run_study`: applies one trial's parameters (to the clean audio, or to
    the previous trial's under ``cumulative``), checks the constraint, queries the target, and keeps
    the audio, records and peak report of the kept trial (the best feasible, or the last)."""

    def __init__(
        self,
        x0: np.ndarray,
        sr: int,
        space: SearchSpace,
        seed: int,
        tgt: Target,
        con: Constraint,
        policy: _Policy,
        peak: str,
    ):
        self.x0, self.sr, self.space, self.tgt, self.con, self.policy = x0, sr, space, tgt, con, policy
        self.seeds = space.seeds(seed)
        self.runner = Chain(space.perturbations, peak=peak)
        self.caps = AJailBenchCaps() if policy.cumulative and space.is_ajailbench else None
        self.x = x0  # the audio the next trial starts from under ``cumulative``
        self.chain: list[PerturbationRecord] = []  # the records that made ``self.x``
        self.queries = 0
        self.best_key: tuple[float, float] | None = None
        self.best_number: int | None = None
        self.best: tuple[np.ndarray, list[PerturbationRecord], dict[str, Any]] | None = None

    def query(self, y: np.ndarray) -> tuple[float, dict[str, Any] | None]:
        """The target's score of ``y`` and what it reports about the query."""
        score = float(self.tgt(y, self.sr))
        self.queries += 1
        return score, _target_info(self.tgt)

    def __call__(self, values: dict[str, Any], number: int) -> Outcome:
        recs = self.space.records(values, self.seeds)
        if self.caps is not None:
            recs = _resolve_ajailbench(recs, self.sr, self.x.shape[-1], self.caps)
        res = self.runner.apply(self.x if self.policy.cumulative else self.x0, self.sr, recs)
        y = res.wav
        cval = float(self.con(self.x0, y, self.sr))
        feasible = self.con.feasible(cval)
        score, tinfo = self.query(y) if feasible or self.policy.query_infeasible else (None, None)
        applied = [r for r in res.records if r.applied]
        chain_recs = (self.chain if self.policy.cumulative else []) + applied
        info = {
            "records": [r.to_dict() for r in applied],
            "violation": self.con.threshold - cval,
            "peak": res.peak,
        }
        if tinfo:
            info["target"] = tinfo
        if self.policy.cumulative:
            self.x, self.chain = y, chain_recs
        self._keep(number, (score if score is not None else -math.inf, cval), feasible and score is not None,
                   (y, chain_recs, res.peak))  # fmt: skip
        return Outcome(score, cval, feasible, feasible and self.tgt.success(score), score is not None, info)

    def _keep(
        self,
        number: int,
        key: tuple[float, float],
        eligible: bool,
        output: tuple[np.ndarray, list[PerturbationRecord], dict[str, Any]],
    ) -> None:
        if self.policy.keep == "last" or (eligible and (self.best_key is None or key > self.best_key)):
            self.best_key, self.best, self.best_number = key, output, number

    def kept_output(
        self, kept: TrialRecord | None
    ) -> tuple[np.ndarray | None, list[PerturbationRecord], dict[str, Any]]:
        """``(audio, records, peak report)`` of the kept trial (``None``, ``[]``, ``{}`` without one)."""
        if kept is not None and self.best is not None and self.best_number == kept.number:
            return self.best
        if kept is not None and not self.policy.cumulative:  # defensive: re-create the kept trial's audio
            records = [PerturbationRecord.from_dict(d) for d in kept.info.get("records", [])]
            res = self.runner.apply(self.x0, self.sr, records)
            return res.wav, records, res.peak
        return None, [], {}


def _target_info(tgt: Any) -> dict[str, Any] | None:
    """What the target reports about its last query (e.g. a model's reply and its verdict)."""
    info = getattr(tgt, "last_info", None)
    return dict(info) if isinstance(info, dict) else None


def _resolve_ajailbench(
    recs: list[PerturbationRecord], sr: int, n_samples: int, caps: AJailBenchCaps
) -> list[PerturbationRecord]:
    """The ``ajailbench`` records of ``recs`` resolved into the concrete perturbation each one draws."""
    out = []
    for r in recs:
        if r.name == "ajailbench" and r.applied:
            w, p = round(float(r.params["way"]), 3), round(float(r.params["parameter"]), 3)
            resolved = resolve(w, p, sr, n_samples, caps)
            if resolved is not None:
                resolved.info = {"way": w, "parameter": p}
                out.append(resolved)
        else:
            out.append(r)
    return out
