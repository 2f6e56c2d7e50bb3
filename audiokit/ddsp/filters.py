"""Filter design by frequency sampling, sinc filters, and (time-varying) FFT convolution.

``frequency_impulse_response`` turns sampled magnitudes into a windowed, linear-phase FIR
(J. O. Smith, SASP, "Windowing a desired impulse response"); ``fft_convolve`` applies one FIR, or
one per frame, by frame-wise FFT convolution with overlap-add of the full tails, so a time-invariant
filter gives exactly the linear convolution (no comb ripple from truncated blocks).

Delay: by default the IR has an odd number of taps ``2 h + 1`` centred on tap ``h``, and
``fft_convolve`` removes exactly that group delay. ``compat="magenta"`` reproduces magenta/ddsp's
taps (even-length, e.g. 128 taps for 65 bins) and its automatic crop ``(L - 1) // 2 - 1``, which
leaves the filtered signal 2 samples late for the default noise filter (65 bins, full window).
"""

from __future__ import annotations

import math

import scipy.fft
import torch
import torch.nn.functional as F

__all__ = [
    "fft_size_for",
    "frequency_impulse_response",
    "sinc_impulse_response",
    "fft_convolve",
    "frequency_filter",
    "sinc_filter",
]


def fft_size_for(frame_size: int, ir_size: int, power_of_2: bool = False) -> int:
    """FFT size for a linear convolution of ``frame_size`` and ``ir_size`` samples (next power of 2,
    or the next 5-smooth size, which is faster on CPU)."""
    n = frame_size + ir_size - 1
    return 1 << (n - 1).bit_length() if power_of_2 else scipy.fft.next_fast_len(n, real=True)


def _check_compat(compat: str | None) -> None:
    if compat not in (None, "magenta"):
        raise ValueError(f"compat must be None or 'magenta', got {compat!r}")


def _magenta_window_ir(ir: torch.Tensor, window_size: int) -> torch.Tensor:
    """magenta's ``apply_window_to_impulse_response`` (periodic Hann, zero-phase -> causal)."""
    n = ir.shape[-1]
    if window_size <= 0 or window_size > n:
        window_size = n
    win = torch.hann_window(window_size, periodic=True, dtype=ir.dtype, device=ir.device)
    pad = n - window_size
    if pad > 0:
        half = (window_size + 1) // 2
        win = torch.cat([win[half:], win.new_zeros(pad), win[:half]])
        ir = ir * win
        first = (n - (half - 1)) + 1
        return torch.cat([ir[..., first:], ir[..., : half + 1]], dim=-1)
    ir = ir * torch.roll(win, n // 2)
    return torch.roll(ir, n // 2, dims=-1)


def frequency_impulse_response(
    magnitudes: torch.Tensor, window_size: int = 0, compat: str | None = None
) -> torch.Tensor:
    """Windowed linear-phase FIR from magnitudes sampled at ``n_bins`` frequencies ``0 .. sr/2``.

    Args:
        magnitudes: ``(..., n_bins)`` real, non-negative transfer curve (zero phase).
        window_size: taps of the Hann window; ``<= 0`` (or larger than ``2 (n_bins - 1)``) uses the
            full zero-phase IR.
        compat: ``"magenta"`` for magenta's exact taps (see module docstring).

    Returns:
        ``(..., L)`` causal IR. Default: ``L = 2 h + 1`` with ``h = (window_size - 1) // 2`` (or
        ``n_bins - 2`` for the full window), window ``0.5 (1 + cos(pi m / (h + 1)))`` at lag ``m``,
        group delay ``h``. With all-ones magnitudes the IR is a unit impulse at tap ``h``.
    """
    _check_compat(compat)
    n_bins = magnitudes.shape[-1]
    if n_bins < 2:
        raise ValueError(f"need at least 2 magnitude bins, got {n_bins}")
    n = 2 * (n_bins - 1)
    mags = magnitudes if magnitudes.is_floating_point() else magnitudes.float()
    ir = torch.fft.irfft(mags, n=n)
    if compat == "magenta":
        return _magenta_window_ir(ir, window_size)
    if window_size <= 0 or window_size > n:
        window_size = n
    h = (window_size - 1) // 2
    lags = torch.arange(-h, h + 1, device=ir.device)
    win = 0.5 * (1.0 + torch.cos(math.pi * lags.to(torch.float64) / (h + 1)))
    return ir[..., lags % n] * win.to(ir.dtype)


def sinc_impulse_response(
    cutoff_frequency: torch.Tensor | float,
    window_size: int = 512,
    sample_rate: float | None = None,
    high_pass: bool = False,
    compat: str | None = None,
) -> torch.Tensor:
    """Windowed-sinc low-pass (or spectrally inverted high-pass) FIR of ``2 (window_size // 2) + 1``
    taps, unity gain at DC (at Nyquist for high-pass).

    ``cutoff_frequency`` is in Hz when ``sample_rate`` is given, else a fraction of Nyquist; a tensor
    ``(B, F)`` or ``(B, F, 1)`` gives ``(B, F, L)`` frame-wise IRs. The window is a symmetric Hamming
    window (``compat="magenta"``: TF's periodic one).
    """
    _check_compat(compat)
    cutoff = torch.as_tensor(cutoff_frequency, dtype=torch.float32)
    if cutoff.dim() >= 1 and cutoff.shape[-1] == 1 and cutoff.dim() == 3:
        cutoff = cutoff[..., 0]
    if sample_rate is not None:
        cutoff = cutoff * (2.0 / float(sample_rate))
    half = window_size // 2
    idx = torch.arange(-half, half + 1, dtype=cutoff.dtype, device=cutoff.device)
    x = cutoff[..., None] * idx
    ir = torch.where(x.abs() < 1e-20, torch.ones_like(x), torch.sin(math.pi * x) / (math.pi * x))
    win = torch.hamming_window(2 * half + 1, periodic=compat == "magenta", dtype=ir.dtype, device=ir.device)
    ir = ir * win
    ir = ir / ir.sum(-1, keepdim=True).abs()
    if high_pass:
        delta = torch.zeros_like(ir)
        delta[..., half] = 1.0
        ir = delta - ir
    return ir


def fft_convolve(
    audio: torch.Tensor,
    impulse_response: torch.Tensor,
    padding: str = "same",
    delay_compensation: int = -1,
    crossfade: bool = False,
    compat: str | None = None,
) -> torch.Tensor:
    """Filter ``audio`` ``(B, T)`` by one IR ``(B, L)`` (or ``(1, L)``, ``(L,)``) or one per frame
    ``(B, F, L)``.

    Frame-wise: the audio is cut into ``F`` non-overlapping frames of ``ceil(T / F)`` samples, each
    frame is convolved (via FFT) with its IR and the full results are overlap-added, so within a frame
    the output is exact and the tails carry over. With ``crossfade=True`` the frames are instead Hann
    windows of twice the frame length centred on each frame (constant overlap-add), so each output
    sample is a cross-fade of the two nearest frames' filters and filter changes do not click; for a
    constant IR both give the plain linear convolution.

    Args:
        padding: ``"same"`` (``T`` samples out) or ``"valid"`` (``T + L - 1``, the full convolution).
        delay_compensation: samples cropped from the front; ``< 0`` removes the group delay of a
            :func:`frequency_impulse_response`: ``(L - 1) // 2`` (``compat="magenta"``:
            ``(L - 1) // 2 - 1``, magenta's crop). Use 0 for causal filters such as reverbs.
    """
    _check_compat(compat)
    if audio.dim() != 2:
        raise ValueError(f"audio must be (B, T), got {tuple(audio.shape)}")
    b, t = audio.shape
    ir = impulse_response
    if ir.dim() == 1:
        ir = ir[None, None]
    elif ir.dim() == 2:
        ir = ir[:, None]
    if ir.dim() != 3:
        raise ValueError(
            f"impulse_response must be (L,), (B, L) or (B, F, L), got {tuple(impulse_response.shape)}"
        )
    if ir.shape[0] == 1 and b > 1:
        ir = ir.expand(b, -1, -1)
    if ir.shape[0] != b:
        raise ValueError(f"batch sizes differ: audio {b}, impulse response {ir.shape[0]}")
    n_frames, ir_size = ir.shape[1], ir.shape[2]
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    ir = ir.to(audio.dtype)
    if n_frames == 1:
        n_fft = fft_size_for(t, ir_size)
        full = torch.fft.irfft(torch.fft.rfft(audio, n_fft) * torch.fft.rfft(ir[:, 0], n_fft), n_fft)
        full = full[:, : t + ir_size - 1]
    else:
        frame = -(-t // n_frames)
        if -(-t // frame) != n_frames:
            raise ValueError(
                f"cannot split {t} samples into {n_frames} equal frames (frame {frame}); "
                "the sample count must be a multiple of the number of IR frames"
            )
        full = (
            _convolve_frames_crossfade(audio, ir, frame) if crossfade else _convolve_frames(audio, ir, frame)
        )
        full = full[:, : t + ir_size - 1]
    if delay_compensation < 0:
        delay_compensation = (ir_size - 1) // 2 - (1 if compat == "magenta" else 0)
    keep = t if padding == "same" else t + ir_size - 1
    out = full[:, delay_compensation : delay_compensation + keep]
    if out.shape[-1] < keep:
        out = F.pad(out, (0, keep - out.shape[-1]))
    return out


def _overlap_add(frames: torch.Tensor, hop: int) -> torch.Tensor:
    """``(B, N, W)`` frames placed every ``hop`` samples and summed -> ``(B, (N - 1) hop + W)``."""
    b, n, w = frames.shape
    out = F.fold(
        frames.transpose(1, 2), output_size=(1, (n - 1) * hop + w), kernel_size=(1, w), stride=(1, hop)
    )
    return out[:, 0, 0]


def _convolve_frames(audio: torch.Tensor, ir: torch.Tensor, frame: int) -> torch.Tensor:
    b, t = audio.shape
    n_frames, ir_size = ir.shape[1], ir.shape[2]
    x = F.pad(audio, (0, n_frames * frame - t)).reshape(b, n_frames, frame)
    n_fft = fft_size_for(frame, ir_size)
    y = torch.fft.irfft(torch.fft.rfft(x, n_fft) * torch.fft.rfft(ir, n_fft), n_fft)[
        ..., : frame + ir_size - 1
    ]
    return _overlap_add(y, frame)


def _convolve_frames_crossfade(audio: torch.Tensor, ir: torch.Tensor, frame: int) -> torch.Tensor:
    b, t = audio.shape
    n_frames, ir_size = ir.shape[1], ir.shape[2]
    lead = frame + frame // 2  # window j (j = -1 .. F) starts at j * frame - frame // 2
    total = (n_frames + 3) * frame
    x = F.pad(audio, (lead, total - lead - t))
    segs = x.unfold(-1, 2 * frame, frame)[:, : n_frames + 2]  # (B, F + 2, 2 frame)
    segs = segs * torch.hann_window(2 * frame, periodic=True, dtype=audio.dtype, device=audio.device)
    irs = torch.cat([ir[:, :1], ir, ir[:, -1:]], dim=1)
    n_fft = fft_size_for(2 * frame, ir_size)
    y = torch.fft.irfft(torch.fft.rfft(segs, n_fft) * torch.fft.rfft(irs, n_fft), n_fft)[
        ..., : 2 * frame + ir_size - 1
    ]
    return _overlap_add(y, frame)[:, lead:]


def frequency_filter(
    audio: torch.Tensor,
    magnitudes: torch.Tensor,
    window_size: int = 0,
    padding: str = "same",
    crossfade: bool = False,
    compat: str | None = None,
) -> torch.Tensor:
    """Filter ``(B, T)`` audio by magnitudes ``(B, n_bins)`` or frame-wise ``(B, F, n_bins)``
    (:func:`frequency_impulse_response` then :func:`fft_convolve`, delay removed)."""
    ir = frequency_impulse_response(magnitudes, window_size, compat)
    return fft_convolve(audio, ir, padding, -1, crossfade, compat)


def sinc_filter(
    audio: torch.Tensor,
    cutoff_frequency: torch.Tensor | float,
    window_size: int = 512,
    sample_rate: float | None = None,
    padding: str = "same",
    high_pass: bool = False,
    compat: str | None = None,
) -> torch.Tensor:
    """Windowed-sinc low/high-pass of ``(B, T)`` audio (constant or frame-wise cutoff)."""
    ir = sinc_impulse_response(cutoff_frequency, window_size, sample_rate, high_pass, compat)
    if ir.dim() == 1:
        ir = ir[None]
    return fft_convolve(audio, ir, padding, -1, False, compat)
