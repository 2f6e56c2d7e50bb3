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

from audiokit.perturb.base import (
    Choice,
    Fixed,
    Param,
    Perturbation,
    PerturbationRecord,
    RandomSeed,
    as_numpy,
    create,
    names_of,
)
from audiokit.perturb.chain import Chain
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
        violation = min(v, 0.0) if out.feasible else max(v, 1e-6)
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
        return float(value)

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
    stop_at_success = (not official) if stop_at_success is None else stop_at_success
    keep = ("last" if official else "best") if keep is None else keep
    cumulative = official if cumulative is None else cumulative
    query_infeasible = official if query_infeasible is None else query_infeasible
    tgt = make_target(target)
    con = make_constraint(constraint)
    if space is None:
        from audiokit.perturb.chain import preset

        space = preset("ajailbench") if official else ["pitch_shift", "time_stretch", "noise", "gain"]
    if isinstance(space, Chain):
        space = SearchSpace.from_chain(space)
    elif not isinstance(space, SearchSpace):
        space = SearchSpace(space)
    x0 = as_numpy(wav, "search input")
    sr = int(sr)
    seeds = space.seeds(seed)
    dims = space.dims()
    runner = Chain(space.perturbations, peak=peak)
    caps = None
    if cumulative and space.is_ajailbench:
        from audiokit.perturb.ajailbench import AJailBenchCaps

        caps = AJailBenchCaps()
    state: dict[str, Any] = {"x": x0, "chain": [], "queries": 0, "best_wav": None, "best_key": None}
    baseline_score = None
    baseline_info = None
    if baseline:
        baseline_score = float(tgt(x0, sr))
        baseline_info = _target_info(tgt)
        state["queries"] += 1
        if tgt.success(baseline_score):
            info = {"baseline": True, **({"target": baseline_info} if baseline_info else {})}
            rec = TrialRecord(-1, {}, "complete", baseline_score, 1.0, True, True, True, info=info)
            return SearchResult(
                rec, True, [], 1, sampler, seed, [], wav, baseline_score, baseline_info=baseline_info
            )

    def evaluate(values: dict[str, Any], number: int) -> Outcome:
        recs = space.records(values, seeds)
        if caps is not None:
            recs = _resolve_ajailbench(recs, sr, state["x"].shape[-1], caps)
        base = state["x"] if cumulative else x0
        res = runner.apply(base, sr, recs)
        y = res.wav
        cval = float(con(x0, y, sr))
        feasible = con.feasible(cval)
        score = None
        tinfo = None
        if feasible or query_infeasible:
            score = float(tgt(y, sr))
            tinfo = _target_info(tgt)
            state["queries"] += 1
        success = feasible and tgt.success(score)
        applied = [r for r in res.records if r.applied]
        chain_recs = (state["chain"] if cumulative else []) + applied
        info = {
            "records": [r.to_dict() for r in applied],
            "violation": con.threshold - cval,
            "peak": res.peak,
        }
        if tinfo:
            info["target"] = tinfo
        if cumulative:
            state["x"], state["chain"] = y, chain_recs
        key = (score if score is not None else -math.inf, cval)
        if keep == "last" or (
            feasible and score is not None and (state["best_key"] is None or key > state["best_key"])
        ):
            state["best_key"], state["best_wav"], state["best_chain"], state["best_peak"] = (
                key,
                y,
                chain_recs,
                res.peak,
            )
            state["best_number"] = number
        return Outcome(score, cval, feasible, success, score is not None, info)

    history, kept = run_study(
        evaluate,
        dims,
        budget,
        sampler,
        seed,
        n_startup,
        stop_at_success,
        keep,
        legacy_constraints,
        impute=baseline_score,
    )
    out_wav = None
    records: list[PerturbationRecord] = []
    peak_report: dict[str, Any] = {}
    if kept is not None and state.get("best_number") == kept.number:
        out_wav = state["best_wav"]
        records = state["best_chain"]
        peak_report = state["best_peak"]
    elif kept is not None and not cumulative:  # defensive: re-create the kept trial's audio
        records = [PerturbationRecord.from_dict(d) for d in kept.info.get("records", [])]
        res = runner.apply(x0, sr, records)
        out_wav, peak_report = res.wav, res.peak
    if out_wav is not None:
        from audiokit.perturb.base import like_input

        out_wav = like_input(as_numpy(out_wav), wav)
    success = bool(kept is not None and kept.success)
    return SearchResult(
        kept,
        success,
        history,
        state["queries"],
        sampler,
        seed,
        records,
        out_wav,
        baseline_score,
        peak_report,
        baseline_info,
    )


def _target_info(tgt: Any) -> dict[str, Any] | None:
    """What the target reports about its last query (e.g. a model's reply and its verdict)."""
    info = getattr(tgt, "last_info", None)
    return dict(info) if isinstance(info, dict) else None


def _resolve_ajailbench(
    recs: list[PerturbationRecord], sr: int, n_samples: int, caps: Any
) -> list[PerturbationRecord]:
    from audiokit.perturb.ajailbench import resolve

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
