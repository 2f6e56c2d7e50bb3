"""GPU check, ready to run: inference and GAN training steps of APNet, APNet2 and AP-BWE on CUDA.

One script, at most a few minutes on a CUDA GPU, printing one table:

* **inference** of APNet (16 kHz), APNet2 (22.05 kHz) and AP-BWE 8k->16k at official size (random,
  non-degenerate weights; speed does not depend on them): the official-equivalent path (the
  op-for-op network with weight norm in place, ``torch.no_grad``) in fp32, under bf16 autocast and
  under fp16 autocast; median seconds, real-time factor (RTF = time / audio seconds), speed-up over
  fp32, output SNR against fp32, peak memory;
* **training**: a few GAN steps (discriminators then generator, the published losses, AdamW) of
  the training tasks ``APNetTask``, ``APNet2Task`` and ``APBWETask`` at the published batch size and
  segment length, fp32 and bf16 autocast (``train.precision: bf16``), median seconds per step.

Usage::

    python benchmarks/gpu_check.py                    # on a CUDA machine (skips cleanly without one)
    python benchmarks/gpu_check.py --device cpu --quick   # tiny models, a few seconds: checks the script

Without CUDA and without ``--device cpu`` it prints why it skipped and exits 0, so CI (which has no
GPU) passes. ``--quick`` shrinks models, audio and steps (a smoke test, not a measurement).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import print_table  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_seconds(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _peak_mib(device: torch.device) -> float | str:
    if device.type != "cuda":
        return "-"
    return torch.cuda.max_memory_allocated(device) / 2**20


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _snr_db(ref: torch.Tensor, est: torch.Tensor) -> float:
    ref, est = ref.double().cpu(), est.double().cpu()
    err = (ref - est).norm()
    return math.inf if err == 0 else float(20 * torch.log10(ref.norm() / err))


def _speechlike(seconds: float, sr: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """Harmonic tones with a gliding f0 plus a little noise, ``(batch, T)`` in [-0.5, 0.5]."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * sr), dtype=torch.float64) / sr
    rows = []
    for b in range(batch):
        f0 = 110 + 40 * b + 30 * torch.sin(2 * math.pi * 0.7 * t)
        phase = 2 * math.pi * torch.cumsum(f0, 0) / sr
        x = sum(torch.sin(k * phase) / k for k in range(1, int(0.45 * sr / 200)))
        x = x + 0.01 * torch.randn(t.shape, generator=g, dtype=torch.float64)
        rows.append(0.5 * x / x.abs().max())
    return torch.stack(rows).float()


def _nondegenerate_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights of init scale (weight-norm gains ~ U[0.5, 1], biases small): a network whose
    activations neither vanish nor explode, so speed and SNR are representative."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight_g"):
                p.copy_(0.5 + 0.5 * torch.rand(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
    return model


# ------------------------------------------------------------------------------ model sizes
def _vocoder_configs(quick: bool):
    from audiokit.vocoders import APNet2Config, APNetConfig

    if not quick:
        return APNetConfig(), APNet2Config()
    return (
        dataclasses.replace(
            APNetConfig(), channels=16, resblock_kernel_sizes=(3,), resblock_dilations=((1,),)
        ),
        dataclasses.replace(APNet2Config(), dim=16, intermediate_dim=32, num_layers=1),
    )


def _bwe_config(quick: bool):
    from audiokit.bwe import APBWEConfig

    cfg = APBWEConfig.preset("8k_16k")
    return cfg.replace(channels=16, layers=1) if quick else cfg


# ------------------------------------------------------------------------------ inference
def inference_rows(device: torch.device, quick: bool, seconds: float, repeats: int) -> list[list[object]]:
    from audiokit.bwe import APBWE, simulate_narrowband
    from audiokit.vocoders import APNet, APNet2

    apnet_cfg, apnet2_cfg = _vocoder_configs(quick)
    bwe_cfg = _bwe_config(quick)
    precisions: dict[str, torch.dtype | None] = {"fp32": None, "bf16 autocast": torch.bfloat16}
    if device.type == "cuda":
        precisions["fp16 autocast"] = torch.float16
    rows = []
    for name, build in (
        ("APNet", lambda: _nondegenerate_(APNet(apnet_cfg))),
        ("APNet2", lambda: _nondegenerate_(APNet2(apnet2_cfg))),
        ("AP-BWE 8k->16k", lambda: _nondegenerate_(APBWE(bwe_cfg))),
    ):
        model = build().to(device).eval()
        if name.startswith("AP-BWE"):
            sr = bwe_cfg.hr_sampling_rate
            nb = simulate_narrowband(_speechlike(seconds, sr), sr, bwe_cfg.lr_sampling_rate).to(device)
            log_amp, phase = model.analyse(nb)

            def run(model=model, log_amp=log_amp, phase=phase):
                out = model(log_amp, phase)
                return model.synthesise(out.log_amplitude.float(), out.phase.float())

        else:
            sr = model.sample_rate
            mel = model.mel(_speechlike(seconds, sr).to(device))

            def run(model=model, mel=mel):
                return model(mel).audio

        ref = None
        fp32_time = None
        for label, dtype in precisions.items():

            def call(run=run, dtype=dtype):
                with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    return run()

            _reset_peak(device)
            try:
                out = call()
                t = _median_seconds(call, device, repeats, warmup=0 if quick else 2)
            except RuntimeError as e:  # e.g. a dtype an old GPU lacks
                rows.append([name, label, "-", "-", "-", "-", f"failed: {str(e).splitlines()[0][:40]}"])
                continue
            if ref is None:
                ref, fp32_time = out.float(), t
            snr = _snr_db(ref, out.float())
            rows.append([name, label, t, t / seconds, fp32_time / t, snr, _peak_mib(device)])
        del model
    return rows


# ------------------------------------------------------------------------------ training
def _tasks(quick: bool):
    """(name, task class, config) of the GAN training tasks at the published settings (tiny in quick)."""
    from audiokit.bwe.training import APBWETask, APBWETrainConfig
    from audiokit.train.gan import DiscriminatorConfig
    from audiokit.vocoders.training import APNet2Task, APNet2TrainConfig, APNetTask, APNetTrainConfig

    apnet_cfg, apnet2_cfg = _vocoder_configs(quick)
    a = APNetTrainConfig(model=apnet_cfg)
    b = APNet2TrainConfig(model=apnet2_cfg)
    c = APBWETrainConfig(model=_bwe_config(quick))
    if quick:
        small = {
            "mpd": {"periods": [2, 3], "channels": [4, 8, 8, 8, 8]},
            "mrd": {"resolutions": [[128, 32, 128], [256, 64, 256]], "channels": 4},
            "mrad": {"resolutions": [[128, 32, 128], [256, 64, 256]], "channels": 4},
            "mrpd": {"resolutions": [[128, 32, 128], [256, 64, 256]], "channels": 4},
        }
        for cfg in (a, b, c):
            cfg.discriminators = {
                k: DiscriminatorConfig(d.weight, d.fm_weight, {**d.options, **small[k]})
                for k, d in cfg.discriminators.items()
                if k in small  # the MSD has no size options (official size): left out in quick mode
            }
            cfg.data.segment_length = 8 * (cfg.model.hop_length if hasattr(cfg.model, "hop_length") else 80)
    return [("APNet", APNetTask, a), ("APNet2", APNet2Task, b), ("AP-BWE 8k->16k", APBWETask, c)]


def _batch(task, device: torch.device, batch_size: int) -> dict[str, torch.Tensor]:
    from audiokit.bwe import simulate_narrowband

    cfg = task.config
    sr = cfg.data.sample_rate
    audio = _speechlike(cfg.data.segment_length / sr, sr, batch_size)[:, : cfg.data.segment_length].to(device)
    if hasattr(cfg.model, "lr_sampling_rate"):
        return {"audio": audio, "input": simulate_narrowband(audio, sr, cfg.model.lr_sampling_rate)}
    return {"audio": audio, "mel": task.model("generator").mel(audio)}


def training_rows(
    device: torch.device, quick: bool, steps: int, batch_size: int | None
) -> list[list[object]]:
    from audiokit.train import TrainerConfig

    rows = []
    for name, task_cls, cfg in _tasks(quick):
        for precision in ("fp32", "bf16"):
            bs = batch_size or (1 if quick else TrainerConfig().batch_size)
            train = TrainerConfig(precision=precision, batch_size=bs)
            task = task_cls(cfg, train)
            # what Trainer._setup does for one process, without data loading or checkpoints
            task.device = device
            task.autocast_dtype = torch.bfloat16 if precision == "bf16" else None
            torch.manual_seed(0)
            task.models = {n: m.to(device).train() for n, m in task.build_models().items()}
            task.optimizers = dict(task.build_optimizers())
            batch = _batch(task, device, bs)
            losses: list[float] = []

            def step(task=task, batch=batch, losses=losses):
                with task.autocast():
                    logged = task.training_step(batch)
                losses.append(float(logged["loss_g"]))

            _reset_peak(device)
            try:
                t = _median_seconds(step, device, steps, warmup=0 if quick else 1)
            except RuntimeError as e:
                rows.append(
                    [name, f"train {precision}", "-", "-", "-", "-", f"failed: {str(e).splitlines()[0][:40]}"]
                )
                continue
            finite = all(math.isfinite(v) for v in losses)
            seg = cfg.data.segment_length / cfg.data.sample_rate
            rows.append(
                [
                    name,
                    f"train {precision} (B={bs})",
                    t,
                    t / (bs * seg),
                    "-",
                    "finite" if finite else "NaN/Inf",
                    _peak_mib(device),
                ]
            )
            del task
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    ap.add_argument("--quick", action="store_true", help="tiny models, short audio, few steps (a smoke test)")
    ap.add_argument(
        "--seconds", type=float, default=None, help="inference audio length (default 10, quick 0.25)"
    )
    ap.add_argument("--repeats", type=int, default=None, help="timed inference runs (default 5, quick 1)")
    ap.add_argument("--steps", type=int, default=None, help="timed training steps (default 5, quick 1)")
    ap.add_argument(
        "--batch-size", type=int, default=None, help="training batch (default: published 16, quick 1)"
    )
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (quick on CPU: 1)")
    args = ap.parse_args(argv)
    try:
        device = torch.device(args.device)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cuda", "cpu"):
        print(f"gpu_check: --device must be cuda, cuda:N or cpu, got {args.device!r}", file=sys.stderr)
        return 2
    if device.type == "cuda" and not torch.cuda.is_available():
        print(
            f"gpu_check: skipped, no CUDA device here (torch {torch.__version__}); run it on a GPU "
            "machine, or with --device cpu --quick to check the script"
        )
        return 0
    quick = args.quick
    if args.threads or (quick and device.type == "cpu"):  # tiny ops: one thread avoids OpenMP stalls
        torch.set_num_threads(args.threads or 1)
    seconds = args.seconds or (0.25 if quick else 10.0)
    repeats = args.repeats or (1 if quick else 5)
    steps = args.steps or (1 if quick else 5)
    t0 = time.perf_counter()
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        where = (
            f"GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB; "
            f"torch {torch.__version__}, CUDA {torch.version.cuda}"
        )
        torch.backends.cudnn.benchmark = True
    else:
        from _timing import machine_line

        where = machine_line()
    print(where + ("; QUICK mode (tiny models: not a measurement)" if quick else ""))
    rows = inference_rows(device, quick, seconds, repeats)
    rows += training_rows(device, quick, steps, args.batch_size)
    print(f"inference: {seconds:g} s of audio, median of {repeats}; training: median of {steps} steps")
    print_table(["model", "path", "median s", "RTF", "vs fp32", "SNR dB / loss", "peak MiB"], rows)
    print(f"gpu_check finished in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
