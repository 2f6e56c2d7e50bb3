"""Inference engines: the same networks re-laid-out for fast CPU inference (fp32 or bf16).

The reference ``backbone`` of each model follows the official code op for op (bit-identical
outputs). The engines here compute the same function with a layout that oneDNN runs faster:

* activations are kept time-major ("channels last": memory ``(B, N, C)``) and every Conv1d runs as
  a ``(1, k)`` Conv2d on a channels-last tensor with pre-converted weights;
* APNet2's GRN is folded into the following linear layer: GRN's output ``x * s + beta`` (``s`` is a
  per-utterance channel scale, constant over time) feeds ``pwconv2``, so ``s`` scales the weight
  columns and ``beta`` moves into the bias, which saves one pass over the widest activation;
* optionally in bfloat16 (AMX / AVX512-BF16 CPUs run bf16 convolutions and matmuls several times
  faster than fp32), with the log-amplitude output convolution kept in fp32 (its value is
  exponentiated, so bf16's 3 significant digits would cost ~8 dB of output SNR) and the phase and
  ISTFT in fp32.

Engines are built by :func:`fast_backbone` from the model's current (folded) weights; they hold
copies, so they must be rebuilt after the weights change (``SpectralVocoder`` caches them keyed
by the parameters' version counters).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.vocoders.blocks import LRELU_SLOPE, ResBlock1, WNConv1d

__all__ = ["fast_backbone", "FastAPNet", "FastAPNet2", "SUPPORTED_DTYPES"]

log = logging.getLogger(__name__)

SUPPORTED_DTYPES = (torch.float32, torch.bfloat16)


class _Conv(nn.Module):
    """A Conv1d prepared as a channels-last ``(1, k)`` Conv2d: ``(B, C, 1, N)`` -> ``(B, C_out, 1, N)``."""

    weight: torch.Tensor
    bias: torch.Tensor

    def __init__(self, conv: nn.Conv1d, dtype: torch.dtype):
        super().__init__()
        w = conv.effective_weight() if isinstance(conv, WNConv1d) else conv.weight
        w = w.detach().to(dtype).unsqueeze(2).contiguous(memory_format=torch.channels_last)
        self.register_buffer("weight", w)
        self.register_buffer("bias", conv.bias.detach().to(dtype))
        self.padding = (0, int(conv.padding[0]))
        self.dilation = (1, int(conv.dilation[0]))
        self.groups = conv.groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, 1, self.padding, self.dilation, self.groups)


def _to_cl(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``(B, C, N)`` -> channels-last ``(B, C, 1, N)`` in ``dtype``."""
    return x.to(dtype).unsqueeze(2).contiguous(memory_format=torch.channels_last)


def _from_cl(x: torch.Tensor) -> torch.Tensor:
    """channels-last ``(B, C, 1, N)`` -> ``(B, C, N)`` float32."""
    return x.squeeze(2).float()


class _FastResBlock1(nn.Module):
    """ResBlock1 with the convolutions in ``dtype`` and the residual stream in fp32."""

    def __init__(self, block: ResBlock1, dtype: torch.dtype):
        super().__init__()
        self.dtype = dtype
        self.convs1 = nn.ModuleList(_Conv(c, dtype) for c in block.convs1)
        self.convs2 = nn.ModuleList(_Conv(c, dtype) for c in block.convs2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            h = F.leaky_relu(x.to(self.dtype), LRELU_SLOPE)
            x = x + c2(F.leaky_relu(c1(h), LRELU_SLOPE))
        return x


class FastAPNet(nn.Module):
    """APNet backbone in a channels-last layout: ``(B, n_mels, N)`` -> fp32 ``(log_amplitude, R, I)``.

    Convolutions run in ``dtype``; the residual streams, the branch averages and the log-amplitude
    output convolution stay in fp32.
    """

    def __init__(self, model: nn.Module, dtype: torch.dtype = torch.bfloat16):
        super().__init__()
        self.dtype = dtype
        self.asp_in = _Conv(model.ASP_input_conv, dtype)
        self.psp_in = _Conv(model.PSP_input_conv, dtype)
        self.asp_res = nn.ModuleList(_FastResBlock1(b, dtype) for b in model.ASP_ResNet)
        self.psp_res = nn.ModuleList(_FastResBlock1(b, dtype) for b in model.PSP_ResNet)
        self.asp_out = _Conv(model.ASP_output_conv, torch.float32)
        self.psp_r = _Conv(model.PSP_output_R_conv, dtype)
        self.psp_i = _Conv(model.PSP_output_I_conv, dtype)

    @staticmethod
    def _branch(x: torch.Tensor, conv_in: _Conv, res: nn.ModuleList) -> torch.Tensor:
        h = conv_in(x).float()
        acc = None
        for block in res:
            y = block(h)
            acc = y if acc is None else acc.add_(y)
        return F.leaky_relu(acc.div_(len(res)), 0.01)

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = _to_cl(mel, self.dtype)
        a = self._branch(x, self.asp_in, self.asp_res)
        log_amplitude = self.asp_out(a)
        p = self._branch(x, self.psp_in, self.psp_res).to(self.dtype)
        return _from_cl(log_amplitude), _from_cl(self.psp_r(p)), _from_cl(self.psp_i(p))


class _FastConvNeXt(nn.Module):
    """ConvNeXt-v2 block on time-major activations ``(B, N, C)`` with GRN folded into ``pwconv2``.

    The residual stream, the depthwise conv and the LayerNorm stay in fp32 (cheap); the two linear
    layers and the GELU between them run in ``dtype``.
    """

    def __init__(self, block: nn.Module, dtype: torch.dtype):
        super().__init__()
        self.dtype = dtype
        self.dwconv = _Conv(block.dwconv, torch.float32)
        self.norm = block.norm
        self.register_buffer("w1", block.pwconv1.weight.detach().t().contiguous().to(dtype))  # (C, H)
        self.register_buffer("b1", block.pwconv1.bias.detach().to(dtype))
        w2 = block.pwconv2.weight.detach().t().contiguous().float()  # (H, C): fp32 master for folding
        self.register_buffer("w2", w2)
        self.register_buffer("gamma", block.grn.gamma.detach().reshape(-1).float())
        # GRN's beta passes through pwconv2 into the bias: b2' = b2 + beta @ W2^T
        self.register_buffer(
            "b2", block.pwconv2.bias.detach().float() + block.grn.beta.detach().reshape(-1) @ w2
        )
        self.grn_eps = block.grn.eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        h = self.dwconv(x.view(b, 1, n, c).permute(0, 3, 1, 2))  # channels-last conv, same memory
        h = self.norm(h.permute(0, 2, 3, 1).reshape(b, n, c)).to(self.dtype)
        h = F.gelu(torch.addmm(self.b1, h.reshape(b * n, c), self.w1)).reshape(b, n, -1)
        # GRN: y = x * (1 + gamma * Nx) + beta with Nx = ||x||_time / mean_channels(||x||_time)
        g = h.square().sum(dim=1, keepdim=True, dtype=torch.float32).sqrt_()  # (B, 1, H), fp32 sums
        scale = 1.0 + self.gamma * (g / (g.mean(dim=-1, keepdim=True) + self.grn_eps))
        w2 = (self.w2.unsqueeze(0) * scale.transpose(1, 2)).to(self.dtype)  # (B, H, C)
        y = torch.bmm(h, w2) if b > 1 else torch.mm(h[0], w2[0]).unsqueeze(0)
        return x + self.b2 + y.float()


class FastAPNet2(nn.Module):
    """APNet2 backbone on time-major activations: ``(B, n_mels, N)`` -> fp32 ``(log_amplitude, R, I)``."""

    def __init__(self, model: nn.Module, dtype: torch.dtype = torch.bfloat16):
        super().__init__()
        self.dtype = dtype
        self.asp_in = _Conv(model.ASP_input_conv, dtype)
        self.psp_in = _Conv(model.PSP_input_conv, dtype)
        self.asp_norm, self.psp_norm = model.norm2, model.norm
        self.asp_blocks = nn.ModuleList(_FastConvNeXt(b, dtype) for b in model.convnext2)
        self.psp_blocks = nn.ModuleList(_FastConvNeXt(b, dtype) for b in model.convnext)
        self.asp_final, self.psp_final = model.final_layer_norm2, model.final_layer_norm
        self.asp_out = _Conv(model.ASP_output_conv, torch.float32)
        self.psp_r = _Conv(model.PSP_output_R_conv, dtype)
        self.psp_i = _Conv(model.PSP_output_I_conv, dtype)

    @staticmethod
    def _branch(x, conv_in, norm, blocks, final_norm) -> torch.Tensor:
        h = conv_in(x).float()  # (B, C, 1, N) channels-last = (B, N, C) in memory
        b, c, _, n = h.shape
        h = norm(h.permute(0, 2, 3, 1).reshape(b, n, c))
        for block in blocks:
            h = block(h)
        h = final_norm(h)
        return h.view(b, 1, n, c).permute(0, 3, 1, 2)  # back to (B, C, 1, N) channels-last

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = _to_cl(mel, self.dtype)
        a = self._branch(x, self.asp_in, self.asp_norm, self.asp_blocks, self.asp_final)
        log_amplitude = self.asp_out(a)
        p = self._branch(x, self.psp_in, self.psp_norm, self.psp_blocks, self.psp_final).to(self.dtype)
        return _from_cl(log_amplitude), _from_cl(self.psp_r(p)), _from_cl(self.psp_i(p))


def fast_backbone(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """The inference engine of ``model`` in ``dtype`` (cached on the model until its weights change)."""
    from audiokit.vocoders.apnet import APNet
    from audiokit.vocoders.apnet2 import APNet2

    if dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"unsupported inference dtype {dtype}; use one of {SUPPORTED_DTYPES}")
    versions = tuple(p._version for p in model.parameters())
    key = (dtype, versions, tuple(p.data_ptr() for p in model.parameters()))
    cache = model._fast_cache
    if key in cache:
        return cache[key]
    cache.clear()
    with torch.no_grad():
        if isinstance(model, APNet):
            engine = FastAPNet(model, dtype)
        elif isinstance(model, APNet2):
            engine = FastAPNet2(model, dtype)
        else:
            raise ValueError(f"no inference engine for {type(model).__name__}")
    engine.eval()
    cache[key] = engine
    return engine
