"""The harmonic bank kernel: ``sum_k A_k[n] sin(2 pi k phi[n])`` over blocks of frames.

The harmonic bank is a custom autograd function that works on blocks of frames: within a frame the
amplitudes are a two-tap interpolation of the frame values, so ``sum_k A_k[n] sin(2 pi k phi[n])``
is a small matrix product of the ``(hop, K)`` sine block with the ``(K, 2)`` frame amplitudes. Sines
are recomputed in the backward pass instead of stored, so memory is ``O(B T)`` rather than
``O(B T K)``. Oscillators at or above Nyquist are zeroed sample by sample (``f >= sr / 2``).
"""

from __future__ import annotations

import torch

from audiokit.ddsp.core import segment_weights
from audiokit.ddsp.phase import TWO_PI, segment_phase

__all__ = ["harmonic_segments"]

#: Elements of one (segments, hop, oscillators) block of the harmonic bank (~1 MB in float32).
_BLOCK_ELEMENTS = 1 << 18


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
    omega = (ratios.to(torch.float64) * TWO_PI).to(dtype)
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
