"""Streaming bandwidth extension: narrowband audio in, wideband audio out, equal to
:meth:`~audiokit.bwe.APBWE.extend` to float rounding for any chunk sizes.

The offline pipeline is a chain of finite-support operations, each streamed exactly
(:mod:`audiokit.frontend.streaming`): the sinc resampler ``sr -> lr -> hr``, the centred STFT
(reflect padding at both ends), the generator (ConvNeXt layers, receptive radius
``R = (layers + 1) * (kernel // 2)`` frames, zero padding at the ends) and the centred ISTFT.

Look-ahead: an output sample is final ``R * hop + (win - 2)`` samples (Hann window of ``win``
samples) after the newest narrowband sample at ``hr``, plus the resamplers' look-ahead
(``width + orig - 1`` input samples each); :func:`lookahead_seconds` adds them up.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import torch

from audiokit.bwe.outputs import amplitude_phase_apbwe, check_rate
from audiokit.frontend import spectrum_from_amplitude_phase
from audiokit.frontend.resample import sinc_resample_length
from audiokit.frontend.streaming import (
    FrameStreamer,
    StreamingISTFT,
    StreamingResample,
    StreamingSTFT,
    window_support,
)

if TYPE_CHECKING:
    from audiokit.bwe.inference import BandwidthExtender

__all__ = ["BWEStreamer", "lookahead_seconds"]


def _network_lookahead(model: BandwidthExtender) -> int:
    c = model.config
    lo, hi = window_support(model.stft.window, c.n_fft)
    return c.receptive_field * c.hop_size + (hi - lo - 1)


def lookahead_seconds(model: BandwidthExtender, sr: int | None = None) -> float:
    """Algorithmic latency of streaming extension of audio at ``sr`` (default: the preset's low
    rate): resamplers, STFT window, receptive field and ISTFT window, in seconds."""
    c = model.config
    sr = c.lr_sampling_rate if sr is None else int(sr)
    down = StreamingResample(sr, c.lr_sampling_rate)
    up = StreamingResample(c.lr_sampling_rate, c.hr_sampling_rate)
    return (
        down.lookahead / sr
        + up.lookahead / c.lr_sampling_rate
        + _network_lookahead(model) / c.hr_sampling_rate
    )


class BWEStreamer:
    """``push(audio (B, t) at sr) -> wideband audio (B, t')``, ``flush() -> audio``.

    Made by :meth:`~audiokit.bwe.APBWE.stream`. The concatenated outputs equal
    ``model.extend(audio, sr)`` (``ceil(T * hr / sr)`` samples) to float rounding; state is bounded
    by ``max_frames`` and the context, whatever the stream length.
    """

    def __init__(
        self,
        model: BandwidthExtender,
        sr: int | None = None,
        keep_low_band: bool | None = None,
        max_frames: int = 512,
    ):
        c = model.config
        self.model = model
        self.sr = c.lr_sampling_rate if sr is None else check_rate(sr)
        self.keep = c.keep_low_band if keep_low_band is None else bool(keep_low_band)
        self.device, self.dtype = model._device_dtype()
        self.down = StreamingResample(self.sr, c.lr_sampling_rate, self.dtype)
        self.up = StreamingResample(c.lr_sampling_rate, c.hr_sampling_rate, self.dtype)
        window = model.stft.window.to(self.device, self.dtype)
        self.stft = StreamingSTFT(c.n_fft, c.hop_size, window)
        self.frames = FrameStreamer(self._net, c.receptive_field, max_frames)
        self.istft = StreamingISTFT(c.n_fft, c.hop_size, window)
        self.held: torch.Tensor | None = None  # narrowband samples that may fall past the end
        self.n_in = 0  # input samples at sr
        self.n_nb = 0  # narrowband samples given to the STFT
        self.n_out = 0  # wideband samples returned
        self.batch = 1

    def _net(self, spec: torch.Tensor, start: int, stop: int) -> tuple[torch.Tensor]:
        mag, pha = self.model._generate_wideband(
            *amplitude_phase_apbwe(spec, self.model.config.log_eps), self.keep
        )
        return (spectrum_from_amplitude_phase(mag, pha),)

    @property
    def lookahead(self) -> float:
        """Look-ahead in seconds (:func:`lookahead_seconds`)."""
        return lookahead_seconds(self.model, self.sr)

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(x)
        if x.dim() == 1:
            x = x[None]
        if x.dim() != 2 or not x.is_floating_point():
            raise ValueError(f"push expects float audio (B, t), got shape {tuple(x.shape)} {x.dtype}")
        if not torch.isfinite(x).all():
            raise ValueError("push: audio contains NaN or Inf samples")
        return x.to(self.device, self.dtype)

    def _extend(self, nb: torch.Tensor) -> torch.Tensor:
        spec = self.stft.push(nb) if nb.shape[-1] else None
        return self._synth(self.frames.push(spec) if spec is not None and spec.shape[-1] else None)

    def _synth(self, out) -> torch.Tensor:
        if out is None:
            return torch.zeros(self.batch, 0, device=self.device)
        return self.istft.push(out[0])

    def _feed(self, nb: torch.Tensor, limit: int) -> torch.Tensor:
        """Give the STFT the narrowband samples below ``limit`` (the rest is held back)."""
        if self.held is not None:
            nb = torch.cat((self.held, nb), dim=-1)
        take = max(0, min(nb.shape[-1], limit - self.n_nb))
        self.held = nb[:, take:]
        self.n_nb += take
        return self._extend(nb[:, :take])

    @torch.inference_mode()
    def push(self, x: torch.Tensor) -> torch.Tensor:
        """Audio ``(B, t)`` at ``sr`` -> the wideband audio ``(B, t')`` at ``hr`` that is now final."""
        x = self._check(x)
        self.batch = x.shape[0]
        self.n_in += x.shape[-1]
        nb = self.up.push(self.down.push(x)) if x.shape[-1] else x
        # the final length is ceil(T * hr / sr) >= that of the samples seen so far
        y = self._feed(nb, sinc_resample_length(self.n_in, self.sr, self.model.config.hr_sampling_rate))
        self.n_out += y.shape[-1]
        return y

    @torch.inference_mode()
    def flush(self) -> torch.Tensor:
        """The rest of the wideband audio; the stream is closed afterwards."""
        if self.n_in == 0:
            raise ValueError("flush: no audio was pushed")
        c = self.model.config
        nb = self.up.push(self.down.flush())
        nb = torch.cat((nb, self.up.flush()), dim=-1)
        length = sinc_resample_length(self.n_in, self.sr, c.hr_sampling_rate)
        out = [self._feed(nb, length)]
        padded = max(length, c.n_fft // 2 + 1)  # as extend(): zero-pad very short inputs
        if padded > length:
            out.append(
                self._extend(torch.zeros(self.batch, padded - length, device=self.device, dtype=self.dtype))
            )
        out.append(self._synth(self.frames.push(self.stft.flush())))
        out.append(self._synth(self.frames.flush()))
        out.append(self.istft.flush(length=padded))
        y = torch.cat([o.to(self.device) for o in out], dim=-1)[:, : length - self.n_out]
        self.n_out += y.shape[-1]
        return y


def extend_blocks(
    model: BandwidthExtender,
    blocks: Iterable[torch.Tensor],
    sample_rate: int,
    keep_low_band: bool | None = None,
) -> Iterator[torch.Tensor]:
    """Bandwidth extension of a long recording with bounded memory: audio blocks ``(C, t)`` at
    ``sample_rate`` (channels extended independently) -> wideband blocks ``(C, t')``; the
    concatenation equals ``model.extend(audio, sample_rate)`` to float rounding."""
    streamer = model.stream(sr=sample_rate, keep_low_band=keep_low_band)
    for block in blocks:
        y = streamer.push(block)
        if y.shape[-1]:
            yield y.float().cpu()
    yield streamer.flush().float().cpu()
