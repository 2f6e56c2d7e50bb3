"""The shared STFT/ISTFT frontend used by every audiokit model.

Conventions (as the papers' official code): periodic Hann window of ``win_length`` samples,
zero-padded centrally to ``n_fft`` (as :func:`torch.stft` does), one-sided spectrum with
``n_fft // 2 + 1`` bins, frequency on dim 1 and frames on dim 2: ``(B, F, N)``.

Three framings are supported (``padding=``):

* ``padding="center"`` (default): reflect-pad ``n_fft // 2`` on both sides, ``N = 1 + T // hop``
  frames; the inverse is :func:`torch.istft` (``center=True``). This is the framing of APNet,
  APNet2, AP-BWE and HiFi-GAN's losses.
* ``padding="same"``: reflect-pad ``(n_fft - hop) // 2`` on both sides and frame without centering,
  giving ``N = T // hop`` frames for ``T`` a multiple of ``hop`` (vocos' "same" mode, also HiFi-GAN's
  mel extractor). The inverse is an overlap-add with window-envelope normalisation (torch.istft
  refuses it through its NOLA check).
* ``padding="valid"``: no padding at all; frame ``n`` covers samples ``[n * hop, n * hop + n_fft)``,
  giving ``N = 1 + (T - n_fft) // hop`` frames (librosa's ``center=False``, the ARAUS soundscape
  features). Analysis only: the first and last samples are not covered by any full window, so there
  is no inverse.
"""

from __future__ import annotations

import warnings
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "APNET_LOG_EPS",
    "APBWE_LOG_EPS",
    "MEL_MAG_EPS",
    "STFT",
    "get_window",
    "stft",
    "istft",
    "magnitude",
    "log_amplitude",
    "amplitude_phase",
    "spectrum_from_amplitude_phase",
    "frames_to_samples",
    "pad_window",
]

#: Additive floor of APNet/APNet2 log-amplitude targets: ``ln(|X| + 1e-5)``.
APNET_LOG_EPS = 1e-5
#: Additive floor of AP-BWE log amplitudes: ``ln(|X| + 1e-4)``.
APBWE_LOG_EPS = 1e-4
#: Energy floor inside the square root of the APNet/HiFi-GAN mel magnitude: ``sqrt(re^2 + im^2 + 1e-9)``.
MEL_MAG_EPS = 1e-9

Padding = Literal["center", "same", "valid"]


def get_window(
    window: str | None,
    win_length: int,
    dtype: torch.dtype = torch.float32,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Analysis window ``(win_length,)``: ``"hann"`` (periodic), ``"hamming"``, ``"blackman"`` or
    ``"rect"``/``None`` (ones; the rectangular window of the MRD discriminators)."""
    if window is None or window in ("rect", "rectangular", "boxcar", "ones"):
        return torch.ones(win_length, dtype=dtype, device=device)
    fn = {"hann": torch.hann_window, "hamming": torch.hamming_window, "blackman": torch.blackman_window}
    if window not in fn:
        raise ValueError(f"unknown window {window!r}; use one of {sorted(fn) + ['rect']}")
    return fn[window](win_length, periodic=True, dtype=dtype, device=device)


def _as_batch(x: torch.Tensor, name: str = "x") -> tuple[torch.Tensor, tuple[int, ...]]:
    """Flatten ``(..., T)`` to ``(B, T)``; return the leading shape to restore."""
    if x.dim() == 0:
        raise ValueError(f"{name}: expected a waveform (T,) or (B, T), got a scalar")
    lead = tuple(x.shape[:-1])
    return x.reshape(-1, x.shape[-1]), lead


def pad_window(window: torch.Tensor, n_fft: int) -> torch.Tensor:
    """Centre a window shorter than ``n_fft`` with zeros, exactly as :func:`torch.stft`."""
    win = window.shape[-1]
    if win == n_fft:
        return window
    left = (n_fft - win) // 2
    return F.pad(window, (left, n_fft - win - left))


def stft(
    x: torch.Tensor,
    n_fft: int,
    hop_length: int,
    window: torch.Tensor,
    padding: Padding = "center",
    pad_mode: str = "reflect",
) -> torch.Tensor:
    """Complex STFT of ``(T,)``/``(B, T)`` audio -> ``(B, n_fft // 2 + 1, N)``.

    ``window`` is the ``(win_length,)`` analysis window (zero-padded centrally to ``n_fft``).
    A ``(T,)`` input gives ``B = 1``.
    """
    if not x.is_floating_point():
        raise ValueError(
            f"STFT expects a floating-point waveform, got {x.dtype} (convert integer PCM first, "
            "e.g. x.float() / 32768 for int16)"
        )
    if x.dim() > 0 and x.shape[-1] == 0:
        raise ValueError(f"STFT input is empty (zero samples, shape {tuple(x.shape)})")
    xb, _ = _as_batch(x)
    window = window.to(device=xb.device, dtype=xb.dtype if xb.is_floating_point() else torch.float32)
    if padding not in ("center", "same", "valid"):
        raise ValueError(f"unknown padding {padding!r}; use 'center', 'same' or 'valid'")
    n_in = xb.shape[-1]
    if padding == "center":
        if pad_mode == "reflect" and n_in <= n_fft // 2:
            raise ValueError(
                f"audio of {n_in} samples is too short for a centred STFT with n_fft={n_fft} "
                f"(reflect padding needs more than {n_fft // 2} samples)"
            )
    else:
        if padding == "same":
            pad = (n_fft - hop_length) // 2
            if pad_mode == "reflect" and n_in <= pad:
                raise ValueError(f"audio of {n_in} samples is too short for n_fft={n_fft}, hop={hop_length}")
            xb = F.pad(xb.unsqueeze(1), (pad, pad), mode=pad_mode).squeeze(1)
        if xb.shape[-1] < n_fft:
            raise ValueError(f"audio of {n_in} samples is shorter than one frame (n_fft={n_fft})")
    return torch.stft(
        xb,
        n_fft,
        hop_length,
        window.shape[-1],
        window,
        center=padding == "center",
        pad_mode=pad_mode,
        normalized=False,
        onesided=True,
        return_complex=True,
    )


def istft(
    spec: torch.Tensor,
    n_fft: int,
    hop_length: int,
    window: torch.Tensor,
    padding: Padding = "center",
    length: int | None = None,
) -> torch.Tensor:
    """Inverse of :func:`stft`: ``(B, F, N)`` complex -> ``(B, T)``.

    With ``padding="center"`` and ``length=None`` the output has ``hop * (N - 1)`` samples, exactly as
    :func:`torch.istft` without ``length`` (the length the official APNet/AP-BWE code produces).
    With ``padding="same"`` it has ``hop * N`` samples. ``length`` trims or zero-pads to a given length.
    """
    if not torch.is_complex(spec):
        raise ValueError(
            "istft expects a complex spectrum (B, F, N); use spectrum_from_amplitude_phase first"
        )
    if spec.dim() == 2:
        spec = spec.unsqueeze(0)
    if spec.dim() != 3:
        raise ValueError(f"istft expects (B, F, N), got shape {tuple(spec.shape)}")
    if spec.shape[1] != n_fft // 2 + 1:
        raise ValueError(f"spectrum has {spec.shape[1]} bins but n_fft={n_fft} needs {n_fft // 2 + 1}")
    window = window.to(device=spec.device, dtype=spec.real.dtype)
    if padding == "center":
        if spec.shape[-1] < 2 and length is None:
            raise ValueError("istft needs at least 2 frames (output length hop * (N - 1) would be 0)")
        return torch.istft(
            spec,
            n_fft,
            hop_length,
            window.shape[-1],
            window,
            center=True,
            normalized=False,
            onesided=True,
            length=length,
        )
    if padding == "same":
        y = _overlap_add_same(spec, n_fft, hop_length, window)
        if length is not None:
            y = y[..., :length] if y.shape[-1] >= length else F.pad(y, (0, length - y.shape[-1]))
        return y
    if padding == "valid":
        raise ValueError(
            "padding='valid' framing has no inverse (the signal edges are not covered by full windows); "
            "use padding='center' or 'same' for analysis/resynthesis"
        )
    raise ValueError(f"unknown padding {padding!r}; use 'center', 'same' or 'valid'")


def _overlap_add_same(spec: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor) -> torch.Tensor:
    """ISTFT for "same" framing: irfft, window, fold, divide by the squared-window envelope, trim."""
    pad = (n_fft - hop) // 2
    n_frames = spec.shape[-1]
    w = pad_window(window, n_fft)
    frames = torch.fft.irfft(spec, n=n_fft, dim=1) * w[None, :, None]  # (B, n_fft, N)
    out_len = (n_frames - 1) * hop + n_fft
    y = F.fold(frames, output_size=(1, out_len), kernel_size=(1, n_fft), stride=(1, hop))[:, 0, 0, :]
    env = F.fold(
        (w * w)[None, :, None].expand(1, n_fft, n_frames),
        output_size=(1, out_len),
        kernel_size=(1, n_fft),
        stride=(1, hop),
    )[0, 0, 0, :]
    y = y[:, pad : out_len - pad]
    env = env[pad : out_len - pad]
    if (env < 1e-11).any():
        raise ValueError("window/hop combination violates the overlap-add (NOLA) condition")
    return y / env


class STFT(nn.Module):
    """STFT/ISTFT pair with fixed parameters; the window is a non-persistent buffer.

    Args:
        n_fft: FFT size; ``n_fft // 2 + 1`` bins.
        hop_length: hop in samples.
        win_length: window length (``<= n_fft``, centred and zero-padded); defaults to ``n_fft``.
        window: ``"hann"`` (periodic, default), ``"hamming"``, ``"blackman"`` or ``"rect"``.
        padding: ``"center"`` (default), ``"same"`` or ``"valid"`` (see the module docstring).
        center: deprecated spelling of ``padding`` (``True``: ``"center"``, ``False``: ``"same"``);
            gives a ``DeprecationWarning``, and a ``ValueError`` if it contradicts ``padding``.
        pad_mode: padding mode of the framing (``"reflect"`` as torch's default).

    Shape:
        forward: ``(T,)`` or ``(B, T)`` -> complex ``(B, n_fft // 2 + 1, N)``.
        inverse: complex ``(B, F, N)`` -> ``(B, T)``.

    Example:
        >>> stft = STFT(1024, 256)
        >>> x = torch.randn(2, 22050)
        >>> y = stft.inverse(stft(x), length=x.shape[-1])
        >>> bool((x - y).abs().max() < 1e-5)
        True
    """

    window: torch.Tensor

    def __init__(
        self,
        n_fft: int,
        hop_length: int,
        win_length: int | None = None,
        window: str | None = "hann",
        center: bool | None = None,
        padding: Padding | None = None,
        pad_mode: str = "reflect",
    ):
        super().__init__()
        if center is not None:
            warnings.warn(
                "STFT(center=...) is deprecated; use padding='center' (center=True) or padding='same' "
                "(center=False)",
                DeprecationWarning,
                stacklevel=2,
            )
            implied: Padding = "center" if center else "same"
            if padding is not None and padding != implied:
                raise ValueError(f"STFT got center={center} and padding={padding!r}; give padding only")
            padding = implied
        win_length = n_fft if win_length is None else win_length
        if not 0 < win_length <= n_fft:
            raise ValueError(f"win_length must be in (0, n_fft], got {win_length} with n_fft={n_fft}")
        if hop_length <= 0:
            raise ValueError(f"hop_length must be positive, got {hop_length}")
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.win_length = win_length
        self.window_name = window
        if padding is not None and padding not in ("center", "same", "valid"):
            raise ValueError(f"unknown padding {padding!r}; use 'center', 'same' or 'valid'")
        self.padding: Padding = "center" if padding is None else padding
        self.pad_mode = pad_mode
        self.register_buffer("window", get_window(window, win_length), persistent=False)

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def num_frames(self, length: int) -> int:
        """Number of frames for ``length`` input samples."""
        if self.padding == "center":
            return 1 + length // self.hop_length
        if self.padding == "valid":
            return 1 + (length - self.n_fft) // self.hop_length if length >= self.n_fft else 0
        return 1 + (length + 2 * ((self.n_fft - self.hop_length) // 2) - self.n_fft) // self.hop_length

    def _window_for(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        # float32 uses the buffer (bit-identical to torch.hann_window as the official code); other
        # precisions recompute the window in that precision rather than upcast rounded float32 values.
        if dtype == torch.float32 or not dtype.is_floating_point:
            return self.window.to(device=device, dtype=torch.float32)
        return get_window(self.window_name, self.win_length, dtype=dtype, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        window = self._window_for(x.dtype, x.device)
        return stft(x, self.n_fft, self.hop_length, window, self.padding, self.pad_mode)

    def inverse(self, spec: torch.Tensor, length: int | None = None) -> torch.Tensor:
        window = self._window_for(spec.real.dtype, spec.device)
        return istft(spec, self.n_fft, self.hop_length, window, self.padding, length)

    def extra_repr(self) -> str:
        return (
            f"n_fft={self.n_fft}, hop_length={self.hop_length}, win_length={self.win_length}, "
            f"window={self.window_name!r}, padding={self.padding!r}"
        )


def magnitude(spec: torch.Tensor, eps: float = MEL_MAG_EPS) -> torch.Tensor:
    """``sqrt(re^2 + im^2 + eps)``: the magnitude of the APNet/HiFi-GAN mel extractors (eps 1e-9).

    Unlike ``spec.abs()`` its gradient is finite at zero.
    """
    return torch.sqrt(spec.real.square() + spec.imag.square() + eps)


def log_amplitude(spec: torch.Tensor, eps: float = APBWE_LOG_EPS) -> torch.Tensor:
    """Natural-log amplitude ``ln(|X| + eps)``.

    ``eps=APBWE_LOG_EPS`` (1e-4) is AP-BWE's convention; ``eps=APNET_LOG_EPS`` (1e-5) that of the
    APNet/APNet2 training targets.
    """
    return torch.log(spec.abs() + eps)


def amplitude_phase(spec: torch.Tensor, eps: float = APBWE_LOG_EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a complex spectrum into ``(ln(|X| + eps), angle(X))``, each ``(B, F, N)``.

    The phase is ``atan2(im, re)`` in (-pi, pi] (0 where ``X == 0``), as the official code.
    """
    return log_amplitude(spec, eps), torch.atan2(spec.imag, spec.real)


def spectrum_from_amplitude_phase(log_amp: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """Complex spectrum ``exp(log_amp) * (cos(phase) + j sin(phase))``.

    As in the official APNet/AP-BWE code the additive floor is *not* subtracted.
    """
    amp = torch.exp(log_amp)
    return torch.complex(amp * torch.cos(phase), amp * torch.sin(phase))


def frames_to_samples(n_frames: int, hop_length: int) -> int:
    """Output length of the centred ISTFT without ``length``: ``hop * (N - 1)``."""
    return hop_length * max(n_frames - 1, 0)
