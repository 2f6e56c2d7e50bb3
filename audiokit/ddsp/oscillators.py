"""Oscillators: the harmonic and sinusoidal synthesizers and block streaming, over the pieces
in :mod:`~audiokit.ddsp.phase` (precise wrapped phase), :mod:`~audiokit.ddsp.harmonic_bank` (the
block-wise custom autograd kernel), :mod:`~audiokit.ddsp.controls` (harmonic controls) and
:mod:`~audiokit.ddsp.wavetable`, which it re-exports (``audiokit.ddsp.oscillators.<name>`` keeps
working for all of them).

Conventions (magenta/ddsp): frequencies are upsampled linearly with frame ``j`` on sample ``j * hop``
and the last frame held for the final hop; the phase is the *inclusive* running sum of
``f / sample_rate``; oscillators at or above Nyquist are zeroed sample by sample (``f >= sr / 2``).
See :mod:`~audiokit.ddsp.phase` for the phase precision (about 1e-7 rad at harmonic 1 after 60 s).
"""

from __future__ import annotations

import torch

from audiokit.ddsp.controls import (
    as_frames,
    harmonic_amplitudes,
    harmonic_frequencies,
    normalize_harmonics,
    remove_above_nyquist,
)
from audiokit.ddsp.core import resample, segment_weights
from audiokit.ddsp.harmonic_bank import harmonic_segments
from audiokit.ddsp.phase import TWO_PI, cumulative_phase, harmonic_phase, segment_phase, wrap_cycles
from audiokit.ddsp.wavetable import harmonic_distribution_to_wavetable, wavetable_lookup, wavetable_synthesis

__all__ = [
    "remove_above_nyquist",
    "normalize_harmonics",
    "harmonic_frequencies",
    "cumulative_phase",
    "segment_phase",
    "harmonic_phase",
    "harmonic_segments",
    "harmonic_synthesis",
    "oscillator_bank",
    "sinusoidal_synthesis",
    "harmonic_distribution_to_wavetable",
    "wavetable_lookup",
    "wavetable_synthesis",
    "HarmonicStream",
]


def harmonic_synthesis(
    f0_hz: torch.Tensor,
    amplitudes: torch.Tensor,
    harmonic_distribution: torch.Tensor | None = None,
    n_samples: int | None = None,
    sample_rate: int = 16000,
    amp_resample_method: str = "window",
    harmonic_shifts: torch.Tensor | None = None,
    initial_phase: torch.Tensor | None = None,
    return_final_phase: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Audio from frame-wise harmonic controls (magenta's ``harmonic_synthesis``, precise and fast).

    Args:
        f0_hz: ``(B, F)`` (or ``(B, F, 1)``) fundamental frequency in Hz.
        amplitudes: ``(B, F)`` (or ``(B, F, 1)``) linear amplitude ``A``.
        harmonic_distribution: ``(B, F, H)`` weights ``c_k``; harmonic ``k`` gets ``A * c_k``. The
            distribution is used as given (see :func:`normalize_harmonics`). ``None``: one sinusoid.
        n_samples: output length (default ``F * 64``).
        amp_resample_method: amplitude upsampling, ``"window"`` (default), ``"linear"``, ``"nearest"``.
        harmonic_shifts: ``(B, F, H)`` relative detuning, harmonic ``k`` at ``k f0 (1 + shift_k)``
            (runs the general sinusoidal bank; harmonic ``k`` starts at ``k * initial_phase``).
        initial_phase: ``(B,)`` fundamental phase in cycles; with ``return_final_phase`` the phase to
            continue from is returned too (for constant controls across the block boundary,
            consecutive blocks then equal one long render; with ``harmonic_shifts`` it is the first
            partial's phase, exact to continue from when the shifts are zero at the boundary).

    Returns:
        ``(B, n_samples)`` audio, or ``(audio, final_phase)`` with ``final_phase`` ``(B,)``.
    """
    f0_hz = as_frames(f0_hz, "f0_hz")
    amplitudes = as_frames(amplitudes, "amplitudes")
    b, n_frames = f0_hz.shape
    if amplitudes.shape != f0_hz.shape:
        raise ValueError(f"amplitudes {tuple(amplitudes.shape)} and f0_hz {tuple(f0_hz.shape)} differ")
    n_samples = n_frames * 64 if n_samples is None else int(n_samples)
    amps = harmonic_amplitudes(amplitudes, harmonic_distribution)
    n_harm = amps.shape[-1]
    if harmonic_shifts is not None:
        freqs = harmonic_frequencies(f0_hz, n_harm) * (1.0 + harmonic_shifts)
        phases = None
        if initial_phase is not None:  # harmonic k starts at k times the fundamental's phase
            k = torch.arange(1, n_harm + 1, dtype=torch.float64, device=f0_hz.device)
            phases = wrap_cycles(initial_phase.to(torch.float64).reshape(b, 1) * k)
        audio, final = sinusoidal_synthesis(
            freqs,
            amps,
            n_samples,
            sample_rate,
            amp_resample_method,
            initial_phase=phases,
            return_final_phase=True,
        )
        return (audio, final[:, 0]) if return_final_phase else audio
    if n_samples % n_frames == 0:
        hop = n_samples // n_frames
        f0_ext = torch.cat([f0_hz, f0_hz[:, -1:]], dim=1)
        amp_ext = torch.cat([amps, amps[:, -1:]], dim=1)
        audio, final = harmonic_segments(
            f0_ext, amp_ext, hop, sample_rate, amp_resample_method, initial_phase=initial_phase
        )
    else:
        audio, final = _harmonic_any_length(
            f0_hz, amps, n_samples, sample_rate, amp_resample_method, initial_phase
        )
    return (audio, final) if return_final_phase else audio


def _harmonic_any_length(
    f0_hz: torch.Tensor,
    amps: torch.Tensor,
    n_samples: int,
    sample_rate: float,
    amp_resample_method: str,
    initial_phase: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Harmonic bank for lengths that are not a multiple of the frame count (sample-wise envelopes)."""
    f = resample(f0_hz.to(torch.float64), n_samples, "linear")  # (B, T)
    phase64 = cumulative_phase(f, sample_rate, initial_phase)
    final = wrap_cycles(phase64[:, -1])
    ratios = torch.arange(1, amps.shape[-1] + 1, dtype=amps.dtype, device=amps.device)
    env = resample(amps, n_samples, amp_resample_method)  # (B, T, K)
    env = remove_above_nyquist(f.to(amps.dtype)[..., None] * ratios, env, sample_rate)
    sines = torch.sin(phase64.to(amps.dtype)[..., None] * (ratios * TWO_PI))
    return (env * sines).sum(-1), final


def oscillator_bank(
    frequency_envelopes: torch.Tensor,
    amplitude_envelopes: torch.Tensor,
    sample_rate: int = 16000,
    sum_sinusoids: bool = True,
    initial_phase: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sample-wise oscillator bank: ``(B, T, K)`` frequencies (Hz) and amplitudes -> ``(B, T)``
    (or ``(B, T, K)`` with ``sum_sinusoids=False``). Oscillators ``>= sr / 2`` are zeroed; phases are
    wrapped float64 running sums (:func:`cumulative_phase`)."""
    if frequency_envelopes.shape != amplitude_envelopes.shape:
        raise ValueError(
            f"frequency {tuple(frequency_envelopes.shape)} and amplitude "
            f"{tuple(amplitude_envelopes.shape)} envelopes differ"
        )
    amps = remove_above_nyquist(frequency_envelopes, amplitude_envelopes, sample_rate)
    phase = cumulative_phase(frequency_envelopes, sample_rate, initial_phase).to(amps.dtype)
    audio = amps * torch.sin(TWO_PI * phase)
    return audio.sum(-1) if sum_sinusoids else audio


def sinusoidal_synthesis(
    frequencies: torch.Tensor,
    amplitudes: torch.Tensor,
    n_samples: int,
    sample_rate: int = 16000,
    amp_resample_method: str = "window",
    initial_phase: torch.Tensor | None = None,
    return_final_phase: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Frame-wise sinusoidal bank: ``(B, F, K)`` frequencies (Hz) and linear amplitudes -> ``(B, T)``.

    Frequencies are linear between frames, amplitudes resampled with ``amp_resample_method``; each
    oscillator's phase uses the closed form of :func:`segment_phase` (float64 at frame boundaries).
    """
    if frequencies.shape != amplitudes.shape or frequencies.dim() != 3:
        raise ValueError(
            f"frequencies {tuple(frequencies.shape)} and amplitudes {tuple(amplitudes.shape)} "
            "must both be (B, F, K)"
        )
    b, n_frames, k = frequencies.shape
    dtype = amplitudes.dtype
    if n_samples % n_frames:
        f = resample(frequencies.to(torch.float64), n_samples, "linear")
        env = resample(amplitudes, n_samples, amp_resample_method)
        phase64 = cumulative_phase(f, sample_rate, initial_phase)
        audio = oscillator_bank(f.to(dtype), env, sample_rate, initial_phase=initial_phase)
        final = wrap_cycles(phase64[:, -1])
        return (audio, final) if return_final_phase else audio
    hop = n_samples // n_frames
    f_ext = torch.cat([frequencies, frequencies[:, -1:]], dim=1)
    a_ext = torch.cat([amplitudes, amplitudes[:, -1:]], dim=1)
    phase, final = segment_phase(f_ext, hop, sample_rate, initial_phase, dtype=dtype)  # (B, T, K)
    w0 = segment_weights(hop, amp_resample_method, dtype, amplitudes.device)
    w_lin = segment_weights(hop, "linear", dtype, amplitudes.device)
    fl, fr = f_ext[:, :-1, None], f_ext[:, 1:, None]  # (B, S, 1, K)
    freq = (fr + (fl - fr) * w_lin[:, None]).detach()  # (B, S, hop, K)
    sines = torch.sin(TWO_PI * phase.reshape(b, n_frames, hop, k))
    sines = sines.masked_fill(freq >= sample_rate / 2.0, 0.0)
    pairs = torch.stack([a_ext[:, :-1], a_ext[:, 1:]], dim=-1).reshape(b * n_frames, k, 2)
    p = torch.bmm(sines.reshape(b * n_frames, hop, k), pairs).reshape(b, n_frames, hop, 2)
    audio = (p[..., 0] * w0 + p[..., 1] * (1.0 - w0)).reshape(b, n_samples)
    return (audio, final) if return_final_phase else audio


class HarmonicStream:
    """Block-by-block harmonic synthesis that equals one long :func:`harmonic_synthesis` render.

    Each call takes the next frames of controls and returns the audio up to the newest frame: the
    segment between two frames needs both, so output lags input by one frame (``hop`` samples of
    latency); :meth:`flush` renders the held last frame. The phase is carried in float64 cycles::

        stream = HarmonicStream(sample_rate=16000, hop_length=64)
        blocks = [stream.process(f0[:, i:i + 10], amps[:, i:i + 10], hd[:, i:i + 10]) for i in ...]
        audio = torch.cat(blocks + [stream.flush()], dim=1)   # == harmonic_synthesis(f0, amps, hd, ...)
    """

    def __init__(self, sample_rate: int = 16000, hop_length: int = 64, amp_resample_method: str = "window"):
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.amp_resample_method = amp_resample_method
        self.reset()

    def reset(self) -> None:
        self._f0: torch.Tensor | None = None
        self._amps: torch.Tensor | None = None
        self._phase: torch.Tensor | None = None

    def process(
        self, f0_hz: torch.Tensor, amplitudes: torch.Tensor, harmonic_distribution: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(B, F)`` f0 and amplitude, ``(B, F, H)`` distribution -> ``(B, F * hop)`` audio
        (``(B, (F - 1) * hop)`` on the first call)."""
        f0_hz, amplitudes = as_frames(f0_hz, "f0_hz"), as_frames(amplitudes, "amplitudes")
        amps = harmonic_amplitudes(amplitudes, harmonic_distribution)
        if self._f0 is not None:
            f0_hz = torch.cat([self._f0, f0_hz], dim=1)
            amps = torch.cat([self._amps, amps], dim=1)
        self._f0, self._amps = f0_hz[:, -1:], amps[:, -1:]
        if f0_hz.shape[1] < 2:
            return f0_hz.new_zeros(f0_hz.shape[0], 0)
        audio, self._phase = harmonic_segments(
            f0_hz, amps, self.hop_length, self.sample_rate, self.amp_resample_method, self._phase
        )
        return audio

    def flush(self) -> torch.Tensor:
        """The final ``hop`` samples (the last frame held), then :meth:`reset`."""
        if self._f0 is None:
            raise ValueError("HarmonicStream.flush() before any process() call")
        f0 = self._f0.expand(-1, 2)
        amps = self._amps.expand(-1, 2, -1)
        audio, _ = harmonic_segments(
            f0, amps, self.hop_length, self.sample_rate, self.amp_resample_method, self._phase
        )
        self.reset()
        return audio
