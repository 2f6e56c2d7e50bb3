"""ONNX export of APNet, APNet2 and AP-BWE, with the ISTFT inside the graph.

Graphs (``N`` frames and ``T`` samples are dynamic):

* vocoders (APNet, APNet2): input ``mel`` ``(B, n_mels, N)`` (natural-log mel) -> output ``audio``
  ``(B, hop * (N - 1))``, as ``model(mel).audio``;
* AP-BWE: input ``narrowband`` ``(B, T)`` narrowband at the preset's low rate -> output ``audio``
  ``(B, ceil(T * hr / lr))`` at the target rate, as ``model.extend(audio, lr, chunk_frames=None)``
  (sinc upsampling, :class:`~audiokit.frontend.dft.ConvSTFT`, generator,
  :class:`~audiokit.frontend.dft.MatmulISTFT`).

Needs the ``onnx`` extra (``pip install "audiokit[onnx]"``: ``onnx``, ``onnxscript`` for torch's
exporter, ``onnxruntime`` to run the graphs). The CLI is ``audiokit export --onnx MODEL OUT.onnx``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.assets import resolve_pretrained
from audiokit.bwe.inference import apply_high_band_gain, merge_low_band
from audiokit.bwe.model import APBWE
from audiokit.frontend.dft import ConvSTFT, MatmulISTFT
from audiokit.frontend.resample import reduced_rates, sinc_resample_kernel
from audiokit.io import atomic_write
from audiokit.vocoders.base import SpectralVocoder

__all__ = ["BWEGraph", "VocoderGraph", "export_onnx", "load_model", "onnx_session", "run_onnx"]

log = logging.getLogger(__name__)

OPSET = 18


def _polar(log_amplitude: torch.Tensor, phase: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    amp = torch.exp(log_amplitude)
    return amp * torch.cos(phase), amp * torch.sin(phase)


class VocoderGraph(nn.Module):
    """APNet/APNet2 as an export-friendly module: log-mel ``(B, n_mels, N)`` -> audio ``(B, T)``, as
    ``model.synthesize(mel)``: with the model's amplitude prior and its ``phase_refine_iters``
    fast Griffin-Lim iterations (unrolled: :class:`ConvSTFT` / :class:`MatmulISTFT` pairs on real
    and imaginary parts, the arithmetic of :func:`audiokit.frontend.griffin_lim`)."""

    def __init__(self, model, momentum: float = 0.99):
        super().__init__()
        c = model.config
        self.model = model.eval()
        self.istft = MatmulISTFT(c.n_fft, c.hop_length, c.win_length)
        self.refine_iters = int(c.phase_refine_iters)
        self.alpha = momentum / (1 + momentum)
        if self.refine_iters:
            self.stft = ConvSTFT(c.n_fft, c.hop_length, c.win_length)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        log_amplitude, r, i = self.model.backbone(mel)
        phase = torch.atan2(i, r)
        if not self.refine_iters:
            return self.istft(*_polar(log_amplitude, phase))
        mag = torch.exp(log_amplitude)
        length = self.model.hop_length * (mel.shape[-1] - 1)
        ar, ai = torch.cos(phase), torch.sin(phase)
        pr, pi = torch.zeros_like(mag), torch.zeros_like(mag)
        eps = torch.finfo(mag.dtype).tiny
        for _ in range(self.refine_iters):
            rr, ri = self.stft(self.istft(mag * ar, mag * ai, length=length))
            ar, ai = rr - self.alpha * pr, ri - self.alpha * pi
            norm = torch.sqrt(ar * ar + ai * ai) + eps
            ar, ai, pr, pi = ar / norm, ai / norm, rr, ri
        return self.istft(mag * ar, mag * ai, length=length)


class BWEGraph(nn.Module):
    """AP-BWE as an export-friendly module: narrowband audio ``(B, T)`` at ``lr`` -> wideband
    audio ``(B, ceil(T * hr / lr))`` at ``hr`` (the official pipeline, see the module docstring)."""

    kernel: torch.Tensor

    def __init__(self, model):
        super().__init__()
        c = model.config
        self.model = model.eval()
        self.orig, self.new = reduced_rates(c.lr_sampling_rate, c.hr_sampling_rate)
        kernel, self.width = sinc_resample_kernel(self.orig, self.new)
        self.register_buffer("kernel", kernel, persistent=False)
        # float64 analysis: AP-BWE reads the phase of the near-empty upper band, which a float32
        # transform leaves at rounding noise (see docs/deployment.md)
        self.stft = ConvSTFT(c.n_fft, c.hop_size, c.win_size, dtype=torch.float64)
        self.istft = MatmulISTFT(c.n_fft, c.hop_size, c.win_size)
        self.log_eps = c.log_eps
        self.keep_low_band = c.keep_low_band

    def upsample(self, x: torch.Tensor) -> torch.Tensor:
        """:func:`~audiokit.frontend.sinc_resample` ``lr -> hr``, ``(B, T) -> (B, T * new / orig)``."""
        length = x.shape[-1]
        y = F.conv1d(F.pad(x[:, None], (self.width, self.width + self.orig)), self.kernel, stride=self.orig)
        y = y.transpose(1, 2).reshape(x.shape[0], -1)
        return y[:, : (length * self.new + self.orig - 1) // self.orig]

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        nb = self.upsample(audio)
        real, imag = self.stft(nb)
        mag_nb = torch.log(torch.sqrt(real * real + imag * imag) + self.log_eps)
        # atan2(+0, x < 0) is pi (the FFT's DC/Nyquist bins); onnxruntime's Atan2 gives -pi there
        pha_nb = torch.where((imag == 0) & (real < 0), torch.pi, torch.atan2(imag, real))
        mag, pha = self.model(mag_nb, pha_nb)
        if self.keep_low_band:
            mag, pha = merge_low_band(mag_nb, pha_nb, mag, pha, self.model.config)
        mag = apply_high_band_gain(mag, self.model.config)
        return self.istft(*_polar(mag, pha), length=nb.shape[-1])


def load_model(source: str | os.PathLike | nn.Module) -> nn.Module:
    """A model from a pretrained folder or a bundled name (``apnet_tiny``, ``ap_bwe_tiny_8k_16k``), or
    the model itself: an APNet, APNet2 or APBWE in ``eval()`` mode."""
    if isinstance(source, nn.Module):
        return source.eval()
    import json

    path = resolve_pretrained(source)
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        raise ValueError(f"{path}: not a pretrained model folder (no config.json)")
    try:
        meta = json.loads(cfg.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{cfg}: invalid JSON ({e})") from None
    if meta.get("model") == "APBWE":
        from audiokit.bwe import APBWE

        return APBWE.from_pretrained(path)
    if meta.get("model_type") in ("apnet", "apnet2"):
        from audiokit.vocoders import SpectralVocoder

        return SpectralVocoder.from_pretrained(path).fold_weight_norm()
    raise ValueError(f"{path}: ONNX export supports APNet, APNet2 and AP-BWE folders, not {cfg} as given")


def graph_for(model: nn.Module) -> tuple[nn.Module, torch.Tensor, str]:
    """The export module, an example input and the input's name for ``model``."""
    if isinstance(model, SpectralVocoder):
        if model.weight_normed:
            import copy

            model = copy.deepcopy(model).fold_weight_norm()
        return VocoderGraph(model).eval(), torch.randn(1, model.n_mels, 64) - 5.0, "mel"
    if isinstance(model, APBWE):
        lr = model.config.lr_sampling_rate
        return BWEGraph(model).eval(), 0.1 * torch.randn(1, lr // 4), "narrowband"
    raise ValueError(f"ONNX export supports APNet, APNet2 and APBWE, not {type(model).__name__}")


def export_onnx(source: str | os.PathLike | nn.Module, out: str | os.PathLike) -> Path:
    """Export a model (object, pretrained folder or bundled name) to ``out`` (one ``.onnx`` file,
    weights inside) with dynamic batch and length; see the module docstring for the graphs."""
    try:
        import onnxscript  # noqa: F401  (torch's exporter needs it)
    except ImportError:
        raise ValueError('ONNX export needs the onnx extra: pip install "audiokit[onnx]"') from None
    from torch.export import Dim

    out = Path(out)
    if out.suffix != ".onnx":
        raise ValueError(f"{out}: the output file must end in .onnx")
    graph, example, name = graph_for(load_model(source))
    if name == "mel":
        # phase refinement re-analyses the audio with a centred STFT: its reflect padding needs more
        # than n_fft // 2 samples
        c = graph.model.config
        min_frames = c.n_fft // (2 * c.hop_length) + 2 if graph.refine_iters else 2
        dims = {0: Dim("batch", max=1024), 2: Dim("frames", min=min_frames, max=2**24)}
    else:
        dims = {0: Dim("batch", max=1024), 1: Dim("length", min=1024, max=2**30)}
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as tmp, torch.no_grad():
        program = torch.onnx.export(
            graph,
            (example,),
            dynamic_shapes=(dims,),
            input_names=[name],
            output_names=["audio"],
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
        program.save(str(tmp))
    return out


def onnx_session(path: str | os.PathLike, threads: int | None = None):
    """An ``onnxruntime.InferenceSession`` on the CPU (``threads`` intra-op threads)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ValueError('running ONNX graphs needs the onnx extra: pip install "audiokit[onnx]"') from None
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run_onnx(session, x: torch.Tensor) -> torch.Tensor:
    """Run an exported graph on ``x`` (``mel`` or ``narrowband``) and return the audio as a tensor."""
    feed = {session.get_inputs()[0].name: x.detach().float().cpu().numpy()}
    return torch.from_numpy(session.run(None, feed)[0])
