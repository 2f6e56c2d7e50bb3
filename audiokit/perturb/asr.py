"""Offline speech recognition with pocketsphinx (optional extra ``audiokit[asr]``), for the
ASR consistency constraint and the keyword target.

pocketsphinx 5.1.1's PyPI wheel ships the CMU US-English acoustic model, dictionary and a large
trigram LM. Two decoding modes:

* open vocabulary (default): the bundled LM; general but slow (1-5 s per 5 s clip) and weak on
  synthetic voices;
* closed vocabulary (``corpus=`` sentences): a trigram LM built from the sentences with a
  dictionary restricted to their words; fast (~0.3 s per 5 s clip) and robust, the setting the
  reference tests recommend for prompt sets known in advance.
"""

from __future__ import annotations

import io
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from audiokit.extras import require
from audiokit.io import resample
from audiokit.perturb.base import as_numpy

__all__ = ["PocketSphinx", "Transcript", "word_error_rate", "normalize_text", "require_pocketsphinx"]

log = logging.getLogger(__name__)

ASR_RATE = 16000


def require_pocketsphinx() -> Any:
    """The ``pocketsphinx`` module, or :class:`audiokit.extras.MissingDependencyError`."""
    return require("pocketsphinx", "asr", "the ASR constraint and the keyword target")


def normalize_text(text: str) -> list[str]:
    """Lower-case words without punctuation (apostrophes kept)."""
    return re.findall(r"[a-z0-9']+", text.lower())


def word_error_rate(reference: Sequence[str] | str, hypothesis: Sequence[str] | str) -> float:
    """Levenshtein word error rate ``(S + D + I) / len(reference)`` (1.0 for an empty reference
    with a non-empty hypothesis, 0.0 when both are empty)."""
    ref = normalize_text(reference) if isinstance(reference, str) else list(reference)
    hyp = normalize_text(hypothesis) if isinstance(hypothesis, str) else list(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1] / len(ref)


class Transcript:
    """A decoding result: ``text``, ``words`` (with alternates' ``(2)`` suffixes removed) and each
    word's posterior ``probs`` (lattice posterior from pocketsphinx; 1.0 when unavailable)."""

    def __init__(self, words: list[str], probs: list[float]):
        self.words = words
        self.probs = probs

    @property
    def text(self) -> str:
        return " ".join(self.words)

    def posterior(self, word: str) -> float:
        """Highest posterior of ``word`` in the transcript (0.0 when absent)."""
        w = word.lower()
        return max((p for x, p in zip(self.words, self.probs) if x == w), default=0.0)

    def __repr__(self) -> str:
        return f"Transcript({self.text!r})"


class PocketSphinx:
    """pocketsphinx recogniser; picklable (the decoder is built lazily in each process).

    Args:
        corpus: sentences for a closed-vocabulary LM (every word must be in CMUdict); ``None``
            uses the bundled open-vocabulary LM.
    """

    def __init__(self, corpus: Sequence[str] | None = None):
        self.corpus = [" ".join(normalize_text(s)) for s in corpus] if corpus else None
        if self.corpus is not None and not any(self.corpus):
            raise ValueError("PocketSphinx: the corpus has no words")
        self._decoder: Any = None
        self._tmp: list[str] = []

    def __getstate__(self) -> dict[str, Any]:
        return {"corpus": self.corpus, "_decoder": None, "_tmp": []}

    def _build(self) -> Any:
        ps = require_pocketsphinx()
        kw: dict[str, Any] = {"samprate": ASR_RATE, "loglevel": "FATAL", "bestpath": True}
        if self.corpus is not None:
            from pocketsphinx.lm import ArpaBoLM

            words = sorted({w for s in self.corpus for w in s.split()})
            dict_path = os.path.join(ps.get_model_path(), "en-us", "cmudict-en-us.dict")
            wanted = set(words)
            lines, found = [], set()
            with open(dict_path, encoding="utf-8") as f:
                for line in f:
                    head = line.split(" ", 1)[0]
                    base = head.split("(", 1)[0]
                    if base in wanted:
                        lines.append(line)
                        found.add(base)
            missing = sorted(wanted - found)
            if missing:
                raise ValueError(f"PocketSphinx: words not in the pronunciation dictionary: {missing}")
            lm = ArpaBoLM(text="\n".join(self.corpus) + "\n", add_start=True)
            lm.compute()
            buf = io.StringIO()
            lm.write(buf)
            fd, lm_path = tempfile.mkstemp(suffix=".arpa")
            with os.fdopen(fd, "w") as f:
                f.write(buf.getvalue())
            fd, dic_path = tempfile.mkstemp(suffix=".dict")
            with os.fdopen(fd, "w") as f:
                f.writelines(lines)
            self._tmp = [lm_path, dic_path]
            kw.update(lm=lm_path, dict=dic_path)
        dec = ps.Decoder(**kw)
        for p in self._tmp:  # the decoder has read them
            os.unlink(p)
        self._tmp = []
        return dec

    def transcribe(self, wav: Any, sr: int) -> Transcript:
        """Decode ``(T,)``/``(C, T)`` audio (mixed to mono, resampled to 16 kHz)."""
        x = as_numpy(wav, "asr input").mean(axis=0)
        if sr != ASR_RATE:
            x = resample(x, sr, ASR_RATE).numpy()
        pcm = (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        if self._decoder is None:
            self._decoder = self._build()
        dec = self._decoder
        dec.start_utt()
        dec.process_raw(pcm, full_utt=True)
        dec.end_utt()
        words, probs = [], []
        for seg in dec.seg() or []:
            w = seg.word
            if w.startswith(("<", "[")) or w in ("<s>", "</s>", "<sil>"):
                continue
            words.append(w.split("(", 1)[0].lower())
            probs.append(float(seg.prob) if seg.prob is not None else 1.0)
        return Transcript(words, probs)
