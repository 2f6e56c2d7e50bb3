"""Block-by-block DDSP rendering whose output equals the one-pass render to float rounding.

Every stage of the autoencoder's synthesis is either frame-local (the conditioning scaling, the Fc
stacks, the output heads and scalings), recurrent (the GRU: its state is carried from block to
block) or a convolution whose tail is carried to the next block (the frame-wise noise filter, the
reverb); the harmonic bank continues its phase (:class:`~audiokit.ddsp.oscillators.HarmonicStream`)
and the noise generator continues its sequence. So a long performance is rendered with memory
bounded by the block, not the file:

* :class:`OverlapAddStream`: the sum of block convolution results, emitted as samples become final.
* :class:`FrameFilterStream`: :class:`~audiokit.ddsp.synths.FilteredNoise` (frame-wise FIR, no
  cross-fade) on a stream of frames.
* :class:`ReverbStream`: the causal convolution reverb of :class:`~audiokit.ddsp.effects.Reverb`.
* :class:`DDSPStream`: the whole autoencoder, ``(B, f)`` f0/loudness blocks -> ``(B, t)`` audio.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from audiokit.ddsp.filters import _convolve_frames, fft_convolve, frequency_impulse_response
from audiokit.ddsp.oscillators import HarmonicStream
from audiokit.ddsp.synths import uniform_noise

if TYPE_CHECKING:
    from audiokit.ddsp.model import DDSPAutoencoder

__all__ = ["OverlapAddStream", "FrameFilterStream", "ReverbStream", "DDSPStream", "DEFAULT_BLOCK_FRAMES"]

#: Frames rendered per block by :meth:`DDSPAutoencoder.render_blocks` (10 s at 250 frames/s).
DEFAULT_BLOCK_FRAMES = 2500


class OverlapAddStream:
    """Accumulate full convolution results of consecutive input blocks and emit what is final.

    ``push(y, n)``: ``y`` ``(B, n + tail)`` is the full result of the next ``n`` input samples; the
    first ``n`` samples (plus the carried tails) are final. The first ``delay`` output samples are
    dropped (a filter's group delay). ``flush(total)`` returns the rest so that ``total`` samples
    have been emitted in all (zero padded, as a ``"same"`` convolution's crop).
    """

    def __init__(self, delay: int = 0):
        self.delay = int(delay)
        self._skip = self.delay
        self._carry: torch.Tensor | None = None
        self.emitted = 0

    def _emit(self, out: torch.Tensor) -> torch.Tensor:
        if self._skip:
            k = min(self._skip, out.shape[-1])
            out, self._skip = out[..., k:], self._skip - k
        self.emitted += out.shape[-1]
        return out

    def push(self, y: torch.Tensor, n: int) -> torch.Tensor:
        if self._carry is not None:
            c = self._carry.shape[-1]
            if c > y.shape[-1]:
                y = F.pad(y, (0, c - y.shape[-1]))
            y = torch.cat([y[..., :c] + self._carry, y[..., c:]], dim=-1)
        self._carry = y[..., n:]
        return self._emit(y[..., :n])

    def flush(self, total: int) -> torch.Tensor:
        rest = self._emit(self._carry) if self._carry is not None else torch.zeros(1, 0)
        need = total - (self.emitted - rest.shape[-1])
        if need > rest.shape[-1]:
            rest = F.pad(rest, (0, need - rest.shape[-1]))
        self._carry = None
        return rest[..., : max(0, need)]


class FrameFilterStream:
    """Frame-wise linear-phase FIR filtering (:func:`~audiokit.ddsp.filters.frequency_filter` with
    ``"same"`` padding, no cross-fade) on a stream: ``push(audio (B, f hop), magnitudes (B, f, bins))``.

    The output lags the input by the filter's group delay ``(L - 1) // 2``; :meth:`flush` returns the
    last samples (``f hop`` in all, as the one-pass filter).
    """

    def __init__(self, hop_length: int, window_size: int = 0):
        self.hop, self.window_size = int(hop_length), window_size
        self._oa: OverlapAddStream | None = None
        self.n_in = 0

    def push(self, audio: torch.Tensor, magnitudes: torch.Tensor) -> torch.Tensor:
        ir = frequency_impulse_response(magnitudes, self.window_size)  # (B, f, L)
        if self._oa is None:
            self._oa = OverlapAddStream(delay=(ir.shape[-1] - 1) // 2)
        if audio.shape[-1] != magnitudes.shape[1] * self.hop:
            raise ValueError(f"{audio.shape[-1]} samples for {magnitudes.shape[1]} frames of hop {self.hop}")
        self.n_in += audio.shape[-1]
        return self._oa.push(_convolve_frames(audio, ir.to(audio.dtype), self.hop), audio.shape[-1])

    def flush(self) -> torch.Tensor:
        if self._oa is None:
            raise ValueError("FrameFilterStream.flush() before any push()")
        return self._oa.flush(self.n_in)


class ReverbStream:
    """:class:`~audiokit.ddsp.effects.Reverb`'s causal convolution (first IR tap zeroed, dry added
    when ``add_dry``) on a stream; ``ir`` ``(L,)`` or ``(B, L)``. No latency: ``push`` returns as
    many samples as it gets."""

    def __init__(self, ir: torch.Tensor, add_dry: bool = True):
        ir = ir[None] if ir.dim() == 1 else ir
        self.ir = torch.cat([torch.zeros_like(ir[:, :1]), ir[:, 1:]], dim=1)
        self.add_dry = add_dry
        self._oa = OverlapAddStream()
        self.n_in = 0

    def push(self, audio: torch.Tensor) -> torch.Tensor:
        n = audio.shape[-1]
        if n == 0:
            return audio
        self.n_in += n
        wet = self._oa.push(fft_convolve(audio, self.ir.to(audio.dtype), "valid", 0), n)
        return wet + audio if self.add_dry else wet

    def flush(self) -> torch.Tensor:
        """Nothing: the output already has the input's length (the wet tail beyond it is dropped,
        as the one-pass reverb's ``"same"`` crop)."""
        return self.ir.new_zeros(self.ir.shape[0], 0)


class _Aligner:
    """Pairs two streams with different latencies: emits the common prefix of both."""

    def __init__(self) -> None:
        self.a: torch.Tensor | None = None
        self.b: torch.Tensor | None = None

    def push(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.a = a if self.a is None else torch.cat([self.a, a], dim=-1)
        self.b = b if self.b is None else torch.cat([self.b, b], dim=-1)
        n = min(self.a.shape[-1], self.b.shape[-1])
        out = self.a[..., :n], self.b[..., :n]
        self.a, self.b = self.a[..., n:], self.b[..., n:]
        return out


class DDSPStream:
    """A :class:`~audiokit.ddsp.model.DDSPAutoencoder` without a z encoder, rendered block by block.

    ``push(f0_hz (B, f), loudness_db (B, f)) -> (B, t)`` audio; ``flush()`` the rest. All outputs
    together equal ``model(f0_hz, loudness_db)["audio"]`` of the whole sequences to float rounding
    (the same noise when ``generator`` is seeded alike). Latency: the larger of one frame (the
    harmonic bank needs the next frame) and the noise filter's group delay.
    """

    def __init__(self, model: DDSPAutoencoder, generator: torch.Generator | None = None):
        if model.encoder is not None:
            raise ValueError(
                "block-wise rendering needs a model without a z encoder (its z sees the whole audio)"
            )
        self.model = model
        procs = model.processor_group.modules_by_name
        self.harmonic_proc, self.noise_proc = procs["harmonic"], procs["filtered_noise"]
        if self.noise_proc.crossfade or self.noise_proc.compat is not None:
            raise ValueError("block-wise rendering supports the plain frame-wise noise filter only")
        hop = model.config.hop_length
        self.hop = hop
        self.generator = generator if generator is not None else self.noise_proc.generator
        self.harmonic = HarmonicStream(model.config.sample_rate, hop, self.harmonic_proc.amp_resample_method)
        self.noise = FrameFilterStream(hop, self.noise_proc.window_size)
        reverb = procs["reverb"] if "reverb" in procs else None
        self.reverb = None if reverb is None else ReverbStream(reverb.ir.detach(), reverb.add_dry)
        self._align = _Aligner()
        self._state: torch.Tensor | None = None
        self.n_frames = 0

    def _finish(self, harm: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        h, n = self._align.push(harm, noise)
        dry = n + h  # the DAG's Add: filtered_noise + harmonic
        return self.reverb.push(dry) if self.reverb is not None else dry

    @torch.no_grad()
    def push(self, f0_hz: torch.Tensor, loudness_db: torch.Tensor) -> torch.Tensor:
        if f0_hz.shape != loudness_db.shape or f0_hz.dim() != 2:
            raise ValueError(
                f"f0_hz {tuple(f0_hz.shape)} and loudness_db {tuple(loudness_db.shape)} must be (B, f)"
            )
        m = self.model
        net, self._state = m.decoder(m.preprocessor(f0_hz, loudness_db), self._state, return_state=True)
        hc = self.harmonic_proc.get_controls(net["amps"], net["harmonic_distribution"], f0_hz)
        harm = self.harmonic.process(hc["f0_hz"], hc["amplitudes"], hc["harmonic_distribution"])
        mags = self.noise_proc.get_controls(net["noise_magnitudes"])["magnitudes"]
        white = uniform_noise(
            mags.shape[0], mags.shape[1] * self.hop, self.generator, mags.device, mags.dtype
        )
        noise = self.noise.push(white, mags)
        self.n_frames += f0_hz.shape[1]
        return self._finish(harm, noise)

    @torch.no_grad()
    def flush(self) -> torch.Tensor:
        """The last samples (the held last frame and the noise filter's delay)."""
        return self._finish(self.harmonic.flush(), self.noise.flush())


def render_blocks(
    model: DDSPAutoencoder,
    f0_hz: torch.Tensor,
    loudness_db: torch.Tensor,
    block_frames: int = DEFAULT_BLOCK_FRAMES,
    generator: torch.Generator | None = None,
) -> Iterator[torch.Tensor]:
    """Render ``(B, F)`` controls through :class:`DDSPStream` ``block_frames`` frames at a time,
    yielding ``(B, t)`` audio blocks (``F * hop`` samples in all)."""
    if block_frames < 1:
        raise ValueError(f"block_frames must be positive, got {block_frames}")
    stream = DDSPStream(model, generator)
    for s in range(0, f0_hz.shape[1], block_frames):
        y = stream.push(f0_hz[:, s : s + block_frames], loudness_db[:, s : s + block_frames])
        if y.shape[-1]:
            yield y
    yield stream.flush()
