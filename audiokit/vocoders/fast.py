"""Inference engines: the same networks re-laid-out for fast CPU inference (fp32 or bf16).

The reference ``backbone`` of each model follows the official code op for op (bit-identical
outputs). The engines here compute the same function with a layout that oneDNN runs faster:

* activations are kept time-major ("channels last": memory ``(B, N, C)``) and every Conv1d runs as
  a ``(1, k)`` Conv2d on a channels-last tensor with pre-converted weights;
* APNet2's GRN is folded into the following linear layer: GRN's output ``x * s + beta`` (``s`` is a
  per-utterance channel scale, constant over time) feeds ``pwconv2``, so ``s`` scales the weight
  columns and ``beta`` moves into the bias, which saves one pass over the widest activation;
* optionally in bfloat16 (AMX / AVX512-BF16 CPUs run bf16 convolutions and matmuls several times
  faster than fp32). The input convolutions (the log-mel input has ~12 dB of range that bf16 would
  round to 3 significant digits), the residual streams, the LayerNorms and the log-amplitude output
  convolution (its value is exponentiated) always stay in fp32, as do the phase and the ISTFT.

bf16 precision depends on the weights: a trained phase branch can be ill-conditioned (its R, I
outputs are small differences of large terms), so a block that is harmless with one set of weights
costs 10-30 dB of output SNR with another. :func:`fast_backbone` therefore **calibrates** each bf16
engine when it is built: it vocodes a bundled speech clip with the fp32 engine and with bf16, and
moves the blocks whose bf16 error matters most back to fp32, one at a time, until the output SNR
against fp32 reaches ``min_snr_db`` (35 dB by default). ``engine.precision`` reports the result.

Engines are built by :func:`fast_backbone` from the model's current (folded) weights; they hold
frozen buffers derived from them (no parameters, so they also run outside ``inference_mode``), so
they must be rebuilt after the weights change (``SpectralVocoder`` caches them keyed
by the parameters' version counters).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.assets import speech_path
from audiokit.io import load
from audiokit.vocoders.blocks import LRELU_SLOPE, ResBlock1, WNConv1d

__all__ = ["build_engine", "calibrate", "calibration_mel", "FastAPNet", "FastAPNet2", "SUPPORTED_DTYPES"]

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


class _LayerNorm(nn.Module):
    """A frozen copy of an ``nn.LayerNorm`` (fp32 buffers): ``(..., C)`` -> ``(..., C)``."""

    weight: torch.Tensor
    bias: torch.Tensor

    def __init__(self, norm: nn.LayerNorm):
        super().__init__()
        self.register_buffer("weight", norm.weight.detach().float().clone())
        self.register_buffer("bias", norm.bias.detach().float().clone())
        self.normalized_shape = tuple(norm.normalized_shape)
        self.eps = norm.eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


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

    Precision units (each ``dtype`` unless listed in ``fp32_units``): ``asp.<j>``/``psp.<j>`` (the
    ResBlocks of each branch) and ``psp.out`` (the R and I output convolutions). Everything else is fp32.
    """

    def __init__(
        self, model: nn.Module, dtype: torch.dtype = torch.bfloat16, fp32_units: frozenset = frozenset()
    ):
        super().__init__()
        self.dtype = dtype

        def unit(name: str) -> torch.dtype:
            return torch.float32 if name in fp32_units else dtype

        self.asp_in = _Conv(model.ASP_input_conv, torch.float32)
        self.psp_in = _Conv(model.PSP_input_conv, torch.float32)
        self.asp_res = nn.ModuleList(
            _FastResBlock1(b, unit(f"asp.{j}")) for j, b in enumerate(model.ASP_ResNet)
        )
        self.psp_res = nn.ModuleList(
            _FastResBlock1(b, unit(f"psp.{j}")) for j, b in enumerate(model.PSP_ResNet)
        )
        self.asp_out = _Conv(model.ASP_output_conv, torch.float32)
        self.psp_r = _Conv(model.PSP_output_R_conv, unit("psp.out"))
        self.psp_i = _Conv(model.PSP_output_I_conv, unit("psp.out"))
        self.units = [f"asp.{j}" for j in range(len(self.asp_res))] + [
            f"psp.{j}" for j in range(len(self.psp_res))
        ]
        self.units.append("psp.out")
        self.precision: dict[str, object] = {"dtype": str(dtype), "fp32_units": sorted(fp32_units)}

    @staticmethod
    def _branch(x: torch.Tensor, conv_in: _Conv, res: nn.ModuleList) -> torch.Tensor:
        h = conv_in(x)
        acc = None
        for block in res:
            y = block(h)
            acc = y if acc is None else acc.add_(y)
        return F.leaky_relu(acc.div_(len(res)), 0.01)

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = _to_cl(mel, torch.float32)
        a = self._branch(x, self.asp_in, self.asp_res)
        log_amplitude = self.asp_out(a)
        p = self._branch(x, self.psp_in, self.psp_res).to(self.psp_r.weight.dtype)
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
        self.norm = _LayerNorm(block.norm)
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
    """APNet2 backbone on time-major activations: ``(B, n_mels, N)`` -> fp32 ``(log_amplitude, R, I)``.

    Precision units: ``asp.<j>``/``psp.<j>`` (the ConvNeXt blocks of each branch) and ``psp.out``.
    """

    def __init__(
        self, model: nn.Module, dtype: torch.dtype = torch.bfloat16, fp32_units: frozenset = frozenset()
    ):
        super().__init__()
        self.dtype = dtype

        def unit(name: str) -> torch.dtype:
            return torch.float32 if name in fp32_units else dtype

        self.asp_in = _Conv(model.ASP_input_conv, torch.float32)
        self.psp_in = _Conv(model.PSP_input_conv, torch.float32)
        self.asp_norm, self.psp_norm = _LayerNorm(model.norm2), _LayerNorm(model.norm)
        self.asp_blocks = nn.ModuleList(
            _FastConvNeXt(b, unit(f"asp.{j}")) for j, b in enumerate(model.convnext2)
        )
        self.psp_blocks = nn.ModuleList(
            _FastConvNeXt(b, unit(f"psp.{j}")) for j, b in enumerate(model.convnext)
        )
        self.asp_final = _LayerNorm(model.final_layer_norm2)
        self.psp_final = _LayerNorm(model.final_layer_norm)
        self.asp_out = _Conv(model.ASP_output_conv, torch.float32)
        self.psp_r = _Conv(model.PSP_output_R_conv, unit("psp.out"))
        self.psp_i = _Conv(model.PSP_output_I_conv, unit("psp.out"))
        self.units = [f"asp.{j}" for j in range(len(self.asp_blocks))]
        self.units += [f"psp.{j}" for j in range(len(self.psp_blocks))] + ["psp.out"]
        self.precision: dict[str, object] = {"dtype": str(dtype), "fp32_units": sorted(fp32_units)}

    @staticmethod
    def _branch(x, conv_in, norm, blocks, final_norm) -> torch.Tensor:
        h = conv_in(x)  # (B, C, 1, N) channels-last = (B, N, C) in memory
        b, c, _, n = h.shape
        h = norm(h.permute(0, 2, 3, 1).reshape(b, n, c))
        for block in blocks:
            h = block(h)
        h = final_norm(h)
        return h.view(b, 1, n, c).permute(0, 3, 1, 2)  # back to (B, C, 1, N) channels-last

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = _to_cl(mel, torch.float32)
        a = self._branch(x, self.asp_in, self.asp_norm, self.asp_blocks, self.asp_final)
        log_amplitude = self.asp_out(a)
        p = self._branch(x, self.psp_in, self.psp_norm, self.psp_blocks, self.psp_final)
        p = p.to(self.psp_r.weight.dtype)
        return _from_cl(log_amplitude), _from_cl(self.psp_r(p)), _from_cl(self.psp_i(p))


def _engine_class(model: nn.Module) -> type[nn.Module]:
    """The engine a model names in its ``engine_class`` (APNet: :class:`FastAPNet`, ...)."""
    cls = getattr(type(model), "engine_class", None)
    if cls is None:
        raise ValueError(f"no inference engine for {type(model).__name__}")
    return cls


def calibration_mel(model: nn.Module, seconds: float = 2.0) -> torch.Tensor:
    """Log-mel of the first ``seconds`` of a bundled speech clip at the model's rate."""
    wav, _ = load(speech_path("slt_16k.wav"), sr=model.sample_rate, mono=True)
    start = int(0.3 * model.sample_rate)  # skip the leading silence
    return model.mel(wav[0, start : start + int(seconds * model.sample_rate)])


def _snr_db(ref: torch.Tensor, est: torch.Tensor) -> float:
    err = (ref.double() - est.double()).norm()
    return float("inf") if err == 0 else float(20 * torch.log10(ref.double().norm() / err))


def calibrate(model: nn.Module, dtype: torch.dtype, min_snr_db: float, mel: torch.Tensor | None = None):
    """Build a ``dtype`` engine whose output SNR against fp32 on ``mel`` (default: bundled speech) is at
    least ``min_snr_db``, moving the most sensitive precision units to fp32 greedily."""
    cls = _engine_class(model)
    mel = calibration_mel(model) if mel is None else mel
    ref = model.head(*cls(model, torch.float32)(mel)).audio

    def snr(fp32_units: frozenset) -> tuple[float, nn.Module]:
        engine = cls(model, dtype, fp32_units)
        return _snr_db(ref, model.head(*engine(mel)).audio), engine

    fp32: frozenset = frozenset()
    value, engine = snr(fp32)
    tried = [value]
    if value < min_snr_db:
        # sensitivity of each unit alone: the SNR gained by keeping only it in fp32
        gains = {u: snr(frozenset({u}))[0] - value for u in engine.units}
        for u in sorted(gains, key=gains.get, reverse=True):
            fp32 = fp32 | {u}
            value, engine = snr(fp32)
            tried.append(value)
            if value >= min_snr_db:
                break
    engine.precision.update(
        calibration_snr_db=round(value, 2), min_snr_db=min_snr_db, snr_trace=[round(v, 1) for v in tried]
    )
    log.info(
        "%s %s engine: %d of %d units kept in fp32 (%s); calibration SNR %.1f dB (target %.1f)",
        type(model).__name__,
        dtype,
        len(fp32),
        len(engine.units),
        ", ".join(sorted(fp32)) or "none",
        value,
        min_snr_db,
    )
    return engine


def build_engine(model: nn.Module, dtype: torch.dtype, min_snr_db: float = 35.0) -> nn.Module:
    """A new inference engine of ``model`` in ``dtype`` (:meth:`SpectralVocoder.fast_backbone` caches it).

    A bf16 engine is calibrated (see the module docstring) so that its output stays within
    ``min_snr_db`` of the fp32 engine on bundled speech; ``min_snr_db=0`` keeps every unit in bf16.
    """
    if dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"unsupported inference dtype {dtype}; use one of {SUPPORTED_DTYPES}")
    with torch.inference_mode():
        if dtype == torch.float32:
            engine = _engine_class(model)(model, torch.float32)
        else:
            engine = calibrate(model, dtype, min_snr_db)
    return engine.eval()
