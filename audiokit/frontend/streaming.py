"""Streaming versions of the frontend: each equals its offline counterpart to float rounding.

Every class has ``push(x) -> y`` (the output that no later input can change) and ``flush() -> y``
(the rest, with the same edge handling as the offline function). State is bounded by the
transform's support, not by the length of the stream.

* :class:`StreamingResample`: :func:`~audiokit.frontend.sinc_resample` (a FIR filter: exact).
* :class:`StreamingSTFT`: the centred STFT (reflect padding at both ends), ``(B, T)`` -> ``(B, F, n)``.
* :class:`StreamingISTFT`: the centred ISTFT (:func:`torch.istft` ``center=True``), ``(B, F, n)`` ->
  ``(B, T)``: windowed overlap-add divided by the window envelope.
* :class:`StreamingMel`: a centred :class:`~audiokit.frontend.MelSpectrogram` (the vocoders' log-mel).
* :class:`FrameStreamer`: a frame-local network with receptive radius ``R`` (zero padding at the
  edges, as "same" convolutions) run on a stream of frames: each call runs the network on the new
  frames plus ``R`` frames of context on each side, so every output frame equals the one-pass output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from audiokit.frontend.resample import reduced_rates, sinc_resample_kernel
from audiokit.frontend.stft import magnitude, pad_window

if TYPE_CHECKING:
    from audiokit.frontend.mel import MelSpectrogram

__all__ = [
    "FrameStreamer",
    "StreamingISTFT",
    "StreamingMel",
    "StreamingResample",
    "StreamingSTFT",
    "window_support",
]


def window_support(window: torch.Tensor, n_fft: int) -> tuple[int, int]:
    """``(lo, hi)``: the non-zero span ``[lo, hi)`` of ``window`` centred in ``n_fft`` samples
    (a periodic Hann window of ``n_fft`` samples gives ``(1, n_fft)``)."""
    nz = torch.nonzero(pad_window(window, n_fft) != 0).flatten()
    if nz.numel() == 0:
        raise ValueError("the window is all zeros")
    return int(nz[0]), int(nz[-1]) + 1


def _check_stream_audio(x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 1:
        x = x[None]
    if x.dim() != 2:
        raise ValueError(f"{name}: expected audio (B, t), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected float audio, got {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: audio contains NaN or Inf samples")
    return x


class _Closed:
    closed = False

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"{type(self).__name__}: push() or flush() after flush(); make a new stream")


class StreamingResample(_Closed):
    """:func:`~audiokit.frontend.sinc_resample` on a stream: ``push((B, t))`` returns the output
    samples that are final, ``flush()`` the rest; all outputs together equal the one-pass output
    (``ceil(new * T / orig)`` samples).

    Each output block of ``new`` samples (reduced rates) depends on ``2 * width + orig`` input
    samples, ``width + orig - 1`` of them ahead: that is the look-ahead (:attr:`lookahead`).
    """

    def __init__(self, orig_freq: int, new_freq: int, dtype: torch.dtype = torch.float32):
        self.orig, self.new = reduced_rates(orig_freq, new_freq)
        self.identity = self.orig == self.new
        if not self.identity:
            self.kernel, self.width = sinc_resample_kernel(self.orig, self.new, dtype=dtype)
        else:
            self.width = 0
        self.buf: torch.Tensor | None = None  # padded input from padded index ``self.q0``
        self.q0 = 0
        self.n_in = 0
        self.n_blocks = 0  # output blocks (conv frames) emitted
        self.n_out = 0
        self.batch = 1

    @property
    def lookahead(self) -> int:
        """Input samples after an output sample's time that it depends on (worst phase)."""
        return 0 if self.identity else self.width + self.orig - 1

    def _append(self, x: torch.Tensor) -> None:
        if self.buf is None:
            self.buf = F.pad(x, (self.width, 0))
        else:
            self.buf = torch.cat((self.buf, x), dim=-1)

    def _run(self, last_block: int) -> torch.Tensor:
        """Blocks ``[n_blocks, last_block)`` from the buffer."""
        assert self.buf is not None
        k = self.kernel.shape[-1]
        if last_block <= self.n_blocks:
            return self.buf.new_zeros(self.buf.shape[0], 0)
        a = self.n_blocks * self.orig - self.q0
        b = (last_block - 1) * self.orig + k - self.q0
        kernel = self.kernel.to(device=self.buf.device, dtype=self.buf.dtype)
        y = F.conv1d(self.buf[:, None, a:b], kernel, stride=self.orig)  # (B, new, blocks)
        self.n_blocks = last_block
        keep = self.n_blocks * self.orig - self.q0  # first padded sample still needed
        self.buf, self.q0 = self.buf[:, keep:], self.q0 + keep
        return y.transpose(1, 2).reshape(y.shape[0], -1)

    def push(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, t)`` input samples -> ``(B, t')`` final output samples."""
        self._check_open()
        x = _check_stream_audio(x, "StreamingResample.push")
        self.n_in += x.shape[-1]
        self.batch = x.shape[0]
        if self.identity:
            self.n_out += x.shape[-1]
            return x
        self._append(x)
        # block f reads padded samples [f * orig, f * orig + K): all real once f * orig + K <= width + n_in
        k = self.kernel.shape[-1]
        ready = max(0, (self.width + self.n_in - k) // self.orig + 1)
        y = self._run(ready)
        self.n_out += y.shape[-1]
        return y

    def flush(self) -> torch.Tensor:
        """The remaining samples (zero padding at the end, as the offline resampler)."""
        self._check_open()
        self.closed = True
        if self.identity or self.buf is None:
            return torch.zeros(self.batch, 0)
        self.buf = F.pad(self.buf, (0, self.width + self.orig))
        y = self._run(self.n_in // self.orig + 1)
        total = -(-self.new * self.n_in // self.orig)
        y = y[..., : max(0, total - self.n_out)]
        self.n_out += y.shape[-1]
        return y


class StreamingSTFT(_Closed):
    """The centred STFT (:func:`~audiokit.frontend.stft` with ``padding="center"``, reflect) on a
    stream of ``(B, t)`` audio: ``push`` returns the frames ``(B, F, n)`` whose samples have all
    arrived, ``flush`` the last ones (reflect padding at the end). Together: ``1 + T // hop`` frames,
    equal to the one-pass STFT.

    Only the window's non-zero span is waited for: a Hann window of ``win_length < n_fft`` samples
    needs ``win_length / 2`` samples ahead of a frame's centre, not ``n_fft / 2``.
    """

    def __init__(self, n_fft: int, hop_length: int, window: torch.Tensor):
        self.n_fft, self.hop = int(n_fft), int(hop_length)
        self.window = window
        self.lo, self.hi = window_support(window, self.n_fft)
        self.half = self.n_fft // 2
        self.head: torch.Tensor | None = None  # audio before the left padding can be built
        self.buf: torch.Tensor | None = None  # padded signal from padded index ``self.q0``
        self.q0 = 0
        self.n_in = 0
        self.n_frames = 0

    @property
    def lookahead(self) -> int:
        """Samples after a frame's centre that the frame depends on."""
        return self.hi - 1 - self.half

    def _frames(self, stop: int, avail: int) -> torch.Tensor:
        """Frames ``[n_frames, stop)``; padded samples past ``avail`` are zeros (zero window there)."""
        assert self.buf is not None
        if stop <= self.n_frames:
            return torch.zeros(self.buf.shape[0], self.n_fft // 2 + 1, 0, dtype=torch.complex64)
        a = self.n_frames * self.hop - self.q0
        b = (stop - 1) * self.hop + self.n_fft - self.q0
        seg = self.buf[:, a : min(b, avail - self.q0)]
        seg = F.pad(seg, (0, b - a - seg.shape[-1]))
        window = self.window.to(device=seg.device, dtype=seg.dtype)
        spec = torch.stft(
            seg,
            self.n_fft,
            self.hop,
            window.shape[-1],
            window,
            center=False,
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        self.n_frames = stop
        # keep what later frames and the end's reflection still need
        keep = min(self.n_frames * self.hop, avail - self.half - 1) - self.q0
        if keep > 0:
            self.buf, self.q0 = self.buf[:, keep:], self.q0 + keep
        return spec

    def push(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, t)`` audio -> ``(B, n_fft // 2 + 1, n)`` frames that are final (``n`` may be 0)."""
        self._check_open()
        x = _check_stream_audio(x, "StreamingSTFT.push")
        self.n_in += x.shape[-1]
        if self.buf is None:
            self.head = x if self.head is None else torch.cat((self.head, x), dim=-1)
            if self.head.shape[-1] <= self.half:
                return torch.zeros(x.shape[0], self.n_fft // 2 + 1, 0, dtype=torch.complex64)
            h, self.head = self.head, None
            self.buf = torch.cat((h[:, 1 : self.half + 1].flip(-1), h), dim=-1)
        else:
            self.buf = torch.cat((self.buf, x), dim=-1)
        avail = self.half + self.n_in  # padded samples known
        stop = max(0, (avail - self.hi) // self.hop + 1)
        return self._frames(stop, avail)

    def flush(self) -> torch.Tensor:
        """The frames that need the reflected end. Raises ``ValueError`` for ``<= n_fft // 2`` samples."""
        self._check_open()
        self.closed = True
        if self.buf is None:
            raise ValueError(
                f"audio of {self.n_in} samples is too short for a centred STFT with n_fft={self.n_fft} "
                f"(reflect padding needs more than {self.half} samples)"
            )
        end = self.buf[:, -self.half - 1 : -1].flip(-1)
        self.buf = torch.cat((self.buf, end), dim=-1)
        avail = self.n_in + 2 * self.half
        return self._frames(1 + self.n_in // self.hop, avail)


class StreamingMel:
    """A centred :class:`~audiokit.frontend.MelSpectrogram` on a stream of ``(B, t)`` audio:
    ``push`` returns the final log-mel frames ``(B, n_mels, n)``, ``flush`` the last ones; together
    they equal ``mel(audio)`` to float rounding (:class:`StreamingSTFT` + the same magnitude,
    filterbank and log)."""

    def __init__(self, mel: MelSpectrogram):
        stft = mel.stft
        if stft.padding != "center" or stft.pad_mode != "reflect":
            raise ValueError("StreamingMel needs a centred, reflect-padded MelSpectrogram")
        self.mel = mel
        self.stft = StreamingSTFT(stft.n_fft, stft.hop_length, stft.window)

    def _mel(self, spec: torch.Tensor) -> torch.Tensor:
        m = self.mel
        power = magnitude(spec, m.mag_eps) if m.power == 1.0 else spec.real.square() + spec.imag.square()
        return m.from_spectrogram(power)

    def push(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, t)`` audio -> the log-mel frames ``(B, n_mels, n)`` that are final."""
        return self._mel(self.stft.push(x))

    def flush(self) -> torch.Tensor:
        """The last frames (reflect padding at the end)."""
        return self._mel(self.stft.flush())


class StreamingISTFT(_Closed):
    """The centred ISTFT (as :func:`torch.istft` with ``center=True``) on a stream of complex frames
    ``(B, F, n)``: ``push`` returns the samples no later frame overlaps, ``flush(length)`` the rest
    (``hop * (N - 1)`` samples in all, or ``length``), divided by the same window envelope.
    """

    def __init__(self, n_fft: int, hop_length: int, window: torch.Tensor):
        self.n_fft, self.hop = int(n_fft), int(hop_length)
        self.half = self.n_fft // 2
        self.window = pad_window(window, self.n_fft)
        self.lo, self.hi = window_support(window, self.n_fft)
        self.acc: torch.Tensor | None = None  # numerator from padded index ``self.p0``
        self.env: torch.Tensor | None = None  # window envelope, same span
        self.p0 = self.half  # first padded sample not yet returned (output sample 0 is padded n_fft // 2)
        self.n_frames = 0

    @property
    def lookahead(self) -> int:
        """Samples before a frame's centre that the frame still changes (its window's left half)."""
        return self.half - self.lo

    def _add(self, spec: torch.Tensor) -> None:
        n = spec.shape[-1]
        w = self.window.to(device=spec.device, dtype=spec.real.dtype)
        frames = torch.fft.irfft(spec, n=self.n_fft, dim=1) * w[None, :, None]  # (B, n_fft, n)
        total = (n - 1) * self.hop + self.n_fft
        y = F.fold(frames, (1, total), (1, self.n_fft), stride=(1, self.hop))[:, 0, 0]
        env = F.fold(
            (w * w)[None, :, None].expand(1, self.n_fft, n), (1, total), (1, self.n_fft), stride=(1, self.hop)
        )
        env = env[0, 0, 0]
        off = self.n_frames * self.hop - self.p0
        if off < 0:  # the part before p0 lies outside the window's support (already returned)
            y, env, off = y[:, -off:], env[-off:], 0
        if self.acc is None:
            self.acc = y.new_zeros(y.shape[0], 0)
            self.env = env.new_zeros(0)
        assert self.env is not None
        need = off + y.shape[-1] - self.acc.shape[-1]
        if need > 0:
            self.acc = F.pad(self.acc, (0, need))
            self.env = F.pad(self.env, (0, need))
        self.acc[:, off : off + y.shape[-1]] += y
        self.env[off : off + y.shape[-1]] += env
        self.n_frames += n

    def _take(self, stop: int) -> torch.Tensor:
        """Samples ``[p0, stop)`` (padded indices), normalised by the envelope."""
        n = stop - self.p0
        if self.acc is None or n <= 0:
            b = 1 if self.acc is None else self.acc.shape[0]
            return torch.zeros(b, 0)
        assert self.env is not None
        have = min(n, self.acc.shape[-1])
        env = self.env[:have]
        if (env.abs() < 1e-11).any():
            raise ValueError("window/hop combination violates the overlap-add (NOLA) condition")
        y = self.acc[:, :have] / env
        self.acc, self.env = self.acc[:, have:], self.env[have:]
        self.p0 += n
        return F.pad(y, (0, n - have))

    def push(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex ``(B, n_fft // 2 + 1, n)`` frames -> ``(B, t)`` final samples."""
        self._check_open()
        if not torch.is_complex(spec) or spec.dim() != 3 or spec.shape[1] != self.n_fft // 2 + 1:
            raise ValueError(
                f"StreamingISTFT.push expects complex frames (B, {self.n_fft // 2 + 1}, n), got "
                f"{tuple(spec.shape)} {spec.dtype}"
            )
        if spec.shape[-1] == 0:
            return self._take(self.p0)
        self._add(spec)
        # no later frame reaches below n_frames * hop + lo; never return past the no-length end
        stop = min(self.n_frames * self.hop + self.lo, (self.n_frames - 1) * self.hop + self.half)
        return self._take(stop)

    def flush(self, length: int | None = None) -> torch.Tensor:
        """The remaining samples: ``hop * (N - 1)`` in all, or ``length`` (zero-padded past the end)."""
        self._check_open()
        self.closed = True
        if self.n_frames < 2 and length is None:
            raise ValueError("istft needs at least 2 frames (output length hop * (N - 1) would be 0)")
        end = self.half + (self.hop * (self.n_frames - 1) if length is None else int(length))
        if end < self.p0:
            raise ValueError(
                f"length {length} is shorter than the {self.p0 - self.half} samples already returned"
            )
        return self._take(end)


class FrameStreamer(_Closed):
    """A frame-local network on a stream of input frames, with the one-pass result.

    ``fn(frames, start, stop)`` maps input frames ``(B, C, W)`` to a tuple of outputs ``(B, *, W)``
    frame by frame; an output frame depends on the input frames within ``radius`` of it (with zero
    padding at the sequence's ends, as "same" convolutions). ``start``/``stop`` tell ``fn`` which
    window frames this call commits (frames before ``start`` are context that an earlier call
    committed); exact networks ignore them.

    ``push`` commits the frames that have ``radius`` frames of right context, ``flush`` the rest.
    Each network call sees at most ``max_frames`` committed frames plus ``radius`` context frames
    on each side, so memory is bounded whatever the push size.
    """

    def __init__(self, fn: Callable[..., tuple[torch.Tensor, ...]], radius: int, max_frames: int = 1024):
        if radius < 0 or max_frames < 1:
            raise ValueError(f"need radius >= 0 and max_frames >= 1, got {radius}, {max_frames}")
        self.fn, self.radius, self.max_frames = fn, int(radius), int(max_frames)
        self.buf: torch.Tensor | None = None  # input frames from index ``self.b0``
        self.b0 = 0
        self.n_in = 0
        self.n_out = 0

    def _commit(self, stop: int) -> list[tuple[torch.Tensor, ...]]:
        assert self.buf is not None
        outs = []
        while self.n_out < stop:
            e = min(stop, self.n_out + self.max_frames)
            lo, hi = max(0, self.n_out - self.radius), min(self.n_in, e + self.radius)
            res = self.fn(self.buf[..., lo - self.b0 : hi - self.b0], self.n_out - lo, e - lo)
            outs.append(tuple(r[..., self.n_out - lo : e - lo] for r in res))
            self.n_out = e
        keep = max(0, self.n_out - self.radius) - self.b0
        self.buf, self.b0 = self.buf[..., keep:], self.b0 + keep
        return outs

    @staticmethod
    def _cat(outs: list[tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...] | None:
        if not outs:
            return None
        return tuple(torch.cat(parts, dim=-1) for parts in zip(*outs))

    def push(self, frames: torch.Tensor) -> tuple[torch.Tensor, ...] | None:
        """``(B, C, n)`` input frames -> the outputs of the newly final frames (``None`` if none)."""
        self._check_open()
        self.buf = frames if self.buf is None else torch.cat((self.buf, frames), dim=-1)
        self.n_in += frames.shape[-1]
        return self._cat(self._commit(self.n_in - self.radius))

    def flush(self) -> tuple[torch.Tensor, ...] | None:
        """The outputs of the remaining frames (zero padding at the end, as the one-pass network)."""
        self._check_open()
        self.closed = True
        if self.buf is None:
            return None
        return self._cat(self._commit(self.n_in))
