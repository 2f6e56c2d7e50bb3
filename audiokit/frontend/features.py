"""Frame-level features shared by metrics and models (f0; more are added by the models that need them)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["f0_pyin", "PYIN_BLOCK_SECONDS", "StreamingPyin"]

#: Inputs longer than this are analysed by :func:`f0_pyin` in blocks (with context).
PYIN_BLOCK_SECONDS = 20.0


def _mono_f64(wav: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    x = wav.detach().cpu().numpy() if isinstance(wav, torch.Tensor) else np.asarray(wav)
    if x.ndim > 1 and x.shape[0] == 1:
        x = x.reshape(-1)
    x = np.asarray(x, np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name} expects mono audio (T,), got shape {x.shape}")
    return x


def _pyin(
    x: np.ndarray, sample_rate: int, hop: int, fmin: float, fmax: float, frame_length: int, center: bool
) -> tuple[np.ndarray, np.ndarray]:
    """One :func:`librosa.pyin` pass: ``(f0_hz, voiced)``, f0 0 where unvoiced. Its Viterbi decoding
    runs banded (:mod:`audiokit.frontend.viterbi`: the same states, about 15x faster at a 4 ms hop)."""
    import librosa

    from audiokit.frontend.viterbi import exact_pyin_viterbi

    with exact_pyin_viterbi():
        f0, voiced, _ = librosa.pyin(
            x, fmin=fmin, fmax=fmax, sr=sample_rate, frame_length=frame_length, hop_length=hop, center=center
        )
    return np.where(voiced, np.nan_to_num(f0, nan=0.0), 0.0).astype(np.float64), voiced.astype(bool)


class StreamingPyin:
    """:func:`f0_pyin` on a stream of mono samples: ``push(x)`` returns the frames that are final,
    ``flush()`` the rest; together they equal :func:`f0_pyin` of the whole signal exactly (the
    same blocks are decoded from the same samples).

    A signal up to ``block_seconds`` plus two margins long is decoded in one pass (so it is buffered
    whole); a longer one in blocks of ``block_seconds``, each with ``margin_seconds`` of context on
    both sides. The buffer holds at most one block plus two margins: memory is bounded by the block.
    """

    def __init__(
        self,
        sample_rate: int,
        hop_length: int,
        fmin: float = 50.0,
        fmax: float = 1000.0,
        frame_length: int | None = None,
        block_seconds: float | None = PYIN_BLOCK_SECONDS,
        margin_seconds: float = 1.0,
    ):
        self.sample_rate, self.hop = int(sample_rate), int(hop_length)
        self.fmin, self.fmax = fmin, fmax
        self.frame_length = (
            max(1024, int(2 ** np.ceil(np.log2(4.0 * sample_rate / fmin))))
            if frame_length is None
            else int(frame_length)
        )
        self.block = (
            None if block_seconds is None else max(1, round(block_seconds * sample_rate / hop_length))
        )
        self.margin = int(np.ceil(margin_seconds * sample_rate / hop_length)) * hop_length
        self._parts: list[np.ndarray] = []  # buffered samples from absolute index ``_q0``
        self._q0 = 0
        self._n_in = 0
        self._f_next = 0  # first frame not yet returned
        self._blocked = False
        self.closed = False

    def _one_pass(self, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _pyin(seg, self.sample_rate, self.hop, self.fmin, self.fmax, self.frame_length, True)

    def _buffer(self) -> np.ndarray:
        if len(self._parts) > 1:
            self._parts = [np.concatenate(self._parts)]
        return self._parts[0] if self._parts else np.zeros(0)

    def _run_block(self, n_frames: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Decode frames ``[f_next, f_next + block)`` (``n_frames``: the total, known at the end)."""
        assert self.block is not None
        f_start = self._f_next
        f_stop = f_start + self.block if n_frames is None else min(n_frames, f_start + self.block)
        a = max(0, f_start * self.hop - self.margin)  # a multiple of hop: frames stay on the grid
        b = min(self._n_in, (f_stop - 1) * self.hop + self.margin + 1)
        buf = self._buffer()
        f, v = self._one_pass(buf[a - self._q0 : b - self._q0])
        j0 = (f_start * self.hop - a) // self.hop
        self._f_next = f_stop
        keep = max(0, f_stop * self.hop - self.margin)  # the next block's first sample
        self._parts, self._q0 = [buf[keep - self._q0 :]], keep
        return f[j0 : j0 + f_stop - f_start], v[j0 : j0 + f_stop - f_start]

    @staticmethod
    def _cat(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        if not parts:
            return np.zeros(0), np.zeros(0, dtype=bool)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def push(self, x: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(t,)`` samples -> ``(f0_hz, voiced)`` of the frames now final (possibly none)."""
        if self.closed:
            raise ValueError("StreamingPyin: push() after flush(); make a new stream")
        x = _mono_f64(x, "StreamingPyin.push")
        self._parts.append(x)
        self._n_in += x.size
        if self.block is None:
            return self._cat([])
        if not self._blocked and self._n_in > self.block * self.hop + 2 * self.margin:
            self._blocked = True
        out = []
        while self._blocked and self._n_in >= (self._f_next + self.block - 1) * self.hop + self.margin + 1:
            out.append(self._run_block(None))
        return self._cat(out)

    def flush(self) -> tuple[np.ndarray, np.ndarray]:
        """The remaining frames (``1 + T // hop`` frames in all)."""
        if self.closed:
            raise ValueError("StreamingPyin: flush() twice; make a new stream")
        self.closed = True
        if self._n_in == 0:
            raise ValueError("StreamingPyin: no samples were pushed")
        n_frames = 1 + self._n_in // self.hop
        if not self._blocked:
            return self._one_pass(self._buffer())
        out = []
        while self._f_next < n_frames:
            out.append(self._run_block(n_frames))
        return self._cat(out)


def f0_pyin(
    wav: torch.Tensor | np.ndarray,
    sample_rate: int,
    hop_length: int,
    fmin: float = 50.0,
    fmax: float = 1000.0,
    frame_length: int | None = None,
    center: bool = True,
    block_seconds: float | None = PYIN_BLOCK_SECONDS,
    margin_seconds: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Fundamental frequency by probabilistic YIN (:func:`librosa.pyin`).

    Args:
        wav: mono audio ``(T,)`` (a ``(1, T)`` tensor is accepted).
        hop_length: hop of the output frames in samples; frame ``n`` is centred at ``n * hop_length``
            when ``center=True``.
        fmin, fmax: search range in Hz.
        frame_length: analysis window; defaults to the next power of two >= ``4 * sample_rate / fmin``
            capped below by 1024 (pyin needs several periods of ``fmin``).
        block_seconds: longer inputs (``center=True``) are analysed in blocks of this many seconds,
            each with ``margin_seconds`` of context on both sides, so memory and time grow with the
            block, not the file (pyin's Viterbi decoding is otherwise global over the whole file and
            needs gigabytes for minutes of audio). The frames equal whole-file pyin except where the
            decoding's choice depends on audio more than the margin away (rare; see the tests).
            ``None``: one pass. :class:`StreamingPyin` gives the same frames from a stream.

    Returns:
        ``(f0_hz, voiced)``: float arrays of ``1 + T // hop_length`` frames; ``f0_hz`` is 0 where unvoiced.
    """
    x = _mono_f64(wav, "f0_pyin")
    stream = StreamingPyin(
        sample_rate, hop_length, fmin, fmax, frame_length, block_seconds if center else None, margin_seconds
    )
    if not center:
        return _pyin(x, sample_rate, hop_length, fmin, fmax, stream.frame_length, False)
    head = stream.push(x)
    tail = stream.flush()
    return np.concatenate([head[0], tail[0]]), np.concatenate([head[1], tail[1]])
