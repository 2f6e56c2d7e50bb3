"""Streaming vocoding: log-mel frames in, audio out, with the one-pass result (APNet) or a running
GRN approximation (APNet2).

APNet has no global operation: an amplitude/phase frame depends on the mel frames within
``receptive_field`` (R) of it, and an output sample on the frames whose synthesis windows overlap it.
:class:`VocoderStreamer` therefore runs the network on each new block of mel frames plus R frames
of context on each side (:class:`~audiokit.frontend.streaming.FrameStreamer`) and overlap-adds the
resulting frames (:class:`~audiokit.frontend.streaming.StreamingISTFT`): the concatenated output of
``push``/``flush`` equals ``model(mel).audio`` to float rounding, for any chunk sizes.

APNet2's GRN normalises each channel by its L2 norm over the **whole utterance**, so no streaming
can be exact. ``grn="running"`` (the default for APNet2) uses the sums of squares of all frames seen
so far (committed frames plus the look-ahead of the current call); the ratio ``G / mean(G)`` that
GRN uses does not depend on the number of frames, so the statistics converge to the utterance's
own as the stream grows. Its SNR against the offline output is measured in the tests and in
``docs/deployment.md``.

Look-ahead (algorithmic latency): the last output sample that the mel frame ``m`` cannot change
is ``R * hop + n_fft // 2 - lo`` samples before its centre ``m * hop`` (``lo``: the first non-zero
sample of the window padded to ``n_fft``; for a Hann window of ``win`` samples that is
``R * hop + win // 2 - 1``). :func:`lookahead_samples` computes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import torch

from audiokit.frontend.streaming import (
    FrameStreamer,
    StreamingISTFT,
    StreamingMel,
    StreamingResample,
    window_support,
)

if TYPE_CHECKING:
    from audiokit.vocoders.base import SpectralVocoder

__all__ = ["RefiningStreamer", "VocoderStreamer", "lookahead_samples", "running_grn_backbone"]


def lookahead_samples(model: SpectralVocoder) -> int:
    """Samples of look-ahead of streaming vocoding: how far before the centre of the newest mel
    frame the output is final (``R * hop + n_fft // 2 - lo``, see the module docstring)."""
    c = model.config
    lo, _ = window_support(model.stft.window, c.n_fft)
    return model.receptive_field * c.hop_length + c.n_fft // 2 - lo


class _RunningGRN:
    """APNet2's backbone with each GRN's statistics from running sums of squares (see the module
    docstring). ``__call__(mel, start, stop)`` follows :class:`FrameStreamer`'s convention."""

    def __init__(self, model):
        self.model = model
        self.sums: dict[int, torch.Tensor] = {}

    def _block(self, block, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        grn = block.grn
        h = block.dwconv(x).transpose(1, 2)
        h = block.act(block.pwconv1(block.norm(h)))  # (B, W, C)
        sq = h.square()
        prev = self.sums.get(id(block))
        seen = sq[:, start:].sum(dim=1, keepdim=True)
        done = sq[:, start:stop].sum(dim=1, keepdim=True)
        if prev is not None:
            seen, done = seen + prev, done + prev
        self.sums[id(block)] = done
        gx = seen.sqrt()
        nx = gx / (gx.mean(dim=-1, keepdim=True) + grn.eps)
        h = grn.gamma * (h * nx) + grn.beta + h
        return x + block.pwconv2(h).transpose(1, 2)

    def _branch(self, mel, input_conv, norm, blocks, final_norm, start, stop):
        x = norm(input_conv(mel).transpose(1, 2)).transpose(1, 2)
        for block in blocks:
            x = self._block(block, x, start, stop)
        return final_norm(x.transpose(1, 2)).transpose(1, 2)

    def __call__(self, mel: torch.Tensor, start: int, stop: int):
        m = self.model
        a = self._branch(mel, m.ASP_input_conv, m.norm2, m.convnext2, m.final_layer_norm2, start, stop)
        p = self._branch(mel, m.PSP_input_conv, m.norm, m.convnext, m.final_layer_norm, start, stop)
        return m._add_amplitude_prior(
            mel, (m.ASP_output_conv(a), m.PSP_output_R_conv(p), m.PSP_output_I_conv(p))
        )


def running_grn_backbone(model) -> _RunningGRN:
    """APNet2's backbone with running GRN statistics, as used by ``APNet2.stream()``."""
    return _RunningGRN(model)


def _check_mel(mel: torch.Tensor, n_mels: int, device: torch.device) -> torch.Tensor:
    """A pushed log-mel as ``(B, n_mels, n)`` on ``device``; ``ValueError`` naming what is wrong."""
    if not isinstance(mel, torch.Tensor):
        raise ValueError(f"push expects a log-mel tensor (B, {n_mels}, n), got {type(mel).__name__}")
    if mel.dim() == 2:
        mel = mel[None]
    if mel.dim() != 3 or mel.shape[1] != n_mels:
        raise ValueError(f"push expects a log-mel of shape (B, {n_mels}, n), got {tuple(mel.shape)}")
    if not mel.is_floating_point() or not torch.isfinite(mel).all():
        raise ValueError("push expects a finite float log-mel")
    return mel.to(device)


class VocoderStreamer:
    """``push(mel (B, n_mels, n)) -> audio (B, t)``, ``flush() -> audio (B, t)``.

    Made by :meth:`SpectralVocoder.stream`. Any chunk size (from one frame up); the concatenated
    outputs have ``hop * (N - 1)`` samples, as the offline call. Memory is bounded by
    ``max_frames`` plus the context, whatever the stream length.

    Args:
        model: an APNet or APNet2.
        dtype: ``None``: the reference network; ``torch.float32``/``torch.bfloat16``: the inference
            engines of :mod:`audiokit.vocoders.fast` (APNet only with ``grn="running"``).
        grn: for APNet2: ``"running"`` (running statistics, default) or ``"chunk"`` (each network
            call normalises over its own window, as chunked :meth:`~SpectralVocoder.synthesize`).
        max_frames: most frames committed per network call.
    """

    def __init__(
        self,
        model: SpectralVocoder,
        dtype: torch.dtype | None = None,
        grn: str = "running",
        max_frames: int = 1024,
    ):
        if grn not in ("running", "chunk"):
            raise ValueError(f"grn must be 'running' or 'chunk', got {grn!r}")
        self.model = model.eval()
        if model.global_context and grn == "running":
            if dtype not in (None, torch.float32):
                raise ValueError("APNet2 streaming with running GRN statistics runs in float32 only")
            net = running_grn_backbone(model)
        else:
            backbone = model.backbone if dtype is None else model.fast_backbone(dtype)

            def net(mel, start, stop):
                return backbone(mel)

        c = model.config
        self.device = model._param_device()
        self.frames = FrameStreamer(net, model.receptive_field, max_frames)
        self.istft = StreamingISTFT(c.n_fft, c.hop_length, model.stft.window)
        self.n_frames = 0
        self.batch = 1

    @property
    def lookahead(self) -> int:
        """Look-ahead in samples (see :func:`lookahead_samples`)."""
        return lookahead_samples(self.model)

    def _check(self, mel: torch.Tensor) -> torch.Tensor:
        return _check_mel(mel, self.model.n_mels, self.device)

    def _synth(self, out) -> torch.Tensor:
        if out is None:
            return torch.zeros(self.batch, 0)
        return self.istft.push(self.model.spectrum(*out))

    @torch.inference_mode()
    def push(self, mel: torch.Tensor) -> torch.Tensor:
        """Log-mel frames ``(B, n_mels, n)`` -> the audio ``(B, t)`` that is now final."""
        mel = self._check(mel)
        self.batch = mel.shape[0]
        self.n_frames += mel.shape[-1]
        return self._synth(self.frames.push(mel))

    @torch.inference_mode()
    def flush(self) -> torch.Tensor:
        """The rest of the audio; the stream is closed afterwards."""
        if self.n_frames < 2:
            raise ValueError(f"need at least 2 mel frames (output length hop * (N - 1)), got {self.n_frames}")
        head = self._synth(self.frames.flush())
        return torch.cat((head, self.istft.flush()), dim=-1)


class RefiningStreamer:
    """``push(mel (B, n_mels, n)) -> audio (B, t)``, ``flush() -> audio (B, t)`` for a model whose
    phase is refined by Griffin-Lim (``phase_refine_iters > 0``), which couples neighbouring frames:
    the chunked :meth:`~SpectralVocoder.synthesize` (``chunk_frames`` output frames per chunk, each
    refined with :data:`~audiokit.vocoders.base.REFINE_MARGIN_FRAMES` spare frames on each side) run as
    the frames arrive. The concatenated output equals ``synthesize(mel, chunk_frames=chunk_frames)``
    to float rounding; memory is bounded by the chunk and its context, whatever the stream length.
    """

    def __init__(
        self,
        model: SpectralVocoder,
        dtype: torch.dtype | None = None,
        phase_refine_iters: int | None = None,
        chunk_frames: int = 1024,
    ):
        if chunk_frames < 1:
            raise ValueError(f"chunk_frames must be positive, got {chunk_frames}")
        self.model = model.eval()
        iters = model.config.phase_refine_iters if phase_refine_iters is None else int(phase_refine_iters)
        if iters < 0:
            raise ValueError(f"phase_refine_iters must be >= 0, got {phase_refine_iters}")
        self.iters, self.chunk = iters, int(chunk_frames)
        self.net = model.backbone if dtype is None else model.fast_backbone(dtype)
        self.ctx, self.margin = model.receptive_field, model.chunk_margin(iters)
        self.device = model._param_device()
        self.buf: torch.Tensor | None = None
        self.offset = 0  # global index of the first frame in ``buf``
        self.next = 0  # first output frame not yet synthesised

    def _check(self, mel: torch.Tensor) -> torch.Tensor:
        return _check_mel(mel, self.model.n_mels, self.device)

    def _chunk(self, s: int, e: int, n: int) -> torch.Tensor:
        assert self.buf is not None
        return self.model._chunk_audio(self.net, self.buf, self.offset, s, e, n, self.ctx, self.iters)

    @torch.inference_mode()
    def push(self, mel: torch.Tensor) -> torch.Tensor:
        """Log-mel frames ``(B, n_mels, n)`` -> the audio ``(B, t)`` that is now final."""
        mel = self._check(mel)
        self.buf = mel if self.buf is None else torch.cat((self.buf, mel), dim=-1)
        out = [self.buf.new_zeros(self.buf.shape[0], 0)]
        while True:
            avail = self.offset + self.buf.shape[-1]
            e = self.next + self.chunk
            if e + self.margin + 1 + self.ctx > avail:  # the chunk's right context has not arrived
                break
            out.append(self._chunk(self.next, e, avail))
            self.next = e
            drop = max(0, self.next - self.margin - self.ctx - self.offset)
            self.buf, self.offset = self.buf[..., drop:], self.offset + drop
        return torch.cat(out, dim=-1)

    @torch.inference_mode()
    def flush(self) -> torch.Tensor:
        """The rest of the audio; the stream is closed afterwards."""
        n = self.offset + (0 if self.buf is None else self.buf.shape[-1])
        if n < 2:
            raise ValueError(f"need at least 2 mel frames (output length hop * (N - 1)), got {n}")
        assert self.buf is not None
        out = [self.buf.new_zeros(self.buf.shape[0], 0)]
        out += [self._chunk(s, min(s + self.chunk, n - 1), n) for s in range(self.next, n - 1, self.chunk)]
        self.buf = None
        return torch.cat(out, dim=-1)


def vocode_blocks(
    model: SpectralVocoder,
    blocks: Iterable[torch.Tensor],
    sample_rate: int,
    dtype: torch.dtype | None = None,
    chunk_frames: int = 1024,
    phase_refine_iters: int | None = None,
) -> Iterator[torch.Tensor]:
    """Analysis-resynthesis of a long recording with bounded memory: audio blocks ``(C, t)`` at
    ``sample_rate`` (channels averaged to mono; resampled to the model's rate with the streaming
    sinc resampler) -> output audio blocks ``(1, t')``. The concatenation equals
    ``model.synthesize(model.mel(audio))`` at the model's rate (APNet: to float rounding; APNet2:
    with running GRN statistics, in float32); with phase refinement (``phase_refine_iters``, default
    the model's setting) it equals ``model.synthesize(mel, chunk_frames=chunk_frames)`` (see
    :class:`RefiningStreamer`)."""
    sr = int(sample_rate)
    resample = StreamingResample(sr, model.sample_rate) if sr != model.sample_rate else None
    if model.global_context and dtype not in (None, torch.float32):
        dtype = torch.float32  # APNet2's running GRN statistics run in float32 only
    mel = StreamingMel(model.mel_extractor)
    iters = model.config.phase_refine_iters if phase_refine_iters is None else int(phase_refine_iters)
    if iters:
        voc: VocoderStreamer | RefiningStreamer = RefiningStreamer(model, dtype, iters, chunk_frames)
    else:
        voc = model.stream(dtype=dtype)

    def frames(x: torch.Tensor) -> Iterator[torch.Tensor]:
        m = mel.push(x)
        if m.shape[-1]:
            yield voc.push(m)

    for block in blocks:
        x = block.mean(dim=0, keepdim=True).float()
        if resample is not None:
            x = resample.push(x)
        if x.shape[-1]:
            yield from frames(x)
    if resample is not None:
        yield from frames(resample.flush())
    last = mel.flush()
    if last.shape[-1]:
        yield voc.push(last)
    yield voc.flush()
