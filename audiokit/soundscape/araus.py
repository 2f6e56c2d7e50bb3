"""Reader of the ARAUS dataset layout (Ooi et al., IEEE TAFFC 2023) for masker/gain training.

Published layout (``download.py`` of the ARAUS repository)::

    ROOT/data/responses.csv     participant, fold_r, soundscape, masker, smr, stimulus_index,
                                is_attention, pleasant ... monotonous, appropriate, ...
    ROOT/data/soundscapes.csv   soundscape, fold_s, insitu_leq, gain_s, ...
    ROOT/data/maskers.csv       masker, fold_m, class, gain_46dB ... gain_83dB,
                                leq_at_gain_46dB ... leq_at_gain_83dB, ...
    ROOT/data/participants.csv  participant, fold_p, ...   (optional here)
    ROOT/soundscapes/*.wav      binaural, 44.1 kHz, 30 s
    ROOT/maskers/*.wav          mono, 44.1 kHz, 30 s

(ARAUSv2 keeps its CSVs in ``ROOT/datav2``; pass ``csv_dir``.)

Conventions reproduced from the ARAUS code:

* label = normalised ISO 12913-3 pleasantness of the eight ratings,
  ``[(pl - an) + cos45 (ca - ch) + cos45 (vi - mo)] / (4 + sqrt 32)`` in [-1, 1];
* folds 1-5 form the cross-validation set (soundscapes, maskers and participants pairwise disjoint
  across folds), fold 0 the independent test set, whose label per stimulus (soundscape, masker,
  SMR) is the mean over its participants; ARAUSv2 adds test folds 6 and 7;
* rows with ``fold_r == -1`` (the practice, attention and consistency stimuli shared by every
  participant) and attention rows (``is_attention == 1``) are excluded;
* stimulus = ``gain_s * soundscape + gain_m * masker`` with ``gain_m`` from the masker's calibration
  table at ``L_m = insitu_leq - smr``: ``gain_m = gain_{l}dB * 10^((L_m - leq_at_gain_{l}dB) / 20)``,
  ``l = round(L_m)``.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ATTRIBUTES",
    "ISO_PLEASANTNESS_WEIGHTS",
    "ISO_EVENTFULNESS_WEIGHTS",
    "CV_FOLDS",
    "TEST_FOLD",
    "iso_pleasantness",
    "iso_eventfulness",
    "Response",
    "Stimulus",
    "MaskerInfo",
    "SoundscapeInfo",
    "ARAUS",
]

log = logging.getLogger(__name__)

#: The eight perceived affective quality (PAQ) attributes of ISO 12913-2, in ARAUS column order.
ATTRIBUTES = ("pleasant", "eventful", "chaotic", "vibrant", "uneventful", "calm", "annoying", "monotonous")
_C = math.sqrt(2.0) / 2.0
ISO_PLEASANTNESS_WEIGHTS = (1.0, 0.0, -_C, _C, 0.0, _C, -1.0, -_C)
ISO_EVENTFULNESS_WEIGHTS = (0.0, 1.0, _C, _C, -1.0, -_C, 0.0, -_C)
_NORM = 4.0 + math.sqrt(32.0)
CV_FOLDS = (1, 2, 3, 4, 5)
TEST_FOLD = 0
_CAL_LEVELS = range(46, 84)  # gain_46dB ... gain_83dB


def _weighted(ratings: Sequence[float] | Mapping[str, float], weights: Sequence[float]) -> float:
    vals = (
        [float(ratings[a]) for a in ATTRIBUTES] if isinstance(ratings, Mapping) else list(map(float, ratings))
    )
    if len(vals) != len(ATTRIBUTES):
        raise ValueError(f"expected {len(ATTRIBUTES)} ratings {ATTRIBUTES}, got {len(vals)}")
    return sum(w * v for w, v in zip(weights, vals)) / _NORM


def iso_pleasantness(ratings: Sequence[float] | Mapping[str, float]) -> float:
    """Normalised ISO pleasantness in [-1, 1] of the eight ratings (1-5), ordered as :data:`ATTRIBUTES`
    or given by name."""
    return _weighted(ratings, ISO_PLEASANTNESS_WEIGHTS)


def iso_eventfulness(ratings: Sequence[float] | Mapping[str, float]) -> float:
    """Normalised ISO eventfulness in [-1, 1] (same inputs as :func:`iso_pleasantness`)."""
    return _weighted(ratings, ISO_EVENTFULNESS_WEIGHTS)


@dataclass(frozen=True)
class Response:
    """One row of ``responses.csv``."""

    participant: str
    fold: int
    soundscape: str
    masker: str
    smr: float
    stimulus_index: int
    is_attention: bool
    ratings: tuple[float, ...]

    @property
    def pleasantness(self) -> float:
        return iso_pleasantness(self.ratings)

    @property
    def eventfulness(self) -> float:
        return iso_eventfulness(self.ratings)


@dataclass(frozen=True)
class Stimulus:
    """A training/evaluation item: a (soundscape, masker, SMR) stimulus and its label.

    For cross-validation folds every response is its own item (``n_responses == 1``); for test folds
    the ratings of all participants who heard the stimulus are averaged (as the ARAUS code).
    """

    soundscape: str
    masker: str
    smr: float
    fold: int
    pleasantness: float
    n_responses: int = 1
    participant: str = ""


@dataclass(frozen=True)
class SoundscapeInfo:
    name: str
    fold: int
    insitu_leq: float
    gain: float


@dataclass(frozen=True)
class MaskerInfo:
    name: str
    fold: int
    cls: str
    calibration: Mapping[int, tuple[float, float]]  # level dB -> (gain, measured leq)


def _read_csv(path: Path, required: Iterable[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no such file (expected the ARAUS layout; see audiokit.soundscape.araus)"
        )
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
        return list(reader)


def _num(row: dict[str, str], key: str, path: Path, line: int, cast=float):
    try:
        return cast(float(row[key])) if cast is int else cast(row[key])
    except (TypeError, ValueError):
        raise ValueError(f"{path}, row {line}: column {key!r} is not a number: {row.get(key)!r}") from None


class ARAUS:
    """The ARAUS tables and audio folders.

    Args:
        root: dataset folder (holding ``data/``, ``soundscapes/``, ``maskers/``).
        csv_dir: folder of the CSV files (default ``ROOT/data``; ``ROOT/datav2`` for ARAUSv2).
        soundscape_dir, masker_dir: audio folders (default ``ROOT/soundscapes``, ``ROOT/maskers``).

    Raises:
        FileNotFoundError: a required CSV file is missing.
        ValueError: a missing column, a non-numeric value, or a response naming an unknown
            soundscape/masker; the message names the file and row.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        csv_dir: str | os.PathLike | None = None,
        soundscape_dir: str | os.PathLike | None = None,
        masker_dir: str | os.PathLike | None = None,
    ):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root}: no such directory")
        self.csv_dir = Path(csv_dir) if csv_dir is not None else self.root / "data"
        self.soundscape_dir = (
            Path(soundscape_dir) if soundscape_dir is not None else self.root / "soundscapes"
        )
        self.masker_dir = Path(masker_dir) if masker_dir is not None else self.root / "maskers"
        self.soundscapes = self._read_soundscapes(self.csv_dir / "soundscapes.csv")
        self.maskers = self._read_maskers(self.csv_dir / "maskers.csv")
        self.responses = self._read_responses(self.csv_dir / "responses.csv")
        p = self.csv_dir / "participants.csv"
        self.participants: dict[str, int] = (
            {
                r["participant"]: _num(r, "fold_p", p, i + 2, int)
                for i, r in enumerate(_read_csv(p, ["participant", "fold_p"]))
            }
            if p.is_file()
            else {}
        )

    # -- tables -------------------------------------------------------------------------------
    def _read_soundscapes(self, path: Path) -> dict[str, SoundscapeInfo]:
        rows = _read_csv(path, ["soundscape", "fold_s", "insitu_leq", "gain_s"])
        out = {}
        for i, r in enumerate(rows):
            out[r["soundscape"]] = SoundscapeInfo(
                r["soundscape"],
                _num(r, "fold_s", path, i + 2, int),
                _num(r, "insitu_leq", path, i + 2),
                _num(r, "gain_s", path, i + 2),
            )
        return out

    def _read_maskers(self, path: Path) -> dict[str, MaskerInfo]:
        rows = _read_csv(path, ["masker", "fold_m", "class"])
        out = {}
        for i, r in enumerate(rows):
            cal = {}
            for level in _CAL_LEVELS:
                g, q = f"gain_{level}dB", f"leq_at_gain_{level}dB"
                if r.get(g) not in (None, "") and r.get(q) not in (None, ""):
                    cal[level] = (_num(r, g, path, i + 2), _num(r, q, path, i + 2))
            out[r["masker"]] = MaskerInfo(r["masker"], _num(r, "fold_m", path, i + 2, int), r["class"], cal)
        return out

    def _read_responses(self, path: Path) -> list[Response]:
        required = ["participant", "fold_r", "soundscape", "masker", "smr", "stimulus_index", *ATTRIBUTES]
        rows = _read_csv(path, required)
        out = []
        for i, r in enumerate(rows):
            line = i + 2
            if r["soundscape"] not in self.soundscapes:
                raise ValueError(
                    f"{path}, row {line}: soundscape {r['soundscape']!r} is not in soundscapes.csv"
                )
            if r["masker"] not in self.maskers:
                raise ValueError(f"{path}, row {line}: masker {r['masker']!r} is not in maskers.csv")
            out.append(
                Response(
                    participant=r["participant"],
                    fold=_num(r, "fold_r", path, line, int),
                    soundscape=r["soundscape"],
                    masker=r["masker"],
                    smr=_num(r, "smr", path, line),
                    stimulus_index=_num(r, "stimulus_index", path, line, int),
                    is_attention=bool(_num(r, "is_attention", path, line, int))
                    if r.get("is_attention")
                    else False,
                    ratings=tuple(_num(r, a, path, line) for a in ATTRIBUTES),
                )
            )
        return out

    # -- selection ----------------------------------------------------------------------------
    def usable_responses(self) -> list[Response]:
        """Responses without the shared practice/attention/consistency stimuli (``fold_r == -1``) and
        without attention rows (``is_attention == 1``)."""
        keep = [r for r in self.responses if r.fold >= 0 and not r.is_attention]
        dropped = len(self.responses) - len(keep)
        if dropped:
            log.info("ARAUS: excluded %d practice/attention/consistency responses", dropped)
        return keep

    def folds(self) -> list[int]:
        """Fold indices present among the usable responses."""
        return sorted({r.fold for r in self.usable_responses()})

    def items(self, fold: int) -> list[Stimulus]:
        """Training/evaluation items of one fold: one per response for folds 1-5, one per stimulus
        (ratings averaged over participants) for the test folds (0, 6, 7)."""
        rows = [r for r in self.usable_responses() if r.fold == fold]
        if fold in CV_FOLDS:
            return [
                Stimulus(r.soundscape, r.masker, r.smr, r.fold, r.pleasantness, 1, r.participant)
                for r in rows
            ]
        groups: dict[tuple[str, str, float], list[Response]] = defaultdict(list)
        for r in rows:
            groups[(r.soundscape, r.masker, r.smr)].append(r)
        out = []
        for (s, m, smr), rs in sorted(groups.items()):
            mean = [sum(r.ratings[k] for r in rs) / len(rs) for k in range(len(ATTRIBUTES))]
            out.append(Stimulus(s, m, smr, fold, iso_pleasantness(mean), len(rs)))
        return out

    def split(
        self, val_fold: int, cv_folds: Sequence[int] = CV_FOLDS, test_fold: int | None = TEST_FOLD
    ) -> tuple[list[Stimulus], list[Stimulus], list[Stimulus]]:
        """``(train, val, test)`` for one cross-validation round: train on the other CV folds,
        validate on ``val_fold``, test on ``test_fold`` (empty if absent or ``None``)."""
        if val_fold not in cv_folds:
            raise ValueError(
                f"val_fold {val_fold} is not one of the cross-validation folds {tuple(cv_folds)}"
            )
        train = [x for f in cv_folds if f != val_fold for x in self.items(f)]
        test = self.items(test_fold) if test_fold is not None else []
        return train, self.items(val_fold), test

    def check_folds(self, folds: Sequence[int] = CV_FOLDS) -> dict[str, int]:
        """Verify that soundscapes, maskers and participants are pairwise disjoint across ``folds``
        (and that fold 0 shares none of them). Returns the number of each; raises ``ValueError``
        naming the first overlap."""
        usable = self.usable_responses()
        counts = {}
        for what, key in (("soundscape", "soundscape"), ("masker", "masker"), ("participant", "participant")):
            owner: dict[str, int] = {}
            for r in usable:
                if r.fold not in folds and r.fold != TEST_FOLD:
                    continue
                name = getattr(r, key)
                if owner.setdefault(name, r.fold) != r.fold:
                    raise ValueError(f"{what} {name!r} appears in folds {owner[name]} and {r.fold}")
            counts[what] = sum(1 for f in owner.values() if f in folds)
            if what == "participant" and self.participants:
                for name, f in owner.items():
                    if name in self.participants and self.participants[name] != f:
                        raise ValueError(
                            f"participant {name!r} answers in fold {f} but participants.csv gives fold_p "
                            f"{self.participants[name]}"
                        )
        return counts

    # -- audio and gains ----------------------------------------------------------------------
    def soundscape_path(self, name: str) -> Path:
        return self.soundscape_dir / name

    def masker_path(self, name: str) -> Path:
        return self.masker_dir / name

    def soundscape_gain(self, soundscape: str) -> float:
        """Linear playback gain ``gain_s`` of a soundscape."""
        return self.soundscapes[soundscape].gain

    def masker_gain(self, masker: str, soundscape: str, smr: float) -> float:
        """Linear masker gain of the ARAUS mixing rule for a soundscape at an SMR (dB)."""
        info = self.maskers[masker]
        level = self.soundscapes[soundscape].insitu_leq - smr
        rounded = round(level)  # numpy's round-half-to-even, as the ARAUS code
        if rounded not in info.calibration:
            raise ValueError(
                f"masker {masker!r} has no calibration at {rounded} dB "
                f"(columns gain_{rounded}dB / leq_at_gain_{rounded}dB)"
            )
        gain, leq = info.calibration[rounded]
        return gain * 10.0 ** ((level - leq) / 20.0)
