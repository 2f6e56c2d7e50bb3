"""Effects: reverbs (:class:`Reverb`, :class:`ExpDecayReverb`, :class:`FilteredNoiseReverb`), the
time-varying :class:`FIRFilter` and the modulated delay :class:`ModDelay` (chorus, flanger, vibrato).

Reverbs convolve causally (``fft_convolve(..., delay_compensation=0)``) with the first IR tap masked,
so the dry path is only ever the explicit ``add_dry`` term.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.ddsp.core import exp_sigmoid, resample
from audiokit.ddsp.filters import fft_convolve, frequency_filter
from audiokit.ddsp.processors import Processor, TensorDict, resolve_scale_fn
from audiokit.ddsp.synths import FilteredNoise, uniform_noise

__all__ = [
    "Reverb",
    "ExpDecayReverb",
    "FilteredNoiseReverb",
    "FIRFilter",
    "ModDelay",
    "variable_length_delay",
]


def _ir_2d(ir: torch.Tensor) -> torch.Tensor:
    if ir.dim() == 1:
        ir = ir[None]
    if ir.dim() == 3 and ir.shape[-1] == 1:
        ir = ir[..., 0]
    if ir.dim() != 2:
        raise ValueError(f"impulse response must be (L,), (B, L) or (B, L, 1), got {tuple(ir.shape)}")
    return ir


class Reverb(Processor):
    """Convolution reverb with an impulse response ``(B, L)`` from the network, or (``trainable``) a
    single learned IR of ``reverb_length`` samples shared by the whole dataset (init ``N(0, 1e-6)``).

    ``get_signal``: ``ir[0]`` is set to 0, ``wet = audio * ir`` (causal), output ``wet + audio`` when
    ``add_dry``.
    """

    def __init__(
        self, trainable: bool = False, reverb_length: int = 48000, add_dry: bool = True, name: str = "reverb"
    ):
        super().__init__(name)
        self.trainable = trainable
        self.reverb_length = reverb_length
        self.add_dry = add_dry
        if trainable and type(self) is Reverb:
            self.ir = nn.Parameter(torch.randn(reverb_length) * 1e-6)

    def get_controls(self, audio: torch.Tensor, ir: torch.Tensor | None = None) -> TensorDict:
        if self.trainable:
            ir = self.ir[None].expand(audio.shape[0], -1)
        elif ir is None:
            raise ValueError(f"{type(self).__name__}(trainable=False) needs an impulse response input")
        return {"audio": audio, "ir": ir}

    def get_signal(self, audio: torch.Tensor, ir: torch.Tensor) -> torch.Tensor:
        ir = _ir_2d(ir).to(audio.dtype)
        ir = torch.cat([torch.zeros_like(ir[:, :1]), ir[:, 1:]], dim=1)
        wet = fft_convolve(audio, ir, padding="same", delay_compensation=0)
        return wet + audio if self.add_dry else wet


class ExpDecayReverb(Reverb):
    """IR = ``scale_fn(gain) * exp(-(2 + exp(decay)) t) * U(-1, 1)``, ``t`` from 0 to 1 over the IR.

    Trainable init: gain 2.0 (x1.49), decay 4.0 (exponent 56.6; RT60 about 0.37 s at 48000 samples,
    16 kHz). The noise is drawn on every call (magenta), or once and kept with ``fixed_noise=True``.
    """

    def __init__(
        self,
        trainable: bool = False,
        reverb_length: int = 48000,
        scale_fn: Callable | str | None = exp_sigmoid,
        add_dry: bool = True,
        fixed_noise: bool = False,
        generator: torch.Generator | None = None,
        name: str = "exp_decay_reverb",
    ):
        super().__init__(trainable, reverb_length, add_dry, name)
        self.scale_fn = resolve_scale_fn(scale_fn)
        self.generator = generator
        if trainable:
            self.gain = nn.Parameter(torch.tensor([2.0]))
            self.decay = nn.Parameter(torch.tensor([4.0]))
        self.register_buffer(
            "noise", uniform_noise(1, reverb_length, generator)[0] if fixed_noise else None, persistent=True
        )

    def impulse_response(self, gain: torch.Tensor, decay: torch.Tensor) -> torch.Tensor:
        """``(B, 1)`` gain and decay -> ``(B, reverb_length)``."""
        gain = self.scale_fn(gain) if self.scale_fn is not None else gain
        t = torch.linspace(0.0, 1.0, self.reverb_length, dtype=gain.dtype, device=gain.device)[None]
        noise = (
            self.noise if self.noise is not None else uniform_noise(1, self.reverb_length, self.generator)[0]
        )
        return gain * torch.exp(-(2.0 + torch.exp(decay)) * t) * noise.to(gain)

    def get_controls(
        self, audio: torch.Tensor, gain: torch.Tensor | None = None, decay: torch.Tensor | None = None
    ) -> TensorDict:
        if self.trainable:
            gain, decay = self.gain[None], self.decay[None]
        elif gain is None or decay is None:
            raise ValueError("ExpDecayReverb(trainable=False) needs gain and decay inputs")
        ir = self.impulse_response(gain.reshape(-1, 1), decay.reshape(-1, 1))
        return {"audio": audio, "ir": ir.expand(audio.shape[0], -1) if ir.shape[0] == 1 else ir}


class FilteredNoiseReverb(Reverb):
    """IR rendered by a :class:`FilteredNoise` synth from magnitudes ``(B, n_frames, n_filter_banks)``
    (trainable: one learned ``(n_frames, n_filter_banks)`` set, init ``N(0, 0.01)``, bias -3)."""

    def __init__(
        self,
        trainable: bool = False,
        reverb_length: int = 48000,
        window_size: int = 257,
        n_frames: int = 1000,
        n_filter_banks: int = 16,
        scale_fn: Callable | str | None = exp_sigmoid,
        initial_bias: float = -3.0,
        add_dry: bool = True,
        generator: torch.Generator | None = None,
        name: str = "filtered_noise_reverb",
    ):
        super().__init__(trainable, reverb_length, add_dry, name)
        if reverb_length % n_frames:
            raise ValueError(f"reverb_length ({reverb_length}) must be a multiple of n_frames ({n_frames})")
        self.synth = FilteredNoise(
            n_samples=reverb_length,
            hop_length=reverb_length // n_frames,
            window_size=window_size,
            scale_fn=scale_fn,
            initial_bias=initial_bias,
            generator=generator,
            name="ir_synth",
        )
        if trainable:
            self.magnitudes = nn.Parameter(torch.randn(n_frames, n_filter_banks) * 1e-2)

    def get_controls(self, audio: torch.Tensor, magnitudes: torch.Tensor | None = None) -> TensorDict:
        if self.trainable:
            magnitudes = self.magnitudes[None]
        elif magnitudes is None:
            raise ValueError("FilteredNoiseReverb(trainable=False) needs a magnitudes input")
        ir = self.synth(magnitudes)
        return {"audio": audio, "ir": ir.expand(audio.shape[0], -1) if ir.shape[0] == 1 else ir}


class FIRFilter(Processor):
    """Linear time-varying FIR on an audio input: ``get_controls(audio (B, T), magnitudes (B, F, n))``
    with ``scale_fn`` (exp_sigmoid) on the magnitudes; zero-delay linear-phase filters."""

    def __init__(
        self,
        window_size: int = 257,
        scale_fn: Callable | str | None = exp_sigmoid,
        crossfade: bool = False,
        name: str = "fir_filter",
    ):
        super().__init__(name)
        self.window_size = window_size
        self.scale_fn = resolve_scale_fn(scale_fn)
        self.crossfade = crossfade

    def get_controls(self, audio: torch.Tensor, magnitudes: torch.Tensor) -> TensorDict:
        if self.scale_fn is not None:
            magnitudes = self.scale_fn(magnitudes)
        return {"audio": audio, "magnitudes": magnitudes}

    def get_signal(self, audio: torch.Tensor, magnitudes: torch.Tensor) -> torch.Tensor:
        return frequency_filter(audio, magnitudes, self.window_size, "same", crossfade=self.crossfade)


def variable_length_delay(audio: torch.Tensor, delay_samples: torch.Tensor) -> torch.Tensor:
    """``y[n] = x[n - d[n]]`` with linear interpolation and zeros before the start.

    ``audio`` ``(B, T)``, ``delay_samples`` ``(B, T)`` (non-negative, fractional). A gather, O(T)
    memory (magenta frames the signal with hop 1, O(T * max_delay)). Differentiable in both inputs.
    """
    if delay_samples.shape != audio.shape:
        raise ValueError(f"delay {tuple(delay_samples.shape)} and audio {tuple(audio.shape)} differ")
    d = delay_samples.clamp(min=0.0)
    pad = int(torch.ceil(d.detach().max()).item()) + 1 if d.numel() else 1
    xp = F.pad(audio, (pad, 0))
    n = torch.arange(audio.shape[-1], device=audio.device, dtype=d.dtype)
    pos = n + pad - d  # position in the padded signal
    i0 = pos.detach().floor().long().clamp(0, xp.shape[-1] - 1)
    i1 = (i0 + 1).clamp(max=xp.shape[-1] - 1)
    frac = (pos - i0.to(pos.dtype)).to(audio.dtype)
    x0, x1 = xp.gather(1, i0), xp.gather(1, i1)
    return x0 + (x1 - x0) * frac


class ModDelay(Processor):
    """Modulated delay: ``wet[n] = gain[n] * x[n - d[n]]``, ``d = center + phase * depth`` (ms).

    ``get_controls(audio (B, T), gain, phase)`` with gain/phase ``(B, T[, 1])`` or frame-rate
    ``(B, F[, 1])`` (resampled linearly); ``gain_scale_fn`` exp_sigmoid, ``phase_scale_fn`` sigmoid.
    The delay spans ``[center_ms, center_ms + depth_ms]`` (15-25 ms by default), as magenta computes
    it; phase 1 is exactly ``center + depth`` here (magenta's table lookup wraps to 0 delay there).
    """

    def __init__(
        self,
        center_ms: float = 15.0,
        depth_ms: float = 10.0,
        sample_rate: int = 16000,
        gain_scale_fn: Callable | str | None = exp_sigmoid,
        phase_scale_fn: Callable | str | None = "sigmoid",
        add_dry: bool = True,
        name: str = "mod_delay",
    ):
        super().__init__(name)
        self.center_ms = center_ms
        self.depth_ms = depth_ms
        self.sample_rate = sample_rate
        self.gain_scale_fn = resolve_scale_fn(gain_scale_fn)
        self.phase_scale_fn = resolve_scale_fn(phase_scale_fn)
        self.add_dry = add_dry

    def _to_samples(self, x: torch.Tensor, n: int) -> torch.Tensor:
        x = x[..., 0] if x.dim() == 3 else x
        if x.dim() == 1:
            x = x[:, None]
        return x.expand(-1, n) if x.shape[-1] == 1 else (x if x.shape[-1] == n else resample(x, n, "linear"))

    def get_controls(self, audio: torch.Tensor, gain: torch.Tensor, phase: torch.Tensor) -> TensorDict:
        if self.gain_scale_fn is not None:
            gain = self.gain_scale_fn(gain)
        if self.phase_scale_fn is not None:
            phase = self.phase_scale_fn(phase)
        n = audio.shape[-1]
        return {"audio": audio, "gain": self._to_samples(gain, n), "phase": self._to_samples(phase, n)}

    def get_signal(self, audio: torch.Tensor, gain: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        ms = self.center_ms + phase * self.depth_ms
        wet = variable_length_delay(audio, ms * (self.sample_rate / 1000.0)) * gain
        return wet + audio if self.add_dry else wet
