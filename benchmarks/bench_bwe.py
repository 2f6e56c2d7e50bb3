"""AP-BWE CPU speed, side by side: the official forward vs audiokit's inference paths.

Run (the machine is shared: under the lock, default 2 threads)::

    flock /tmp/audiokit-heavy.lock python benchmarks/bench_bwe.py [--seconds 10] [--repeats 5] [--no-compile]

For each target rate (16 kHz: preset 8k_16k, 48 kHz: preset 16k_48k) and ``--seconds`` of speech
(the bundled clip tiled), it times the paper's boundaries - narrowband STFT -> generator -> ISTFT,
with the narrowband signal already at the target rate - for:

* ``official``: the op-for-op official forward (``APBWE.forward``, verified bit-exact against the
  official code's outputs), whole utterance in one pass, fp32 - what ``inference_*.py`` does;
* ``official+autocast``: the same under ``torch.autocast("cpu", torch.bfloat16)``;
* ``fused fp32`` / ``fused bf16``: :meth:`APBWE.fuse` (folded weights, channel-last, pre-packed
  oneDNN matmuls with fused GELU, chunks of 512 frames processed by one single-threaded worker per
  torch thread; bf16 = most of the network in bfloat16); ``fused bf16, intra-op threads``: the same
  chunks one after the other, each op using torch's threads;
* ``compiled fp32`` / ``compiled bf16``: the fused network under ``torch.compile`` (one fixed chunk
  shape, compiled once; the compile time is printed separately).

Reported: median seconds over ``--repeats`` interleaved runs (after warm-up), real-time factor
(time / audio duration), speed-up over ``official``, output SNR against ``official`` in dB, and
GMAC/s (29.69 M multiply-accumulates per frame for the official size). The weights are seeded
random full-size weights (the released checkpoints are not bundled; speed does not depend on the
values). ``--tiny`` adds the SNRs of the trained bundled tiny model, whose outputs behave like a
trained model's. Every path generates the whole spectrum (``keep_low_band=False``, as the official
code), so that the SNRs compare the same function. The fastest path with SNR >= 30 dB is marked.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _timing import interleaved_medians, print_machine, print_table  # noqa: E402

from audiokit.assets import speech_path  # noqa: E402
from audiokit.bwe import APBWE, APBWEConfig, simulate_narrowband  # noqa: E402
from audiokit.io import load  # noqa: E402

MACS_PER_FRAME = 29_688_320  # conv/linear MACs of the official generator per STFT frame


def seeded_model(preset: str) -> APBWE:
    from tests.bwe.seeded import seeded_state_dict

    cfg = APBWEConfig.preset(preset)
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in APBWE(cfg).state_dict().items()}
    return APBWE.from_official(seeded_state_dict(shapes), cfg)


def speech(sr: int, seconds: float) -> torch.Tensor:
    wav, _ = load(speech_path("slt_48k.wav" if sr == 48000 else "slt_16k.wav"), mono=True)
    reps = math.ceil(seconds * sr / wav.shape[-1])
    return wav.repeat(1, reps)[:, : int(seconds * sr)]


def snr_db(ref: torch.Tensor, x: torch.Tensor) -> float:
    n = min(ref.shape[-1], x.shape[-1])
    ref, x = ref[..., :n].double(), x[..., :n].double()
    return float(20 * torch.log10(ref.norm() / (ref - x).norm().clamp_min(1e-20)))


def official_forward(model: APBWE, nb: torch.Tensor) -> torch.Tensor:
    """STFT -> generator -> ISTFT in one pass (the official inference's timed region)."""
    mag, pha = model.generate(*model.analyse(nb))
    return model.synthesise(mag, pha)


def variants(model: APBWE, compile_: bool) -> dict[str, tuple]:
    """name -> (callable nb -> wav, setup seconds)."""
    out: dict[str, tuple] = {}
    out["official"] = (lambda nb: official_forward(model, nb), 0.0)

    def autocast(nb):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mag, pha = model.generate(*model.analyse(nb))
        return model.synthesise(mag.float(), pha.float())

    out["official+autocast bf16"] = (autocast, 0.0)
    for prec in ("fp32", "bf16"):
        t0 = time.perf_counter()
        fused = model.fuse(prec)
        out[f"fused {prec}"] = (
            lambda nb, f=fused: f.extend_narrowband(nb, f.chunk_frames, keep_low_band=False),
            time.perf_counter() - t0,
        )
    t0 = time.perf_counter()
    serial = model.fuse("bf16", workers=1)
    out["fused bf16, intra-op threads"] = (
        lambda nb, f=serial: f.extend_narrowband(nb, f.chunk_frames, keep_low_band=False),
        time.perf_counter() - t0,
    )
    if compile_:
        for prec in ("fp32", "bf16"):
            fused = model.fuse(prec, compile=True)
            t0 = time.perf_counter()
            with torch.inference_mode():
                fused.extend_narrowband(torch.randn(1, 16000), fused.chunk_frames)  # compiles
            out[f"compiled {prec}"] = (
                lambda nb, f=fused: f.extend_narrowband(nb, f.chunk_frames, keep_low_band=False),
                time.perf_counter() - t0,
            )
    return out


def bench_target(preset: str, seconds: float, repeats: int, compile_: bool, tiny: APBWE | None) -> list[list]:
    model = seeded_model(preset)
    cfg = model.config
    hr = cfg.hr_sampling_rate
    x = speech(hr, seconds)
    nb = simulate_narrowband(x, hr, cfg.lr_sampling_rate)
    n_frames = 1 + nb.shape[-1] // cfg.hop_size
    fns = variants(model, compile_)
    with torch.inference_mode():
        outputs = {k: fn(nb) for k, (fn, _) in fns.items()}
        times = interleaved_medians({k: (lambda fn=fn: fn(nb)) for k, (fn, _) in fns.items()}, repeats, 1)
        tiny_snr = {}
        if tiny is not None and hr == tiny.config.hr_sampling_rate:
            tiny_nb = simulate_narrowband(x, hr, tiny.config.lr_sampling_rate)
            ref = official_forward(tiny, tiny_nb)
            for k, (fn, _) in variants(tiny, False).items():  # compiled: as fused (not recompiled)
                tiny_snr[k] = snr_db(ref, fn(tiny_nb))
    ref = outputs["official"]
    rows = []
    for k, t in times.items():
        snr = snr_db(ref, outputs[k]) if k != "official" else float("inf")
        rows.append(
            [
                f"{hr // 1000}k ({preset})",
                k,
                t,
                t / seconds,
                times["official"] / t,
                snr,
                tiny_snr.get(k, float("nan")) if k != "official" else float("inf"),
                MACS_PER_FRAME * n_frames / t / 1e9,
                fns[k][1],
            ]
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--targets", default="16k,48k")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--tiny", action="store_true", help="also report SNRs of the bundled trained tiny model")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print_machine()
    tiny = None
    if args.tiny:
        from audiokit.cli.bwe import bundled_model_dir

        tiny = APBWE.from_pretrained(bundled_model_dir())
    presets = {"16k": "8k_16k", "48k": "16k_48k"}
    rows = []
    for t in args.targets.split(","):
        rows += bench_target(presets[t.strip()], args.seconds, args.repeats, not args.no_compile, tiny)
    print(
        f"{args.seconds:g} s of speech, {args.threads} threads, median of {args.repeats} interleaved runs "
        f"(shared machine: medians, expect noise); RTF = time / audio duration"
    )
    header = ["target", "path", "median s", "RTF", "speed-up", "SNR dB", "SNR tiny", "GMAC/s", "setup s"]
    print_table(header, rows)
    for target in {r[0] for r in rows}:
        ok = [r for r in rows if r[0] == target and r[5] >= 30]
        best = min(ok, key=lambda r: r[2])
        print(
            f"fastest with SNR >= 30 dB at {target}: {best[1]} "
            f"(RTF {best[3]:.3f}, {1 / best[3]:.1f}x real time)"
        )


if __name__ == "__main__":
    main()
