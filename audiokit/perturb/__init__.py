"""APT, the audio perturbation toolkit of AJailBench: time, frequency and amplitude
perturbations with replayable records, a semantic consistency constraint, targets (audio-language
models through OpenAI-compatible endpoints or transformers, judged as AJailBench) and a
constrained Bayesian search.

Example:
    >>> from audiokit.perturb import Chain, search, KeywordTarget  # doctest: +SKIP
    >>> out = Chain(["pitch_shift", "noise"])(wav, sr, rng=0)      # out.wav, out.records
    >>> res = search(wav, sr, KeywordTarget("canoe"), "estoi:0.6", ["noise", "dropout"], budget=20)
"""

from __future__ import annotations

from audiokit.perturb.base import (
    Choice,
    Fixed,
    IntRange,
    Perturbation,
    PerturbationRecord,
    RandomSeed,
    Uniform,
    available,
    create,
    get,
    register,
    replay,
)
from audiokit.perturb.chain import PRESETS, Chain, ChainResult, limit_peaks, preset
from audiokit.perturb.chat import OpenAITarget, ReplyTarget
from audiokit.perturb.constraints import (
    ASRConstraint,
    Constraint,
    ESTOIConstraint,
    FunctionConstraint,
    SNRConstraint,
    make_constraint,
)
from audiokit.perturb.judges import (
    LLMJudge,
    RefusalKeywordJudge,
    RefusalSimilarityJudge,
    make_judge,
    refusal_sentences,
)
from audiokit.perturb.local import TransformersTarget
from audiokit.perturb.search import SAMPLERS, SearchResult, SearchSpace, run_study, search
from audiokit.perturb.targets import (
    REFUSAL_KEYWORDS,
    FunctionTarget,
    HTTPTarget,
    KeywordTarget,
    Target,
    is_refusal,
    load_target,
    make_target,
)

__all__ = [
    "Perturbation",
    "PerturbationRecord",
    "Uniform",
    "IntRange",
    "Choice",
    "Fixed",
    "RandomSeed",
    "available",
    "create",
    "get",
    "register",
    "replay",
    "Chain",
    "ChainResult",
    "PRESETS",
    "preset",
    "limit_peaks",
    "Constraint",
    "FunctionConstraint",
    "ESTOIConstraint",
    "SNRConstraint",
    "ASRConstraint",
    "make_constraint",
    "Target",
    "FunctionTarget",
    "HTTPTarget",
    "KeywordTarget",
    "REFUSAL_KEYWORDS",
    "is_refusal",
    "load_target",
    "make_target",
    "ReplyTarget",
    "OpenAITarget",
    "TransformersTarget",
    "RefusalKeywordJudge",
    "RefusalSimilarityJudge",
    "LLMJudge",
    "make_judge",
    "refusal_sentences",
    "SAMPLERS",
    "SearchSpace",
    "SearchResult",
    "search",
    "run_study",
]
