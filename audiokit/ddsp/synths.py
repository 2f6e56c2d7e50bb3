"""Synthesizers: :class:`Harmonic`, :class:`FilteredNoise`, :class:`Sinusoidal`, :class:`Wavetable`.

Each takes frame-rate network outputs ``(B, F, ...)``; the output length is ``n_samples`` when set
(magenta's fixed-length convention) or ``F * hop_length`` otherwise, so one model renders audio of
any length. ``scale_fn`` arguments accept a callable, a name (``"exp_sigmoid"``, ``"tanh"``, ...) or
``None`` (controls used as given).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from audiokit.ddsp.core import exp_sigmoid, frequencies_sigmoid
from audiokit.ddsp.filters import frequency_filter
from audiokit.ddsp.oscillators import (
    harmonic_synthesis,
    normalize_harmonics,
    remove_above_nyquist,
    sinusoidal_synthesis,
    wavetable_synthesis,
)
from audiokit.ddsp.processors import Processor, TensorDict, resolve_scale_fn

__all__ = ["Harmonic", "FilteredNoise", "Sinusoidal", "Wavetable", "uniform_noise"]


def _frames(x: torch.Tensor) -> torch.Tensor:
    return x[..., 0] if x.dim() == 3 and x.shape[-1] == 1 else x


class _Synth(Processor):
    def __init__(self, name: str, n_samples: int | None, hop_length: int):
        super().__init__(name)
        if hop_length <= 0:
            raise ValueError(f"hop_length must be positive, got {hop_length}")
        self.n_samples = n_samples
        self.hop_length = hop_length

    def output_length(self, n_frames: int) -> int:
        return int(self.n_samples) if self.n_samples else n_frames * self.hop_length


class Harmonic(_Synth):
    """Harmonic oscillator bank: ``x[n] = sum_k A c_k sin(k phi[n])``.

    ``get_controls(amplitudes (B, F[, 1]), harmonic_distribution (B, F, H), f0_hz (B, F[, 1]))``
    applies ``scale_fn`` (exp_sigmoid) to amplitudes and distribution, zeroes harmonics at or above
    Nyquist frame by frame and renormalises the distribution to sum to 1.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_samples: int | None = None,
        hop_length: int = 64,
        scale_fn: Callable | str | None = exp_sigmoid,
        normalize_below_nyquist: bool = True,
        amp_resample_method: str = "window",
        name: str = "harmonic",
    ):
        super().__init__(name, n_samples, hop_length)
        self.sample_rate = sample_rate
        self.scale_fn = resolve_scale_fn(scale_fn)
        self.normalize_below_nyquist = normalize_below_nyquist
        self.amp_resample_method = amp_resample_method

    def get_controls(
        self, amplitudes: torch.Tensor, harmonic_distribution: torch.Tensor, f0_hz: torch.Tensor
    ) -> TensorDict:
        amplitudes, f0_hz = _frames(amplitudes), _frames(f0_hz)
        if self.scale_fn is not None:
            amplitudes = self.scale_fn(amplitudes)
            harmonic_distribution = self.scale_fn(harmonic_distribution)
        harmonic_distribution = normalize_harmonics(
            harmonic_distribution, f0_hz, self.sample_rate if self.normalize_below_nyquist else None
        )
        return {"amplitudes": amplitudes, "harmonic_distribution": harmonic_distribution, "f0_hz": f0_hz}

    def get_signal(
        self, amplitudes: torch.Tensor, harmonic_distribution: torch.Tensor, f0_hz: torch.Tensor
    ) -> torch.Tensor:
        return harmonic_synthesis(
            f0_hz,
            amplitudes,
            harmonic_distribution,
            self.output_length(f0_hz.shape[1]),
            self.sample_rate,
            self.amp_resample_method,
        )


def uniform_noise(
    batch: int, n_samples: int, generator: torch.Generator | None = None, device=None, dtype=torch.float32
) -> torch.Tensor:
    """``U(-1, 1)`` noise ``(batch, n_samples)`` (variance 1/3), magenta's noise source."""
    return torch.rand(batch, n_samples, generator=generator, device=device, dtype=dtype) * 2.0 - 1.0


class FilteredNoise(_Synth):
    """Uniform noise through a time-varying linear-phase FIR designed from ``n_bands`` magnitudes.

    ``get_controls(magnitudes (B, F, n_bands))`` applies ``scale_fn(magnitudes + initial_bias)``
    (exp_sigmoid(x - 5): a zero network output gives -94 dB). ``window_size <= 0`` or larger than the
    IR uses the full ``2 (n_bands - 1)``-sample window (magenta's gin: 65 bands, window 0).
    ``crossfade`` cross-fades the filters of neighbouring frames; ``compat="magenta"`` reproduces
    magenta's taps and 2-sample lag. Pass ``generator`` for reproducible noise.
    """

    def __init__(
        self,
        n_samples: int | None = None,
        hop_length: int = 64,
        window_size: int = 257,
        scale_fn: Callable | str | None = exp_sigmoid,
        initial_bias: float = -5.0,
        crossfade: bool = False,
        compat: str | None = None,
        generator: torch.Generator | None = None,
        name: str = "filtered_noise",
    ):
        super().__init__(name, n_samples, hop_length)
        self.window_size = window_size
        self.scale_fn = resolve_scale_fn(scale_fn)
        self.initial_bias = initial_bias
        self.crossfade = crossfade
        self.compat = compat
        self.generator = generator

    def get_controls(self, magnitudes: torch.Tensor) -> TensorDict:
        if self.scale_fn is not None:
            magnitudes = self.scale_fn(magnitudes + self.initial_bias)
        return {"magnitudes": magnitudes}

    def get_signal(self, magnitudes: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if magnitudes.dim() == 2:
            magnitudes = magnitudes[:, None]
        n = self.output_length(magnitudes.shape[1])
        if noise is None:
            noise = uniform_noise(magnitudes.shape[0], n, self.generator, magnitudes.device, magnitudes.dtype)
        return frequency_filter(
            noise, magnitudes, self.window_size, "same", crossfade=self.crossfade, compat=self.compat
        )


class Sinusoidal(_Synth):
    """Bank of freely tuned sinusoids: ``get_controls(amplitudes (B, F, K), frequencies (B, F, K))``.

    Amplitudes go through ``amp_scale_fn`` (exp_sigmoid), frequencies through ``freq_scale_fn``
    (``frequencies_sigmoid``: 0-8 kHz); oscillators at or above Nyquist are zeroed.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_samples: int | None = None,
        hop_length: int = 64,
        amp_scale_fn: Callable | str | None = exp_sigmoid,
        amp_resample_method: str = "window",
        freq_scale_fn: Callable | None = frequencies_sigmoid,
        name: str = "sinusoidal",
    ):
        super().__init__(name, n_samples, hop_length)
        self.sample_rate = sample_rate
        self.amp_scale_fn = resolve_scale_fn(amp_scale_fn)
        self.amp_resample_method = amp_resample_method
        self.freq_scale_fn = freq_scale_fn

    def get_controls(self, amplitudes: torch.Tensor, frequencies: torch.Tensor) -> TensorDict:
        if self.amp_scale_fn is not None:
            amplitudes = self.amp_scale_fn(amplitudes)
        if self.freq_scale_fn is not None:
            frequencies = self.freq_scale_fn(frequencies)
        amplitudes = remove_above_nyquist(frequencies, amplitudes, self.sample_rate)
        return {"amplitudes": amplitudes, "frequencies": frequencies}

    def get_signal(self, amplitudes: torch.Tensor, frequencies: torch.Tensor) -> torch.Tensor:
        return sinusoidal_synthesis(
            frequencies,
            amplitudes,
            self.output_length(frequencies.shape[1]),
            self.sample_rate,
            self.amp_resample_method,
        )


class Wavetable(_Synth):
    """Wavetable oscillator: ``get_controls(amplitudes (B, F[, 1]), wavetables (B, F, N) or (B, N),
    f0_hz (B, F[, 1]))``.

    Amplitudes use ``scale_fn`` (exp_sigmoid). Tables use ``wavetable_scale_fn``, ``tanh`` by default
    so that learned tables are bipolar; magenta applies exp_sigmoid to the tables too (strictly
    positive tables with a DC offset), available with ``wavetable_scale_fn="exp_sigmoid"``.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_samples: int | None = None,
        hop_length: int = 64,
        scale_fn: Callable | str | None = exp_sigmoid,
        wavetable_scale_fn: Callable | str | None = "tanh",
        name: str = "wavetable",
    ):
        super().__init__(name, n_samples, hop_length)
        self.sample_rate = sample_rate
        self.scale_fn = resolve_scale_fn(scale_fn)
        self.wavetable_scale_fn = resolve_scale_fn(wavetable_scale_fn)

    def get_controls(
        self, amplitudes: torch.Tensor, wavetables: torch.Tensor, f0_hz: torch.Tensor
    ) -> TensorDict:
        amplitudes, f0_hz = _frames(amplitudes), _frames(f0_hz)
        if self.scale_fn is not None:
            amplitudes = self.scale_fn(amplitudes)
        if self.wavetable_scale_fn is not None:
            wavetables = self.wavetable_scale_fn(wavetables)
        return {"amplitudes": amplitudes, "wavetables": wavetables, "f0_hz": f0_hz}

    def get_signal(
        self, amplitudes: torch.Tensor, wavetables: torch.Tensor, f0_hz: torch.Tensor
    ) -> torch.Tensor:
        return wavetable_synthesis(
            f0_hz, amplitudes, wavetables, self.output_length(f0_hz.shape[1]), self.sample_rate
        )
