"""A synthetic dataset in the ARAUS layout, with responses drawn from the known oracle.

:func:`make_synthetic_araus` writes the ARAUS folder structure (``data/*.csv``, ``soundscapes/``,
``maskers/``) filled with :mod:`audiokit.soundscape.synthetic` sounds, calibration tables that make
the ARAUS mixing rule place each masker exactly at ``insitu_leq - smr``, participants with a personal
bias, the practice/attention/consistency stimuli (``fold_r = -1``) and eight 1-5 ratings per response
whose ISO pleasantness follows :func:`~audiokit.soundscape.synthetic.oracle_pleasantness` plus noise.
The oracle value and noise level of every response are written to ``data/oracle.csv`` (not an ARAUS
file), so a trained model can be compared with the truth.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiokit.io import atomic_write, save
from audiokit.soundscape.araus import ATTRIBUTES
from audiokit.soundscape.synthetic import (
    SPL_OFFSET_DB,
    SoundInfo,
    level_db,
    noise_std,
    oracle_pleasantness,
    synth_masker,
    synth_soundscape,
)

__all__ = ["SyntheticARAUSConfig", "make_synthetic_araus"]

_MASKER_CYCLE = ("bird", "water", "wind", "traffic", "construction")
_SMRS = (-6.0, -3.0, 0.0, 3.0, 6.0)
_PRACTICE = "R0091_segment_binaural_44100_1.wav"


@dataclass
class SyntheticARAUSConfig:
    """Size of a synthetic ARAUS folder (fold 0 is the test set, folds 1-5 cross-validation)."""

    folds: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
    soundscapes_per_fold: int = 4
    maskers_per_fold: int = 5  # plus one silence masker per fold
    participants_per_fold: int = 3
    stimuli_per_participant: int = 8  # rated stimuli, besides the 3 shared ones
    seconds: float = 3.0
    sample_rate: int = 44100
    seed: int = 0


def _write_csv(path: Path, header: list[str], rows: list[dict]) -> None:
    with atomic_write(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)


def _ratings(rng: np.random.Generator, y: float, e: float, attention: bool) -> dict[str, int]:
    if attention:
        return {a: 3 for a in (*ATTRIBUTES, "appropriate")}
    sign = {"pleasant": 1, "calm": 1, "vibrant": 1, "annoying": -1, "chaotic": -1, "monotonous": -1}
    out = {}
    for a in ATTRIBUTES:
        if a in sign:
            v = 3 + 2 * sign[a] * y + rng.normal(0, 0.35)
        else:
            v = 3 + 2 * (e if a == "eventful" else -e) + rng.normal(0, 0.5)
        out[a] = int(np.clip(np.rint(v), 1, 5))
    out["appropriate"] = int(np.clip(np.rint(3 + y + rng.normal(0, 0.7)), 1, 5))
    return out


def make_synthetic_araus(root: str | os.PathLike, config: SyntheticARAUSConfig | None = None) -> Path:
    """Write a synthetic ARAUS-format dataset under ``root`` and return ``root``.

    Every fold has its own soundscapes, maskers (cycling bird, water, wind, traffic, construction,
    plus one silence masker) and participants, so the folds are pairwise disjoint as in ARAUS. Each
    cross-validation participant rates ``stimuli_per_participant`` random (soundscape, masker, SMR)
    stimuli of their fold between the shared practice (first), attention (middle) and consistency
    (last) stimuli; test-fold participants all rate the same stimuli.
    """
    cfg = config or SyntheticARAUSConfig()
    root = Path(root)
    rng = np.random.default_rng(cfg.seed)
    sr, secs = cfg.sample_rate, cfg.seconds
    soundscape_rows, masker_rows, participant_rows, response_rows, oracle_rows = [], [], [], [], []
    sinfo: dict[str, tuple[SoundInfo, float, float]] = {}
    minfo: dict[str, SoundInfo] = {}

    def add_soundscape(name: str, fold: int) -> None:
        x, info = synth_soundscape(secs, sr, rng, level=float(rng.uniform(-40, -20)))
        x = x * min(1.0, 0.99 / float(np.abs(x).max()))  # stay within full scale
        save(root / "soundscapes" / name, x, sr)
        info.level_db = level_db(x)
        insitu = float(rng.uniform(52, 77))
        gain = 10.0 ** ((insitu - SPL_OFFSET_DB - info.level_db) / 20.0)
        sinfo[name] = (info, gain, insitu)
        soundscape_rows.append(
            {"soundscape": name, "fold_s": fold, "insitu_leq": f"{insitu:.4f}", "gain_s": f"{gain:.8g}"}
        )

    def add_masker(name: str, fold: int, cls: str) -> None:
        x, info = synth_masker(cls, secs, sr, rng, level=float(rng.uniform(-35, -20)))
        x = x * min(1.0, 0.99 / max(float(np.abs(x).max()), 1e-9))
        save(root / "maskers" / name, x, sr)
        info.level_db = level_db(x)
        minfo[name] = info
        row = {"masker": name, "fold_m": fold, "class": cls}
        for lv in range(46, 84):
            if cls == "silence":
                g, q = 1.0, float(lv)
            else:
                err = 1.0 + rng.uniform(-0.02, 0.02)  # calibration measurement error, compensated
                g = 10.0 ** ((lv - SPL_OFFSET_DB - info.level_db) / 20.0) * err
                q = lv + 20.0 * math.log10(err)
            row[f"gain_{lv}dB"] = f"{g:.8g}"
            row[f"leq_at_gain_{lv}dB"] = f"{q:.6f}"
        masker_rows.append(row)

    add_soundscape(_PRACTICE, -1)
    for fold in cfg.folds:
        for i in range(cfg.soundscapes_per_fold):
            add_soundscape(f"S{fold}{i:03d}_segment_binaural_44100_1.wav", fold)
        for i in range(cfg.maskers_per_fold):
            cls = _MASKER_CYCLE[(i + fold) % len(_MASKER_CYCLE)]
            add_masker(f"{cls}_{fold}{i:04d}.wav", fold, cls)
        add_masker(f"silence_{fold}0001.wav", fold, "silence")
    practice_masker = f"silence_{cfg.folds[0]}0001.wav"

    def respond(
        participant: str, fold: int, index: int, s: str, m: str, smr: float, bias: float, attention=False
    ):
        info, gs, insitu = sinfo[s]
        mi = minfo[m]
        if mi.kind == "silence":
            gm_db = -math.inf
        else:
            gm_db = (insitu - smr - SPL_OFFSET_DB) - mi.level_db
        p = float(oracle_pleasantness(info, mi, gm_db, 20 * math.log10(gs)))
        sd = float(noise_std(mi, smr))
        y = float(np.clip(p + bias + rng.normal(0, sd), -1, 1))
        l_mix = info.level_db + 20 * math.log10(gs) + SPL_OFFSET_DB
        e = math.tanh((l_mix - 65.0) / 12.0) + (0.2 if mi.kind in ("bird", "construction") else 0.0)
        row = {
            "participant": participant,
            "fold_r": -1 if (attention or s == _PRACTICE) else fold,
            "soundscape": s,
            "masker": m,
            "smr": int(smr),
            "stimulus_index": index,
            "time_taken": f"{30 + rng.exponential(8):.2f}",
            "is_attention": int(attention),
            **_ratings(rng, y, e, attention),
        }
        response_rows.append(row)
        oracle_rows.append(
            {
                "participant": participant,
                "stimulus_index": index,
                "oracle_pleasantness": f"{p:.6f}",
                "noise_std": f"{sd:.4f}",
            }
        )

    for fold in cfg.folds:
        ss = [r["soundscape"] for r in soundscape_rows if r["fold_s"] == fold]
        ms = [r["masker"] for r in masker_rows if r["fold_m"] == fold]
        combos = [(s, m, smr) for s in ss for m in ms for smr in _SMRS]
        shared = [combos[i] for i in rng.permutation(len(combos))[: cfg.stimuli_per_participant]]
        for i in range(cfg.participants_per_fold):
            pid = f"ARAUS_{fold}{i:04d}"
            participant_rows.append({"participant": pid, "fold_p": fold})
            bias = float(rng.normal(0, 0.08))
            chosen = (
                shared
                if fold == 0
                else [combos[j] for j in rng.permutation(len(combos))[: cfg.stimuli_per_participant]]
            )
            n = len(chosen) + 3
            attention_at = 2 + len(chosen) // 2
            respond(pid, fold, 1, _PRACTICE, practice_masker, 0.0, bias)
            k = 0
            for index in range(2, n):
                if index == attention_at:
                    respond(pid, fold, index, _PRACTICE, practice_masker, 0.0, bias, attention=True)
                else:
                    s, m, smr = chosen[k]
                    k += 1
                    respond(pid, fold, index, s, m, smr, bias)
            respond(pid, fold, n, _PRACTICE, practice_masker, 0.0, bias)

    data = root / "data"
    _write_csv(data / "soundscapes.csv", ["soundscape", "fold_s", "insitu_leq", "gain_s"], soundscape_rows)
    cal = [f"{k}_{lv}dB" for lv in range(46, 84) for k in ("gain", "leq_at_gain")]
    _write_csv(data / "maskers.csv", ["masker", "fold_m", "class", *cal], masker_rows)
    _write_csv(data / "participants.csv", ["participant", "fold_p"], participant_rows)
    keys = ["participant", "fold_r", "soundscape", "masker", "smr", "stimulus_index", "time_taken"]
    header = [*keys, "is_attention", *ATTRIBUTES, "appropriate"]
    _write_csv(data / "responses.csv", header, response_rows)
    _write_csv(
        data / "oracle.csv",
        ["participant", "stimulus_index", "oracle_pleasantness", "noise_std"],
        oracle_rows,
    )
    return root
