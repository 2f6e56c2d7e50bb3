"""Frame-level conditioning features of DDSP: loudness (both published definitions), power and f0.

Two loudness definitions exist in magenta/ddsp and give very different numbers; both are here, named:

* :func:`compute_loudness` - the **current** definition (magenta >= ``a260cde``, Jan 2022, the fix of
  issue #361): A-weighted *power* averaged over frequency bins, then ``power_to_db`` (range 80 dB,
  ref 0 dB). n_fft 512, hop ``sr // frame_rate``, centred frames with zero padding. A unit 1013 Hz
  sine at 16 kHz reads +19.8 dB, the same sine at -20 dB reads -0.2 dB, unit uniform noise +18.2 dB,
  silence -80 dB. Models scale it as ``ld / 80 + 1``.
* :func:`compute_loudness_legacy` - the **paper-era** definition (magenta <= v1.x, e.g. v0.0.6, used
  for the ICLR 2020 models): per-bin ``20 log10 |S|`` plus A-weighting (dB), minus ref 20.7 dB,
  clamped at -120 dB, then the *mean of the dB values*; n_fft 2048, frames starting at ``j * hop``
  with zero padding at the end. It mostly counts bins above the floor (a unit sine reads about
  -109 dB, white noise +0.3 dB). Models scaled it as ``ld / 120 + 1``.

f0 comes from a pluggable extractor: any callable ``(audio (T,) float64 array, sample_rate, hop)
-> (f0_hz, confidence)`` with one value per frame centred on ``j * hop`` (for instance a CREPE
wrapper); :func:`pyin_f0` (librosa's pYIN through :func:`audiokit.frontend.f0_pyin`) is the default.
:func:`extract_features` aligns everything to the synthesizer's frames: ``F = T // hop`` frames, frame
``j`` describing sample ``j * hop``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import lru_cache

import numpy as np
import torch

from audiokit.ddsp.core import DB_RANGE, power_to_db
from audiokit.frontend import STFT, StreamingPyin, f0_pyin

__all__ = [
    "LEGACY_LD_RANGE",
    "F0Extractor",
    "compute_loudness",
    "compute_loudness_legacy",
    "compute_power",
    "a_weighting",
    "pyin_f0",
    "fill_unvoiced",
    "get_f0_extractor",
    "extract_features",
    "StreamingLoudness",
    "extract_features_stream",
]

log = logging.getLogger(__name__)

#: Dynamic range of the paper-era loudness (dB); its models scaled loudness as ``ld / 120 + 1``.
LEGACY_LD_RANGE = 120.0

F0Extractor = Callable[[np.ndarray, int, int], tuple[np.ndarray, np.ndarray]]


def _as_batch(audio: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, bool]:
    x = torch.as_tensor(audio)
    if not x.is_floating_point():
        x = x.float()
    if x.dim() == 1:
        return x[None], True
    if x.dim() != 2:
        raise ValueError(f"expected audio (T,) or (B, T), got shape {tuple(x.shape)}")
    return x, False


def _hop(sample_rate: int, frame_rate: float) -> int:
    hop = int(sample_rate // frame_rate)
    if hop <= 0:
        raise ValueError(f"frame_rate {frame_rate} is above the sample rate {sample_rate}")
    return hop


@lru_cache(maxsize=16)
def _a_weighting_db(sample_rate: int, n_fft: int) -> np.ndarray:
    import librosa

    freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=n_fft)
    with np.errstate(divide="ignore"):  # 0 Hz: -inf before librosa's -80 dB floor
        return librosa.A_weighting(freqs).astype(np.float64)  # floored at -80 dB (librosa's min_db)


def a_weighting(sample_rate: int, n_fft: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """A-weighting in dB of the ``n_fft // 2 + 1`` FFT bins (librosa, floored at -80 dB)."""
    return torch.as_tensor(_a_weighting_db(sample_rate, n_fft), dtype=dtype, device=device)


def compute_loudness(
    audio: torch.Tensor | np.ndarray,
    sample_rate: int = 16000,
    frame_rate: float = 250,
    n_fft: int = 512,
    range_db: float = DB_RANGE,
    ref_db: float = 0.0,
) -> torch.Tensor:
    """Current DDSP loudness in dB (see module docstring); differentiable.

    ``(T,)`` or ``(B, T)`` -> ``(1 + T // hop,)`` or ``(B, 1 + T // hop)``; frame ``j`` is centred on
    sample ``j * hop``.
    """
    x, squeeze = _as_batch(audio)
    hop = _hop(sample_rate, frame_rate)
    stft = STFT(n_fft, hop, padding="center", pad_mode="constant").to(x.device)
    power = stft(x).abs().square()  # (B, bins, N)
    weighting = 10.0 ** (a_weighting(sample_rate, n_fft, x.dtype, x.device) / 10.0)
    loudness = power_to_db((power * weighting[:, None]).mean(1), ref_db=ref_db, range_db=range_db)
    return loudness[0] if squeeze else loudness


def compute_loudness_legacy(
    audio: torch.Tensor | np.ndarray,
    sample_rate: int = 16000,
    frame_rate: float = 250,
    n_fft: int = 2048,
    range_db: float = LEGACY_LD_RANGE,
    ref_db: float = 20.7,
) -> torch.Tensor:
    """Paper-era DDSP loudness in dB (magenta v0.0.6 ``compute_loudness``); differentiable.

    ``(T,)``/``(B, T)`` -> ``ceil(T / hop)`` frames; frame ``j`` spans samples ``[j hop, j hop + n_fft)``
    (zero padded at the end), i.e. it is centred ``n_fft / 2`` samples after ``j * hop``.
    """
    x, squeeze = _as_batch(audio)
    hop = _hop(sample_rate, frame_rate)
    t = x.shape[-1]
    n_frames = max(1, -(-t // hop))
    x = torch.nn.functional.pad(x, (0, (n_frames - 1) * hop + n_fft - t))
    mag = STFT(n_fft, hop, padding="valid").to(x.device)(x).abs()  # (B, bins, N)
    db = (
        20.0 * torch.log10(mag.clamp(min=1e-20)) + a_weighting(sample_rate, n_fft, x.dtype, x.device)[:, None]
    )
    loudness = torch.clamp(db - ref_db, min=-range_db).mean(-2)
    return loudness[0] if squeeze else loudness


def compute_power(
    audio: torch.Tensor | np.ndarray,
    sample_rate: int = 16000,
    frame_rate: float = 250,
    frame_size: int = 512,
    range_db: float = DB_RANGE,
    ref_db: float = 0.0,
) -> torch.Tensor:
    """Frame RMS power in dB (magenta's ``compute_power``, the DDSP-VST conditioning); centred frames,
    zero padded, ``1 + T // hop`` frames."""
    x, squeeze = _as_batch(audio)
    hop = _hop(sample_rate, frame_rate)
    half = frame_size // 2
    x = torch.nn.functional.pad(x, (half, half))
    frames = x.unfold(-1, frame_size, hop)
    power = power_to_db(frames.square().mean(-1), ref_db=ref_db, range_db=range_db)
    return power[0] if squeeze else power


# f0 --------------------------------------------------------------------------------------------------
def pyin_f0(
    audio: np.ndarray, sample_rate: int, hop_length: int, fmin: float = 50.0, fmax: float = 2000.0
) -> tuple[np.ndarray, np.ndarray]:
    """pYIN f0 (Hz, 0 where unvoiced) and a 0/1 voicing confidence, ``1 + T // hop`` centred frames."""
    f0, voiced = f0_pyin(audio, sample_rate, hop_length, fmin=fmin, fmax=fmax)
    return f0, voiced.astype(np.float64)


def get_f0_extractor(extractor: str | F0Extractor = "pyin", **kwargs) -> F0Extractor:
    """``"pyin"`` (with ``fmin``/``fmax`` keyword arguments) or a user callable (returned as is)."""
    if callable(extractor):
        return extractor
    if extractor == "pyin":
        return lambda a, sr, hop: pyin_f0(a, sr, hop, **kwargs)
    raise ValueError(f"unknown f0 extractor {extractor!r}; use 'pyin' or pass a callable")


def fill_unvoiced(f0_hz: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    """Replace unvoiced (or non-positive) frames by interpolating the voiced f0 in MIDI, holding the
    first/last voiced value at the ends, so the synthesizer always gets a continuous pitch (as CREPE
    gives). All-unvoiced input is returned unchanged."""
    f0 = np.asarray(f0_hz, dtype=np.float64).copy()
    ok = np.asarray(voiced, dtype=bool) & (f0 > 0)
    if not ok.any() or ok.all():
        return f0
    idx = np.arange(f0.size)
    midi = 12.0 * np.log2(f0[ok] / 440.0) + 69.0
    filled = np.interp(idx, idx[ok], midi)
    return np.where(ok, f0, 440.0 * 2.0 ** ((filled - 69.0) / 12.0))


def _fit_frames(x: np.ndarray, n_frames: int, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if x.size >= n_frames:
        return x[:n_frames]
    if x.size == 0:
        raise ValueError(f"{name}: the extractor returned no frames")
    log.warning("%s: extractor returned %d frames for %d; holding the last value", name, x.size, n_frames)
    return np.concatenate([x, np.full(n_frames - x.size, x[-1])])


def extract_features(
    audio: torch.Tensor | np.ndarray,
    sample_rate: int = 16000,
    frame_rate: float = 250,
    f0_extractor: str | F0Extractor = "pyin",
    loudness: str = "current",
    fill: bool = True,
    **f0_kwargs,
) -> dict[str, np.ndarray]:
    """f0 and loudness of mono audio at the synthesizer's frame rate.

    Returns float arrays of ``F = T // hop`` frames: ``f0_hz`` (unvoiced frames filled by
    :func:`fill_unvoiced` when ``fill``), ``f0_confidence`` and ``loudness_db`` (``loudness``:
    ``"current"`` or ``"legacy"``, see the module docstring).
    """
    x = audio.detach().cpu().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 1:
        raise ValueError(f"extract_features expects mono audio (T,), got shape {x.shape}")
    if x.size == 0 or not np.isfinite(x).all():
        raise ValueError("audio is empty or contains NaN/Inf samples")
    hop = _hop(sample_rate, frame_rate)
    n_frames = x.size // hop
    if n_frames < 1:
        raise ValueError(f"audio of {x.size} samples is shorter than one frame ({hop} samples)")
    f0, conf = get_f0_extractor(f0_extractor, **f0_kwargs)(x, sample_rate, hop)
    f0, conf = _fit_frames(f0, n_frames, "f0"), _fit_frames(conf, n_frames, "f0 confidence")
    if fill:
        f0 = fill_unvoiced(f0, conf > 0.5)
    if loudness == "current":
        ld = compute_loudness(torch.from_numpy(x).float(), sample_rate, frame_rate)
    elif loudness == "legacy":
        ld = compute_loudness_legacy(torch.from_numpy(x).float(), sample_rate, frame_rate)
    else:
        raise ValueError(f"loudness must be 'current' or 'legacy', got {loudness!r}")
    return {
        "f0_hz": f0,
        "f0_confidence": conf,
        "loudness_db": _fit_frames(ld.double().numpy(), n_frames, "loudness"),
    }


# streaming -------------------------------------------------------------------------------------------
class StreamingLoudness:
    """:func:`compute_loudness` (``definition="current"``) or :func:`compute_loudness_legacy` on a
    stream of mono samples: ``push(x)`` returns the frames no later sample can change, ``flush()``
    the rest; together they equal the one-pass frames (each frame is computed by the same function
    from the same samples, with the one-pass zero padding at the signal's ends). Work is batched into
    ``block_frames`` frames; the buffer holds one block plus a window.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        frame_rate: float = 250,
        definition: str = "current",
        block_frames: int = 2500,
    ):
        if definition not in ("current", "legacy"):
            raise ValueError(f"loudness must be 'current' or 'legacy', got {definition!r}")
        self.sample_rate, self.frame_rate, self.definition = sample_rate, frame_rate, definition
        self.hop = _hop(sample_rate, frame_rate)
        n_fft = 512 if definition == "current" else 2048
        # frame j reads samples [j hop - before, j hop + after)
        self.before = n_fft // 2 if definition == "current" else 0
        self.after = n_fft // 2 if definition == "current" else n_fft
        self.block_frames = max(1, int(block_frames))
        self._buf = torch.zeros(0)
        self._q0 = 0  # absolute index of _buf[0]
        self._n_in = 0
        self._f_next = 0
        self.closed = False

    def _run(self, stop: int) -> np.ndarray:
        """Frames ``[f_next, stop)`` from the buffer (which ends at the newest sample)."""
        if stop <= self._f_next:
            return np.zeros(0)
        fn = compute_loudness if self.definition == "current" else compute_loudness_legacy
        a = max(0, self._f_next * self.hop - self.before) // self.hop * self.hop  # on the frame grid
        seg = self._buf[a - self._q0 :]
        ld = fn(seg, self.sample_rate, self.frame_rate)
        j0 = (self._f_next * self.hop - a) // self.hop
        out = ld[j0 : j0 + stop - self._f_next].double().numpy()
        self._f_next = stop
        keep = max(0, stop * self.hop - self.before) // self.hop * self.hop
        self._buf, self._q0 = self._buf[keep - self._q0 :], keep
        return out

    def push(self, x: torch.Tensor | np.ndarray) -> np.ndarray:
        """``(t,)`` samples -> loudness (dB) of the frames now final."""
        if self.closed:
            raise ValueError("StreamingLoudness: push() after flush(); make a new stream")
        t = torch.as_tensor(x).reshape(-1).to(torch.float32)
        self._buf = torch.cat([self._buf, t])
        self._n_in += t.numel()
        ready = (self._n_in - self.after) // self.hop + 1 if self._n_in >= self.after else 0
        if ready - self._f_next < self.block_frames:
            return np.zeros(0)
        return self._run(ready)

    def flush(self) -> np.ndarray:
        """The remaining frames: ``1 + T // hop`` in all (current), ``max(1, ceil(T / hop))`` (legacy)."""
        if self.closed:
            raise ValueError("StreamingLoudness: flush() twice; make a new stream")
        self.closed = True
        if self._n_in == 0:
            raise ValueError("StreamingLoudness: no samples were pushed")
        n = self._n_in
        total = 1 + n // self.hop if self.definition == "current" else max(1, -(-n // self.hop))
        return self._run(total)


def extract_features_stream(
    blocks: Iterable[torch.Tensor | np.ndarray],
    sample_rate: int = 16000,
    frame_rate: float = 250,
    loudness: str = "current",
    fill: bool = True,
    fmin: float = 50.0,
    fmax: float = 2000.0,
) -> dict[str, np.ndarray]:
    """:func:`extract_features` (pYIN f0) of mono audio that arrives in ``(t,)`` or ``(1, t)``
    blocks, read once: the same arrays, while memory is bounded by a pYIN block, not the signal
    (the frame-rate results are kept: 24 bytes a frame, 39 MB for an hour at 250 frames/s)."""
    hop = _hop(sample_rate, frame_rate)
    pyin = StreamingPyin(sample_rate, hop, fmin, fmax)
    ld_stream = StreamingLoudness(sample_rate, frame_rate, loudness)
    f0s, voiced, lds = [], [], []
    n = 0
    for block in blocks:
        x = torch.as_tensor(block)
        if x.dim() == 2 and x.shape[0] == 1:
            x = x[0]
        if x.dim() != 1:
            raise ValueError(f"extract_features_stream expects mono blocks (t,), got shape {tuple(x.shape)}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError("audio contains NaN/Inf samples")
        n += x.numel()
        x = x.to(torch.float32)
        f, v = pyin.push(x.double().numpy())
        f0s.append(f)
        voiced.append(v)
        lds.append(ld_stream.push(x))
    if n == 0:
        raise ValueError("audio is empty")
    n_frames = n // hop
    if n_frames < 1:
        raise ValueError(f"audio of {n} samples is shorter than one frame ({hop} samples)")
    f, v = pyin.flush()
    f0s.append(f)
    voiced.append(v)
    lds.append(ld_stream.flush())
    f0 = _fit_frames(np.concatenate(f0s), n_frames, "f0")
    conf = _fit_frames(np.concatenate(voiced).astype(np.float64), n_frames, "f0 confidence")
    if fill:
        f0 = fill_unvoiced(f0, conf > 0.5)
    return {
        "f0_hz": f0,
        "f0_confidence": conf,
        "loudness_db": _fit_frames(np.concatenate(lds), n_frames, "loudness"),
    }
