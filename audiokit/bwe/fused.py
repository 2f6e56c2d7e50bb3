"""Inference-only AP-BWE with folded weights, a channel-last layout and optional bfloat16 matmuls.

:class:`FusedAPBWE` computes the same function as :class:`~audiokit.bwe.APBWE` with fewer passes
over memory:

* the LayerNorm affines are folded into the following linear layers (``W diag(g)``, ``W b + c``),
  each block's layer scale ``gamma`` into its second pointwise layer, and the two phase heads
  (real, imaginary) into one matrix;
* activations stay channel-last ``(B, N, C)`` between blocks (the depthwise convolution runs as a
  channels-last 2-D convolution), so no transposed copies are made, and the residual stream is
  updated in place;
* :meth:`extend` works in chunks of :data:`FAST_CHUNK_FRAMES` frames so that activations stay in
  cache and in the allocator's pool;
* fp32 pointwise layers use pre-packed oneDNN weights with the GELU fused into the first one;
* ``precision="bf16"`` runs the pointwise layers, the depthwise convolutions and their norms, the
  input convolutions (as one im2col matrix product) and the phase heads in bfloat16 (AMX on recent
  Xeons); the residual stream, the input norms, the amplitude head and the STFT/ISTFT stay float32;
* ``compile=True`` additionally compiles the network with :func:`torch.compile` (inductor, frozen
  weights) for a fixed chunk shape, so it compiles once per process.

The waveform API (:meth:`extend`) is the same as the model's. fp32 results equal the model's to
float rounding; bf16 results are typically > 30 dB SNR from fp32 (``benchmarks/bench_bwe.py``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.bwe.inference import BandwidthExtender
from audiokit.bwe.outputs import BWEOutput, check_spectra

if TYPE_CHECKING:  # an annotation only: model.py imports this module (APBWE.fuse)
    from audiokit.bwe.model import APBWE

__all__ = ["FusedAPBWE", "Precision", "FAST_CHUNK_FRAMES"]

log = logging.getLogger(__name__)

Precision = Literal["fp32", "bf16"]

#: Chunk size of the fused path: small enough that activations stay in cache and in the allocator's
#: pool (large fresh allocations cost page faults on every call), large enough that the
#: +-(27 + 3)-frame context overhead stays near 10 %.
FAST_CHUNK_FRAMES = 512


def _mkldnn_linear_available() -> bool:
    try:
        return bool(torch.backends.mkldnn.is_available()) and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    except Exception:  # pragma: no cover - depends on the build
        return False


class _PackedLinear(nn.Module):
    """``y = act(x W^T + b)`` in ``dtype`` with the weight pre-packed for oneDNN (GELU fused, exact
    erf form)."""

    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor,
        gelu: bool,
        pack: bool = True,
        dtype: torch.dtype = torch.bfloat16,
    ):
        super().__init__()
        self.gelu = gelu
        w = weight.detach().to(dtype).contiguous()
        self.register_buffer("bias", bias.detach().to(dtype).contiguous(), persistent=False)
        # torch.compile traces plain tensors and packs the weights itself (inductor freezing)
        self.packed = pack and _mkldnn_linear_available()
        if self.packed:
            try:
                w = torch.ops.mkldnn._reorder_linear_weight(w, None)
            except Exception:  # pragma: no cover - older builds
                self.packed = False
        self.register_buffer("weight", w, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed:
            return torch.ops.mkldnn._linear_pointwise(
                x, self.weight, self.bias, "gelu" if self.gelu else "none", [], "none"
            )
        y = F.linear(x, self.weight, self.bias)
        return F.gelu(y) if self.gelu else y


class _InputConv(nn.Module):
    """The ``F -> C`` input convolution (kernel ``k``, zero padded) of ``(B, F, N)`` spectra, giving
    channel-last ``(B, N, C)`` float32.

    In bfloat16 it runs as one pre-packed matrix product over ``k`` stacked shifted frames (im2col),
    about twice as fast as oneDNN's direct convolution for this shape; float32 keeps the convolution.
    """

    def __init__(self, conv: nn.Conv1d, precision: Precision, pack: bool):
        super().__init__()
        self.k = conv.kernel_size[0]
        w, b = conv.weight.detach().float(), conv.bias.detach().float()
        self.im2col = precision == "bf16"
        if self.im2col:  # (C, F, k) -> (C, k * F), matching (N, k, F) stacked frames
            self.linear = _PackedLinear(w.permute(0, 2, 1).reshape(w.shape[0], -1), b, gelu=False, pack=pack)
        else:
            self.register_buffer("weight", w.clone(), persistent=False)
            self.register_buffer("bias", b.clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.im2col:
            return F.conv1d(x, self.weight, self.bias, padding=self.k // 2).transpose(1, 2)
        b, f, n = x.shape
        p = self.k // 2
        xt = F.pad(x.to(torch.bfloat16).transpose(1, 2), (0, 0, p, p))  # (B, N + k - 1, F)
        cols = xt.as_strided((b, n, self.k, f), (xt.stride(0), f, f, 1)).reshape(b, n, self.k * f)
        return self.linear(cols).float()


class _FusedBlock(nn.Module):
    """ConvNeXt block on channel-last ``(B, N, C)`` with folded norm affine and layer scale."""

    def __init__(self, block, precision: Precision, eps: float, for_compile: bool):
        super().__init__()
        c = block.dwconv.weight.shape[0]
        self.k = block.dwconv.weight.shape[-1]
        self.eps, self.precision, self.shifted = eps, precision, for_compile  # compile: shifted-sum dwconv
        dw = block.dwconv.weight.detach().float()  # (C, 1, k)
        self.register_buffer(
            "dw_weight", dw[:, :, None, :].contiguous(memory_format=torch.channels_last), persistent=False
        )
        self.register_buffer("dw_taps", dw[:, 0, :].t().contiguous(), persistent=False)  # (k, C)
        self.register_buffer("dw_bias", block.dwconv.bias.detach().float().clone(), persistent=False)
        if precision == "bf16":  # the depthwise conv and its norm run in bfloat16 too (memory-bound)
            for name in ("dw_weight", "dw_taps", "dw_bias"):
                setattr(self, name, getattr(self, name).to(torch.bfloat16))
        g, beta = block.norm.weight.detach().float(), block.norm.bias.detach().float()
        w1, b1 = block.pwconv1.weight.detach().float(), block.pwconv1.bias.detach().float()
        w2, b2 = block.pwconv2.weight.detach().float(), block.pwconv2.bias.detach().float()
        gamma = block.gamma.detach().float()
        w1f, b1f = w1 * g[None, :], b1 + w1 @ beta
        w2f, b2f = w2 * gamma[:, None], b2 * gamma
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        self.pw1 = _PackedLinear(w1f, b1f, gelu=True, pack=not for_compile, dtype=dtype)
        self.pw2 = _PackedLinear(w2f, b2f, gelu=False, pack=not for_compile, dtype=dtype)
        self.channels = c

    def depthwise(self, x: torch.Tensor) -> torch.Tensor:
        """Depthwise conv (zero padded) of channel-last ``(B, N, C)``."""
        if self.shifted:  # a sum of shifted rows: fuses into one loop under torch.compile
            n, p = x.shape[1], self.k // 2
            xp = F.pad(x, (0, 0, p, p))
            y = self.dw_bias + xp[:, 0:n] * self.dw_taps[0]
            for j in range(1, self.k):
                y = y + xp[:, j : j + n] * self.dw_taps[j]
            return y
        x4 = x.permute(0, 2, 1).unsqueeze(2)  # (B, C, 1, N) with channels-last strides: no copy
        y = F.conv2d(x4, self.dw_weight, self.dw_bias, padding=(0, self.k // 2), groups=self.channels)
        return y.squeeze(2).permute(0, 2, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x + block(x)``; the float32 residual stream ``x`` is updated in place unless compiling."""
        h = x if mask is None else x * mask
        if self.precision == "bf16":
            h = h.to(torch.bfloat16)
        h = F.layer_norm(self.depthwise(h), (self.channels,), None, None, self.eps)
        h = self.pw2(self.pw1(h))
        return x + h if self.shifted else x.add_(h)


class FusedAPBWE(BandwidthExtender, nn.Module):
    """Inference-only AP-BWE (see the module docstring); build with :meth:`APBWE.fuse`.

    Args:
        model: the trained :class:`~audiokit.bwe.APBWE` (its weights are copied and folded; later
            changes to ``model`` are not seen).
        precision: ``"fp32"`` or ``"bf16"`` (see the module docstring; fastest on CPUs with AMX).
        compile: compile the network with :func:`torch.compile` for one fixed chunk shape.
        chunk_frames: default chunk size of :meth:`extend` (see :data:`FAST_CHUNK_FRAMES`).
        workers: chunks processed concurrently by :meth:`extend`, each on one thread (torch's
            intra-op threads are set to 1 for the duration of the call, then restored). ``None``:
            ``torch.get_num_threads()`` at call time; ``1``: sequential chunks with torch's own
            intra-op threading. Results do not depend on it.
    """

    def __init__(
        self,
        model: APBWE,
        precision: Precision = "fp32",
        compile: bool = False,
        chunk_frames: int = FAST_CHUNK_FRAMES,
        workers: int | None = None,
    ):
        super().__init__()
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
        self.config = cfg = model.config
        self.precision: Precision = precision
        self.compiled = compile
        self.chunk_frames = chunk_frames
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1 or None, got {workers}")
        self.workers = workers
        self.stft = model.stft
        eps = cfg.layer_norm_eps
        self.eps, self.channels, self.n_bins = eps, cfg.channels, cfg.n_bins
        # bf16: the input convolutions (12 % of the MACs) and the phase heads run in bfloat16 as well
        self.low_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        self.conv_pre_mag = _InputConv(model.conv_pre_mag, precision, pack=not compile)
        self.conv_pre_pha = _InputConv(model.conv_pre_pha, precision, pack=not compile)
        for name in ("norm_pre_mag", "norm_pre_pha"):
            norm = getattr(model, name)
            self.register_buffer(f"{name}_weight", norm.weight.detach().float().clone(), persistent=False)
            self.register_buffer(f"{name}_bias", norm.bias.detach().float().clone(), persistent=False)
        self.blocks_mag = nn.ModuleList(_FusedBlock(b, precision, eps, compile) for b in model.convnext_mag)
        self.blocks_pha = nn.ModuleList(_FusedBlock(b, precision, eps, compile) for b in model.convnext_pha)
        # output heads with the post-norm affine folded in
        w_mag, b_mag = _fold_norm(model.norm_post_mag, model.linear_post_mag)
        w_r, b_r = _fold_norm(model.norm_post_pha, model.linear_post_pha_r)
        w_i, b_i = _fold_norm(model.norm_post_pha, model.linear_post_pha_i)
        self.register_buffer("head_mag_weight", w_mag, persistent=False)
        self.register_buffer("head_mag_bias", b_mag, persistent=False)
        w_ri, b_ri = torch.cat([w_r, w_i]).contiguous(), torch.cat([b_r, b_i]).contiguous()
        self.register_buffer("head_pha_weight", w_ri.to(self.low_dtype), persistent=False)
        self.register_buffer("head_pha_bias", b_ri.to(self.low_dtype), persistent=False)
        self.requires_grad_(False)
        self.eval()
        self._compiled_fn = None
        self._fixed_frames = chunk_frames + 2 * (self._context_frames() + self._synthesis_margin())

    # ------------------------------------------------------------------ network
    def _network(
        self, log_amplitude: torch.Tensor, phase: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, F, N)`` spectra -> channel-last wideband ``(B, N, F)`` log-amplitude and phase.

        ``mask`` ``(B, N, 1)`` marks valid frames; invalid ones are zeroed before every
        convolution, which makes padded frames behave exactly like the convolutions' zero padding.
        """
        c = self.channels
        if mask is not None:
            log_amplitude = log_amplitude * mask.transpose(1, 2)
            phase_in = phase * mask.transpose(1, 2)
        else:
            phase_in = phase
        x_mag = F.layer_norm(
            self.conv_pre_mag(log_amplitude),
            (c,),
            self.norm_pre_mag_weight,
            self.norm_pre_mag_bias,
            self.eps,
        )
        x_pha = F.layer_norm(
            self.conv_pre_pha(phase_in),
            (c,),
            self.norm_pre_pha_weight,
            self.norm_pre_pha_bias,
            self.eps,
        )
        for block_mag, block_pha in zip(self.blocks_mag, self.blocks_pha):
            if self.compiled:
                x_mag = x_mag + x_pha
                x_pha = x_pha + x_mag
            else:  # in place: no fresh (page-faulting) allocations per block
                x_mag.add_(x_pha)
                x_pha.add_(x_mag)
            x_mag = block_mag(x_mag, mask)
            x_pha = block_pha(x_pha, mask)
        x_mag = F.layer_norm(x_mag, (c,), None, None, self.eps)
        mag = log_amplitude.transpose(1, 2) + F.linear(x_mag, self.head_mag_weight, self.head_mag_bias)
        x_pha = F.layer_norm(x_pha, (c,), None, None, self.eps)
        ri = F.linear(x_pha.to(self.low_dtype), self.head_pha_weight, self.head_pha_bias).float()
        pha = torch.atan2(ri[..., self.n_bins :], ri[..., : self.n_bins])
        return mag, pha

    def forward(self, log_amplitude: torch.Tensor, phase: torch.Tensor) -> BWEOutput:
        """Narrowband ``(B, F, N)`` log-amplitude and phase -> wideband :class:`BWEOutput`."""
        check_spectra(log_amplitude, phase, self.n_bins)
        log_amplitude, phase = log_amplitude.float(), phase.float()
        n = log_amplitude.shape[-1]
        if self.compiled and n <= self._fixed_frames:
            mag, pha = self._run_compiled(log_amplitude, phase)
        else:
            mag, pha = self._network(log_amplitude, phase)
        return BWEOutput(mag.transpose(1, 2), pha.transpose(1, 2))

    def _run_compiled(
        self, log_amplitude: torch.Tensor, phase: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pad to the fixed frame count, run the compiled network, crop."""
        n, fixed = log_amplitude.shape[-1], self._fixed_frames
        if self._compiled_fn is None:
            log.info("compiling the fused AP-BWE network for %d frames (once per process)", fixed)
            self._compiled_fn = torch.compile(self._network, dynamic=False, options={"freezing": True})
        mask = torch.zeros(
            log_amplitude.shape[0], fixed, 1, dtype=log_amplitude.dtype, device=log_amplitude.device
        )
        mask[:, :n] = 1
        pad = (0, fixed - n)
        mag, pha = self._compiled_fn(F.pad(log_amplitude, pad), F.pad(phase, pad), mask)
        return mag[:, :n], pha[:, :n]

    def extend(self, wav, sr, chunk_frames: int | None = None, keep_low_band: bool | None = None):  # type: ignore[override]
        """As :meth:`APBWE.extend`; ``chunk_frames`` defaults to this object's ``chunk_frames``."""
        chunk = self.chunk_frames if chunk_frames is None else chunk_frames
        return super().extend(wav, sr, chunk, keep_low_band)

    def _chunk_workers(self, n_chunks: int) -> int:
        if self.compiled or self.head_mag_weight.device.type != "cpu":
            return 1  # compiled graphs are run from one thread; GPUs parallelise inside ops
        return self.workers if self.workers is not None else torch.get_num_threads()

    def _device_dtype(self) -> tuple[torch.device, torch.dtype]:
        return self.head_mag_weight.device, torch.float32

    def extra_repr(self) -> str:
        return (
            f"precision={self.precision!r}, compile={self.compiled}, chunk_frames={self.chunk_frames}, "
            f"workers={self.workers}"
        )


def _fold_norm(norm: nn.LayerNorm, linear: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """``linear(norm(x)) = (W diag(g)) n(x) + (W beta + b)`` with ``n`` the affine-free LayerNorm."""
    g, beta = norm.weight.detach().float(), norm.bias.detach().float()
    w, b = linear.weight.detach().float(), linear.bias.detach().float()
    return (w * g[None, :]).contiguous(), (b + w @ beta).contiguous()
