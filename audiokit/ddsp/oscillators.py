"""Oscillators: precise phase accumulation, harmonic and sinusoidal oscillator banks, wavetables.

Conventions (magenta/ddsp): frequencies are upsampled linearly with frame ``j`` on sample ``j * hop``
and the last frame held for the final hop; the phase is the *inclusive* running sum of
``f / sample_rate``, so sample 0 already has advanced by ``f[0] / sr``; oscillators at or above
Nyquist are zeroed sample by sample (``f >= sr / 2``).

What differs from the ports is how the phase is computed. Phases are kept in *cycles* and wrapped:

* per frame in float64: the phase at every frame boundary is a float64 running sum of closed-form
  segment increments (for a frequency that is linear within a frame the running sum inside the
  frame is the quadratic ``(tau + 1) f_j / sr + (f_{j+1} - f_j) tau (tau + 1) / (2 hop sr)``), wrapped
  to ``[0, 1)``;
* the fundamental's per-sample phase is formed in float64 and only then rounded to float32, so its
  error stays at float32 resolution (about 3e-8 cycles) however long the render, and the harmonic
  phase ``k * phi`` is formed from the *wrapped* value, which bounds its error by ``k`` times that.

For a 60 s, 440 Hz tone at 48 kHz this gives phase errors around 1e-7 rad at harmonic 1 and 1e-5 rad
at harmonic 60 (a float32 cumsum is off by up to pi), and no detuning on long renders.

The harmonic bank is a custom autograd function that works on blocks of frames: within a frame the
amplitudes are a two-tap interpolation of the frame values, so ``sum_k A_k[n] sin(2 pi k phi[n])``
is a small matrix product of the ``(hop, K)`` sine block with the ``(K, 2)`` frame amplitudes. Sines
are recomputed in the backward pass instead of stored, so memory is ``O(B T)`` rather than
``O(B T K)``.
"""

from __future__ import annotations

import math

import torch

from audiokit.ddsp.core import resample, safe_divide, segment_weights

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

_TWO_PI = 2.0 * math.pi
#: Elements of one (segments, hop, oscillators) block of the harmonic bank (~1 MB in float32).
_BLOCK_ELEMENTS = 1 << 18


# Controls ------------------------------------------------------------------------------------------
def _frames_2d(x: torch.Tensor, name: str) -> torch.Tensor:
    """Accept ``(B, F)`` or ``(B, F, 1)``; return ``(B, F)``."""
    if x.dim() == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape (B, F) or (B, F, 1), got {tuple(x.shape)}")
    return x


def _harmonic_amplitudes(
    amplitudes: torch.Tensor, harmonic_distribution: torch.Tensor | None
) -> torch.Tensor:
    """``(B, F)`` amplitude and ``(B, F, H)`` distribution -> ``(B, F, H)`` harmonic amplitudes
    ``A * c_k`` (``(B, F, 1)`` without a distribution); the shapes are checked before they meet."""
    if harmonic_distribution is None:
        return amplitudes[..., None]
    if harmonic_distribution.dim() != 3 or harmonic_distribution.shape[:2] != amplitudes.shape:
        raise ValueError(
            f"harmonic_distribution {tuple(harmonic_distribution.shape)} does not match f0_hz "
            f"{tuple(amplitudes.shape)}; expected (B, F, H)"
        )
    return amplitudes[..., None] * harmonic_distribution


def harmonic_frequencies(f0_hz: torch.Tensor, n_harmonics: int) -> torch.Tensor:
    """``(B, F)`` fundamental -> ``(B, F, n_harmonics)`` frequencies ``k * f0``, ``k = 1..n``."""
    f0_hz = _frames_2d(f0_hz, "f0_hz")
    k = torch.arange(1, n_harmonics + 1, dtype=f0_hz.dtype, device=f0_hz.device)
    return f0_hz[..., None] * k


def remove_above_nyquist(
    frequencies: torch.Tensor, amplitudes: torch.Tensor, sample_rate: float
) -> torch.Tensor:
    """Zero the amplitudes of oscillators whose frequency is ``>= sample_rate / 2``."""
    return torch.where(frequencies >= sample_rate / 2.0, torch.zeros_like(amplitudes), amplitudes)


def normalize_harmonics(
    harmonic_distribution: torch.Tensor,
    f0_hz: torch.Tensor | None = None,
    sample_rate: float | None = None,
) -> torch.Tensor:
    """Zero harmonics ``k * f0 >= sr / 2`` (when ``f0_hz`` and ``sample_rate`` are given), then
    divide by the sum so each frame's distribution sums to 1 (an all-zero frame stays zero).

    ``(B, F, H)`` distribution, ``(B, F)`` f0 -> ``(B, F, H)``.
    """
    if f0_hz is not None and sample_rate is not None:
        freqs = harmonic_frequencies(f0_hz, harmonic_distribution.shape[-1])
        harmonic_distribution = remove_above_nyquist(freqs, harmonic_distribution, sample_rate)
    return safe_divide(harmonic_distribution, harmonic_distribution.sum(-1, keepdim=True))


# Phase -----------------------------------------------------------------------------------------------
def _wrap(x: torch.Tensor) -> torch.Tensor:
    """Fractional part in ``[0, 1)``; its gradient is 1."""
    return x - torch.floor(x).detach()


def cumulative_phase(
    frequencies_hz: torch.Tensor,
    sample_rate: float,
    initial_phase: torch.Tensor | None = None,
    inclusive: bool = True,
    block: int = 4096,
) -> torch.Tensor:
    """Running phase in cycles, wrapped to ``[0, 1)``, of sample-rate frequencies ``(B, T, ...)``.

    Float64 running sums over blocks of ``block`` samples whose offsets are wrapped before they are
    carried on, so the error does not grow with the length. ``inclusive=True`` is magenta's
    convention (``phi[0] = f[0] / sr``); ``initial_phase`` (cycles, shape ``(B, ...)``) is added.
    Returns float64.
    """
    cycles = frequencies_hz.to(torch.float64) / float(sample_rate)
    b, t = cycles.shape[:2]
    rest = cycles.shape[2:]
    pad = (-t) % block
    if pad:
        cycles = torch.cat([cycles, cycles.new_zeros((b, pad, *rest))], dim=1)
    blocks = cycles.reshape(b, -1, block, *rest)
    within = torch.cumsum(blocks, dim=2)
    if not inclusive:
        within = within - blocks
    totals = _wrap(blocks.sum(dim=2))  # (B, n_blocks, ...)
    offsets = _wrap(torch.cumsum(totals, dim=1) - totals)
    if initial_phase is not None:
        offsets = offsets + initial_phase.to(torch.float64).reshape(b, 1, *rest)
    phase = _wrap(offsets.unsqueeze(2) + within).reshape(b, -1, *rest)
    return phase[:, :t]


def segment_phase(
    freq_ext: torch.Tensor,
    hop: int,
    sample_rate: float,
    initial_phase: torch.Tensor | None = None,
    inclusive: bool = True,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form phase of frequencies that are linear between frame values.

    Args:
        freq_ext: ``(B, S + 1, K)`` frequencies in Hz at the ``S + 1`` segment boundaries (for
            magenta's endpoint convention append a copy of the last frame).
        hop: samples per segment.
        initial_phase: ``(B, K)`` phase in cycles before the first sample (default 0).
        inclusive: magenta's inclusive running sum (else exclusive, as its wavetable synth).
        dtype: dtype of the per-sample phase; the frame-boundary phases are always float64.

    Returns:
        ``(phase, final_phase)``: ``(B, S * hop, K)`` cycles in ``[0, 1)`` and the float64
        ``(B, K)`` phase after the last sample, wrapped (the ``initial_phase`` of a next block).
    """
    if freq_ext.dim() != 3 or freq_ext.shape[1] < 2:
        raise ValueError(f"freq_ext must be (B, S + 1, K) with S >= 1, got {tuple(freq_ext.shape)}")
    b, s1, k = freq_ext.shape
    f64 = freq_ext.to(torch.float64) / float(sample_rate)
    a, d = f64[:, :-1], f64[:, 1:] - f64[:, :-1]  # (B, S, K) cycles/sample and its change per segment
    totals = hop * a + d * ((hop - 1) / 2.0)
    starts = torch.cumsum(totals, dim=1) - totals
    if initial_phase is not None:
        starts = starts + initial_phase.to(torch.float64).reshape(b, 1, k)
    final = _wrap(starts[:, -1] + totals[:, -1])
    starts = _wrap(starts)
    tau = torch.arange(hop, dtype=torch.float64, device=freq_ext.device)
    t1, t2 = (tau + 1, tau * (tau + 1) / (2.0 * hop)) if inclusive else (tau, tau * (tau - 1) / (2.0 * hop))
    t1, t2 = t1.to(dtype)[None, None, :, None], t2.to(dtype)[None, None, :, None]
    within = t1 * a.to(dtype)[:, :, None] + t2 * d.to(dtype)[:, :, None]  # (B, S, hop, K)
    phase = _wrap(starts.to(dtype)[:, :, None] + within)
    return phase.reshape(b, (s1 - 1) * hop, k), final


def harmonic_phase(phase: torch.Tensor, harmonic: float | torch.Tensor) -> torch.Tensor:
    """Phase in radians, wrapped to ``[0, 2 pi)``, of harmonic ``k`` from the wrapped fundamental phase
    in cycles, exactly as the harmonic bank forms it (``2 pi k`` times the float32 cycles)."""
    omega = torch.as_tensor(_TWO_PI * harmonic, dtype=torch.float64).to(torch.float32)
    return torch.remainder(phase.to(torch.float32) * omega, _TWO_PI)


# The harmonic bank kernel ----------------------------------------------------------------------------
def _chunk_plan(
    n: int, chunk: int, ratios: torch.Tensor, seg_fmax: torch.Tensor | None, nyquist: float
) -> list[tuple[int, int, int]]:
    """``(start, end, first column to mask)`` per block of segments; the column is ``K`` when no
    oscillator of the block can reach Nyquist (``ratios`` ascending)."""
    k = ratios.numel()
    starts = list(range(0, n, chunk))
    if seg_fmax is None:
        return [(s, min(n, s + chunk), k) for s in starts]
    pad = (-n) % chunk
    fmax = torch.nn.functional.pad(seg_fmax, (0, pad)).reshape(-1, chunk).amax(1)
    # the smallest column k with ratio_k * fmax >= nyquist
    first = torch.searchsorted(
        ratios.contiguous(), (nyquist / fmax.clamp(min=1e-30)).contiguous(), right=False
    )
    return [(s, min(n, s + chunk), int(c)) for s, c in zip(starts, first.tolist())]


def _mask_rows(
    block: torch.Tensor, freq: torch.Tensor, ratios: torch.Tensor, first: int, nyquist: float
) -> None:
    """Zero ``block[:, first:]`` of a ``(C, K, hop)`` block where ``ratio * freq >= nyquist``, in place."""
    if first < ratios.numel():
        tail = block[:, first:]
        tail.masked_fill_(ratios[first:, None] * freq[:, None, :] >= nyquist, 0.0)


def _sines(phase: torch.Tensor, omega: torch.Tensor, out: torch.Tensor, fn=torch.sin) -> torch.Tensor:
    """``fn(omega_k * phase[n])`` of a block of segments ``(C, hop)`` into ``out`` ``(C, K, hop)``."""
    torch.mul(omega[:, None], phase[:, None, :], out=out)
    return fn(out, out=out)


class _HarmonicBank(torch.autograd.Function):
    """``y[n] = sum_k (w0 A_k[j] + (1 - w0) A_k[j + 1]) sin(omega_k phi[n])`` over segments.

    Inputs: ``phase`` ``(N, hop)`` float32 cycles, ``amp_pairs`` ``(N, 2, K)`` (left/right frame
    amplitudes of each segment), ``omega`` ``(K,)`` = ``2 pi k``, ``ratios`` ``(K,)`` = ``k``
    (ascending), ``w0`` ``(hop,)``, ``freq`` ``(N, hop)`` fundamental in Hz or ``None``, ``seg_fmax``
    ``(N,)`` the largest fundamental of each segment (or ``None``: nothing reaches Nyquist),
    ``nyquist``. Output ``(N, hop)``. Blocks are laid out ``(segments, K, hop)`` so that the sample
    axis is contiguous and the contraction over ``K`` is a ``(2, K) @ (K, hop)`` product.
    """

    @staticmethod
    def forward(ctx, phase, amp_pairs, omega, ratios, w0, freq, seg_fmax, nyquist):  # noqa: D401
        n, hop = phase.shape
        k = omega.shape[0]
        chunk = max(1, _BLOCK_ELEMENTS // max(1, hop * k))
        plan = _chunk_plan(n, chunk, ratios, seg_fmax, nyquist)
        out = phase.new_empty(n, hop)
        buf = phase.new_empty(min(chunk, n), k, hop)
        pbuf = phase.new_empty(min(chunk, n), 2, hop)
        for s, e, first in plan:
            blk = _sines(phase[s:e], omega, buf[: e - s])
            if freq is not None:
                _mask_rows(blk, freq[s:e], ratios, first, nyquist)
            p = torch.bmm(amp_pairs[s:e], blk, out=pbuf[: e - s])
            torch.lerp(p[:, 1], p[:, 0], w0, out=out[s:e])
        ctx.save_for_backward(phase, amp_pairs, omega, ratios, w0, freq)
        ctx.plan, ctx.nyquist = plan, nyquist
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        phase, amp_pairs, omega, ratios, w0, freq = ctx.saved_tensors
        n, hop = phase.shape
        need_phase, need_amp = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        d_phase = torch.empty_like(phase) if need_phase else None
        d_amp = torch.empty_like(amp_pairs) if need_amp else None
        grad = grad.contiguous()
        g_pairs = torch.stack([grad * w0, grad * (1.0 - w0)], dim=1)  # (N, 2, hop)
        amp_omega = amp_pairs * omega if need_phase else None
        size = max(e - s for s, e, _ in ctx.plan)
        buf = phase.new_empty(size, omega.shape[0], hop)
        qbuf = phase.new_empty(size, 2, hop)
        for s, e, first in ctx.plan:
            f = freq[s:e] if freq is not None else None
            if need_amp:
                blk = _sines(phase[s:e], omega, buf[: e - s])
                if f is not None:
                    _mask_rows(blk, f, ratios, first, ctx.nyquist)
                torch.bmm(g_pairs[s:e], blk.transpose(1, 2), out=d_amp[s:e])
            if need_phase:
                blk = _sines(phase[s:e], omega, buf[: e - s], torch.cos)
                if f is not None:
                    _mask_rows(blk, f, ratios, first, ctx.nyquist)
                q = torch.bmm(amp_omega[s:e], blk, out=qbuf[: e - s])
                torch.lerp(q[:, 1], q[:, 0], w0, out=d_phase[s:e])
                d_phase[s:e] *= grad[s:e]
        return d_phase, d_amp, None, None, None, None, None, None


def harmonic_segments(
    f0_ext: torch.Tensor,
    amp_ext: torch.Tensor,
    hop: int,
    sample_rate: float,
    amp_resample_method: str = "window",
    initial_phase: torch.Tensor | None = None,
    ratios: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Harmonic bank over segments between consecutive control frames.

    Args:
        f0_ext: ``(B, S + 1)`` fundamental in Hz at the segment boundaries.
        amp_ext: ``(B, S + 1, K)`` linear amplitude of each harmonic at the boundaries.
        hop: samples per segment.
        amp_resample_method: ``"window"`` (raised-cosine cross-fade), ``"linear"`` or ``"nearest"``.
        initial_phase: ``(B,)`` fundamental phase in cycles before the first sample.
        ratios: ``(K,)`` frequency ratios (default ``1..K``); they must be integers for the harmonic
            phase ``k * phi`` to be exact.

    Returns:
        ``(audio, final_phase)``: ``(B, S * hop)`` and the float64 ``(B,)`` phase after the last sample.
    """
    b, s1 = f0_ext.shape
    k_all = amp_ext.shape[-1]
    if amp_ext.shape[:2] != (b, s1):
        raise ValueError(f"amplitudes {tuple(amp_ext.shape)} do not match f0 {tuple(f0_ext.shape)}")
    dtype = amp_ext.dtype if amp_ext.is_floating_point() else torch.float32
    if ratios is None:
        ratios = torch.arange(1, k_all + 1, dtype=dtype, device=amp_ext.device)
    elif bool((ratios != torch.round(ratios)).any()) or bool((ratios < 1).any()):
        raise ValueError("harmonic ratios must be positive integers (use sinusoidal_synthesis otherwise)")
    nyquist = sample_rate / 2.0
    phase64, final = segment_phase(f0_ext[..., None], hop, sample_rate, initial_phase, dtype=torch.float64)
    n_seg = b * (s1 - 1)
    # Harmonics that are at or above Nyquist at every boundary are silent everywhere (the frequency is
    # linear in between), and have no gradient either: leave them out.
    f_abs_max = torch.maximum(f0_ext[:, :-1], f0_ext[:, 1:]).detach()
    audible = ratios * f0_ext.detach().min().to(ratios.dtype) < nyquist  # below Nyquist somewhere
    idx = audible.nonzero()[:, 0]
    if idx.numel() == 0:
        zeros = amp_ext.sum() * 0.0 + f0_ext.sum() * 0.0  # keep the graph connected
        return zeros + torch.zeros(b, n_seg // b * hop, dtype=dtype, device=amp_ext.device), final
    if idx.numel() < k_all:
        amp_ext, ratios = amp_ext.index_select(-1, idx), ratios.index_select(0, idx)
    amp_ext = amp_ext.to(dtype)
    amp_pairs = torch.stack([amp_ext[:, :-1], amp_ext[:, 1:]], dim=2).reshape(n_seg, 2, -1)
    omega = (ratios.to(torch.float64) * _TWO_PI).to(dtype)
    seg_fmax = f_abs_max.reshape(n_seg).to(dtype)
    freq, reach = None, None
    if bool((seg_fmax * ratios.max().detach() >= nyquist).any()):
        w_lin = segment_weights(hop, "linear", dtype, amp_ext.device)
        fl, fr = f0_ext[:, :-1].detach().to(dtype), f0_ext[:, 1:].detach().to(dtype)
        freq = (fr[..., None] + (fl - fr)[..., None] * w_lin).reshape(n_seg, hop)
        reach = seg_fmax
    w0 = segment_weights(hop, amp_resample_method, dtype, amp_ext.device)
    phase = phase64.to(dtype).reshape(n_seg, hop)
    y = _HarmonicBank.apply(phase, amp_pairs, omega, ratios.to(dtype), w0, freq, reach, nyquist)
    return y.reshape(b, -1), final[:, 0]


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
    f0_hz = _frames_2d(f0_hz, "f0_hz")
    amplitudes = _frames_2d(amplitudes, "amplitudes")
    b, n_frames = f0_hz.shape
    if amplitudes.shape != f0_hz.shape:
        raise ValueError(f"amplitudes {tuple(amplitudes.shape)} and f0_hz {tuple(f0_hz.shape)} differ")
    n_samples = n_frames * 64 if n_samples is None else int(n_samples)
    amps = _harmonic_amplitudes(amplitudes, harmonic_distribution)
    n_harm = amps.shape[-1]
    if harmonic_shifts is not None:
        freqs = harmonic_frequencies(f0_hz, n_harm) * (1.0 + harmonic_shifts)
        phases = None
        if initial_phase is not None:  # harmonic k starts at k times the fundamental's phase
            k = torch.arange(1, n_harm + 1, dtype=torch.float64, device=f0_hz.device)
            phases = _wrap(initial_phase.to(torch.float64).reshape(b, 1) * k)
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
    final = _wrap(phase64[:, -1])
    ratios = torch.arange(1, amps.shape[-1] + 1, dtype=amps.dtype, device=amps.device)
    env = resample(amps, n_samples, amp_resample_method)  # (B, T, K)
    env = remove_above_nyquist(f.to(amps.dtype)[..., None] * ratios, env, sample_rate)
    sines = torch.sin(phase64.to(amps.dtype)[..., None] * (ratios * _TWO_PI))
    return (env * sines).sum(-1), final


# Sinusoidal (inharmonic) banks -------------------------------------------------------------------------
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
    audio = amps * torch.sin(_TWO_PI * phase)
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
        final = _wrap(phase64[:, -1])
        return (audio, final) if return_final_phase else audio
    hop = n_samples // n_frames
    f_ext = torch.cat([frequencies, frequencies[:, -1:]], dim=1)
    a_ext = torch.cat([amplitudes, amplitudes[:, -1:]], dim=1)
    phase, final = segment_phase(f_ext, hop, sample_rate, initial_phase, dtype=dtype)  # (B, T, K)
    w0 = segment_weights(hop, amp_resample_method, dtype, amplitudes.device)
    w_lin = segment_weights(hop, "linear", dtype, amplitudes.device)
    fl, fr = f_ext[:, :-1, None], f_ext[:, 1:, None]  # (B, S, 1, K)
    freq = (fr + (fl - fr) * w_lin[:, None]).detach()  # (B, S, hop, K)
    sines = torch.sin(_TWO_PI * phase.reshape(b, n_frames, hop, k))
    sines = sines.masked_fill(freq >= sample_rate / 2.0, 0.0)
    pairs = torch.stack([a_ext[:, :-1], a_ext[:, 1:]], dim=-1).reshape(b * n_frames, k, 2)
    p = torch.bmm(sines.reshape(b * n_frames, hop, k), pairs).reshape(b, n_frames, hop, 2)
    audio = (p[..., 0] * w0 + p[..., 1] * (1.0 - w0)).reshape(b, n_samples)
    return (audio, final) if return_final_phase else audio


# Wavetables ------------------------------------------------------------------------------------------
def harmonic_distribution_to_wavetable(
    harmonic_distribution: torch.Tensor, n_wavetable: int = 2048
) -> torch.Tensor:
    """One period of ``sum_k c_k cos(2 pi k n / N)``: ``(..., H)`` -> ``(..., N)`` (magenta's scaling:
    ``irfft([0, c, 0...]) * N / 2``, so a one-hot first harmonic is a unit cosine)."""
    h = harmonic_distribution.shape[-1]
    if 2 * h > n_wavetable:
        raise ValueError(f"{h} harmonics need a wavetable of at least {2 * h} samples, got {n_wavetable}")
    spec = torch.nn.functional.pad(harmonic_distribution, (1, n_wavetable // 2 - h))
    return torch.fft.irfft(spec, n=n_wavetable) * (n_wavetable / 2)


def wavetable_lookup(
    phase: torch.Tensor, wavetables: torch.Tensor, table_index: torch.Tensor | None = None
) -> torch.Tensor:
    """Linear-interpolated, wrapping lookup of one-period tables at phases in cycles.

    ``phase`` ``(B, T)`` and ``wavetables`` ``(B, N)`` (one table), ``(B, T, N)`` (a table per sample)
    or ``(B, F, N)`` with ``table_index`` ``(T,)`` or ``(B, T)`` naming the table of each sample
    -> ``(B, T)``. A gather (O(T)), unlike magenta's dense O(T N) weighting.
    """
    n = wavetables.shape[-1]
    pos = _wrap(phase) * n
    i0 = pos.detach().floor().long().clamp_(0, n - 1)
    frac = pos - i0.to(pos.dtype)
    i1 = (i0 + 1) % n
    if table_index is not None:
        if wavetables.dim() != 3:
            raise ValueError(f"table_index needs frame-wise tables (B, F, N), got {tuple(wavetables.shape)}")
        flat = wavetables.reshape(wavetables.shape[0], -1)
        base = (table_index * n).expand_as(i0)
        v0, v1 = flat.gather(1, base + i0), flat.gather(1, base + i1)
    elif wavetables.dim() == 2:
        v0, v1 = wavetables.gather(1, i0), wavetables.gather(1, i1)
    else:
        v0 = wavetables.gather(2, i0.unsqueeze(-1))[..., 0]
        v1 = wavetables.gather(2, i1.unsqueeze(-1))[..., 0]
    return v0 + (v1 - v0) * frac.to(wavetables.dtype)


def wavetable_synthesis(
    f0_hz: torch.Tensor,
    amplitudes: torch.Tensor,
    wavetables: torch.Tensor,
    n_samples: int,
    sample_rate: int = 16000,
    initial_phase: torch.Tensor | None = None,
) -> torch.Tensor:
    """Monophonic wavetable synth (magenta's ``wavetable_synthesis``).

    ``f0_hz``, ``amplitudes`` ``(B, F)``; ``wavetables`` ``(B, N)`` or ``(B, F, N)`` (frame-wise tables
    are cross-faded linearly between frames) -> ``(B, n_samples)``. The phase is the *exclusive*
    running sum of ``f / sr`` (magenta's wavetable convention), amplitudes use window resampling.
    """
    f0_hz = _frames_2d(f0_hz, "f0_hz")
    amplitudes = _frames_2d(amplitudes, "amplitudes")
    b, n_frames = f0_hz.shape
    if n_samples % n_frames == 0:
        hop = n_samples // n_frames
        f_ext = torch.cat([f0_hz, f0_hz[:, -1:]], dim=1)[..., None]
        phase, _ = segment_phase(f_ext, hop, sample_rate, initial_phase, inclusive=False, dtype=torch.float64)
        phase = phase[..., 0].to(amplitudes.dtype)
        env = resample(amplitudes, n_samples, "window")
    else:
        f = resample(f0_hz.to(torch.float64), n_samples, "linear")
        phase = cumulative_phase(f, sample_rate, initial_phase, inclusive=False).to(amplitudes.dtype)
        env = resample(amplitudes, n_samples, "linear")
    if wavetables.dim() == 2 or wavetables.shape[1] == 1:
        audio = wavetable_lookup(phase, wavetables.reshape(b, -1))
    else:
        if wavetables.shape[1] != n_frames:
            raise ValueError(f"wavetables have {wavetables.shape[1]} frames, f0 has {n_frames}")
        # Per-sample cross-fade between the tables of the two neighbouring frames (linear, endpoint held).
        pos = torch.arange(n_samples, dtype=torch.float64, device=f0_hz.device) * (n_frames / n_samples)
        j0 = pos.floor().long().clamp(max=n_frames - 1)
        j1 = (j0 + 1).clamp(max=n_frames - 1)
        alpha = (pos - j0).to(amplitudes.dtype)
        v0, v1 = (wavetable_lookup(phase, wavetables, j) for j in (j0, j1))
        audio = v0 + (v1 - v0) * alpha
    return audio * env


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
        f0_hz, amplitudes = _frames_2d(f0_hz, "f0_hz"), _frames_2d(amplitudes, "amplitudes")
        amps = _harmonic_amplitudes(amplitudes, harmonic_distribution)
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
