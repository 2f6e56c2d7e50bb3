"""Vocoder speed on CPU, side by side: APNet (16 kHz), APNet2 (22.05 kHz) and HiFi-GAN V1 (22.05 kHz).

Run (the machine is shared: take the lock, quote medians)::

    flock /tmp/audiokit-heavy.lock python benchmarks/bench_vocoders.py [--seconds 10] [--threads 2]
        [--repeats 7] [--compile] [--checkpoint apnet=DIR --checkpoint apnet2=DIR]

For each model and inference path it prints the median wall time of the generator including the
ISTFT (feature extraction is reported separately), the real-time factor (RTF = time / audio seconds),
the speed-up over the official-equivalent path of the same model, the speed-up over HiFi-GAN V1
(fp32), and the output SNR against the fp32 reference output of the same weights. Paths:

* ``official``: the op-for-op official network with weight norm left in place (as the official
  ``inference.py`` runs it), under ``torch.no_grad``; its outputs are bit-identical to the official
  code's (tests/vocoders/test_parity.py).
* ``fp32 ref``: the same network with weight norm folded, under ``torch.inference_mode``.
* ``fp32 engine``/``bf16 engine``: :mod:`audiokit.vocoders.fast` (channels-last layout, GRN folding;
  bf16 keeps the input and log-amplitude convs, residual streams, phase and ISTFT in fp32 and is
  calibrated to >= 35 dB against fp32). ``synthesize(mel, dtype=...)``. ``bf16 all units``: the
  same without calibration (every block in bf16), the speed limit of the bf16 layout.
* ``bf16 autocast``: the reference network under ``torch.autocast("cpu", torch.bfloat16)``.
* ``compile ...`` (``--compile``): ``torch.compile`` (inductor, weight freezing) of the reference
  network; the one-off compile time is printed separately and is not in the RTF.

Weights are random but non-degenerate (speed does not depend on them; SNRs do a little), unless
``--checkpoint`` gives trained ones.
"""

from __future__ import annotations

import argparse
import copy
import math
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved_medians, median_time, print_machine, print_table  # noqa: E402
from hifigan import HiFiGANGenerator  # noqa: E402

from audiokit.vocoders import APNet, APNet2, SpectralVocoder  # noqa: E402


def snr_db(ref: torch.Tensor, est: torch.Tensor) -> float:
    ref, est = ref.double().flatten(), est.double().flatten()
    n = min(ref.numel(), est.numel())
    err = (ref[:n] - est[:n]).norm()
    return math.inf if err == 0 else float(20 * torch.log10(ref[:n].norm() / err))


def random_weights_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-degenerate random weights: WN gains U[0.5, 1], biases N(0, 0.05^2), GRN gamma/beta N(0, 0.1^2)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight_g"):
                p.copy_(torch.rand(p.shape, generator=g) * 0.5 + 0.5)
            elif name.endswith(("gamma", "beta")):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias") and "norm" not in name:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
    return model


def speechlike_mel(model: SpectralVocoder, seconds: float, seed: int = 0) -> torch.Tensor:
    """Log-mel of a synthetic speech-like signal (gliding harmonics + noise bursts) of ``seconds``."""
    sr = model.sample_rate
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(sr * seconds), dtype=torch.float64) / sr
    f0 = 140 + 40 * torch.sin(2 * math.pi * 0.7 * t)
    ph = 2 * math.pi * torch.cumsum(f0, 0) / sr
    env = 0.5 + 0.5 * torch.sin(2 * math.pi * 3 * t).clamp(min=0)
    x = sum(0.3 / k * torch.sin(k * ph) for k in range(1, 25)) * env
    x = x + 0.01 * torch.randn(t.shape, generator=g, dtype=torch.float64)
    return model.mel(x.float())


def vocoder_paths(model: SpectralVocoder, mel: torch.Tensor, compile_: bool) -> dict[str, Callable]:
    official = copy.deepcopy(model)
    if isinstance(official, APNet):
        official.apply_weight_norm()
    folded = copy.deepcopy(model).fold_weight_norm().eval()

    def run_official():
        with torch.no_grad():
            return official(mel).audio

    def run_ref():
        with torch.inference_mode():
            return folded.synthesize(mel)

    def run_autocast():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            logamp, r, i = folded.backbone(mel)
        with torch.inference_mode():
            return folded.head(logamp.float(), r.float(), i.float()).audio

    def run_bf16_all_units():
        with torch.inference_mode():
            return folded.head(*folded.fast_backbone(torch.bfloat16, min_snr_db=0.0)(mel)).audio

    paths = {
        "official": run_official,
        "fp32 ref": run_ref,
        "fp32 engine": lambda: folded.synthesize(mel, dtype=torch.float32),
        "bf16 engine": lambda: folded.synthesize(mel, dtype=torch.bfloat16),
        "bf16 all units": run_bf16_all_units,
        "bf16 autocast": run_autocast,
    }
    if compile_:
        for dtype, label in ((torch.float32, "compile fp32"), (torch.bfloat16, "compile bf16")):
            paths[label] = _compiled(folded, mel, dtype)
    return paths


def _compiled(model: SpectralVocoder, mel: torch.Tensor, dtype: torch.dtype) -> Callable:
    import torch._inductor.config as inductor_config

    inductor_config.freezing = True
    net = copy.deepcopy(model).to(dtype)
    backbone = torch.compile(net.backbone)
    x = mel.to(dtype)

    def run():
        with torch.inference_mode():
            logamp, r, i = backbone(x)
            return model.head(logamp.float(), r.float(), i.float()).audio

    t0 = time.perf_counter()
    run()
    print(
        f"  torch.compile {model.model_type} {dtype}: {time.perf_counter() - t0:.0f} s to compile", flush=True
    )
    return run


def hifigan_paths(mel: torch.Tensor) -> dict[str, Callable]:
    gen = random_weights_(HiFiGANGenerator()).fold_weight_norm().eval()
    gen_bf16 = copy.deepcopy(gen).to(torch.bfloat16)

    def fp32():
        with torch.inference_mode():
            return gen(mel)

    def bf16():
        with torch.inference_mode():
            return gen_bf16(mel.bfloat16()).float()

    return {"fp32 ref": fp32, "bf16 model": bf16}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (minutes to compile)")
    ap.add_argument("--no-hifigan", action="store_true")
    ap.add_argument("--checkpoint", action="append", default=[], metavar="MODEL=DIR", help="trained weights")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    print_machine()
    ckpts = dict(c.split("=", 1) for c in args.checkpoint)

    models = {
        "APNet": SpectralVocoder.from_pretrained(ckpts["apnet"])
        if "apnet" in ckpts
        else random_weights_(APNet()),
        "APNet2": SpectralVocoder.from_pretrained(ckpts["apnet2"])
        if "apnet2" in ckpts
        else random_weights_(APNet2()),
    }
    print(
        f"torch {torch.__version__}, {args.threads} threads, {platform.processor() or platform.machine()}, "
        f"{args.seconds:g} s of audio, median of {args.repeats} interleaved runs, {args.warmup} warm-ups; "
        "shared machine: medians are indicative"
    )
    rows = []
    hifi_time = None
    if not args.no_hifigan:
        mel22 = speechlike_mel(models["APNet2"], args.seconds)  # 22.05 kHz, hop 256 (same as HiFi-GAN V1)
        paths = hifigan_paths(mel22)
        ref = paths["fp32 ref"]()
        times = interleaved_medians(paths, repeats=args.repeats, warmup=args.warmup)
        audio_s = ref.shape[-1] / 22050
        hifi_time = times["fp32 ref"]
        for name, fn in paths.items():
            rows.append(
                [
                    "HiFi-GAN V1 22k",
                    name,
                    times[name] * 1e3,
                    times[name] / audio_s,
                    "",
                    1.0 * hifi_time / times[name],
                    snr_db(ref, fn()),
                ]
            )
    for label, model in models.items():
        mel = speechlike_mel(model, args.seconds)
        engine = model.fast_backbone(torch.bfloat16)
        print(f"  {label} bf16 calibration: {engine.precision}", flush=True)
        feat = median_time(lambda m=model: m.mel(torch.zeros(int(m.sample_rate * args.seconds))), 5, 1)
        paths = vocoder_paths(model, mel, args.compile)
        with torch.inference_mode():
            ref = copy.deepcopy(model).fold_weight_norm().synthesize(mel)
        times = interleaved_medians(paths, repeats=args.repeats, warmup=args.warmup)
        audio_s = ref.shape[-1] / model.sample_rate
        tag = f"{label} {model.sample_rate // 1000}k"
        for name, fn in paths.items():
            t = times[name]
            rows.append(
                [
                    tag,
                    name,
                    t * 1e3,
                    t / audio_s,
                    times["official"] / t,
                    (hifi_time / t) if hifi_time else "",
                    snr_db(ref, fn()),
                ]
            )
        rows.append([tag, "(mel features)", feat * 1e3, feat / args.seconds, "", "", ""])
    header = ["model", "path", "ms", "RTF", "x official", "x HiFi-GAN fp32", "SNR dB vs fp32"]
    print_table(header, rows)


if __name__ == "__main__":
    main()
