"""Does streaming run in real time? Per-chunk compute time against the chunk's duration for APNet,
APNet2, AP-BWE (fp32 and bf16) and DDSP rendering from controls (``model.stream()``), and onnxruntime
against PyTorch side by side (offline, 10 s).

    python benchmarks/bench_streaming.py [--threads 2] [--seconds 10] [--no-onnx]

Models: the bundled ``apnet_tiny`` and ``ap_bwe_tiny_8k_16k``, and random weights of the official
sizes (APNet2 at 22.05 kHz, AP-BWE 16k_48k): speed depends on the size, not on the weights. A chunk
of ``d`` ms is pushed after another; its compute time is the median over the stream (after two
warm-up chunks). "x real time" = chunk duration / compute time (> 1: keeps up). Speech-like input:
the bundled clips, repeated. onnxruntime rows need the ``onnx`` extra.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved_medians, print_machine, print_table  # noqa: E402

from audiokit.assets import speech_files  # noqa: E402
from audiokit.bwe import APBWE, APBWEConfig  # noqa: E402
from audiokit.ddsp.model import DDSPAutoencoder  # noqa: E402
from audiokit.io import load  # noqa: E402
from audiokit.vocoders import APNet, APNet2  # noqa: E402

CHUNKS_MS = (10, 20, 50, 100)


def speech(sr: int, seconds: float) -> torch.Tensor:
    """``(1, T)`` bundled speech at ``sr``, repeated to ``seconds``."""
    clips = [load(f, sr=sr, mono=True)[0] for f in speech_files(16000)]
    x = torch.cat(clips, dim=-1)
    n = int(sr * seconds)
    return x.repeat(1, n // x.shape[-1] + 1)[:, :n]


def per_chunk(push: Callable[[torch.Tensor], object], pieces: list[torch.Tensor]) -> float:
    """Median seconds of ``push`` over the pieces (the first two are warm-up)."""
    times = []
    for i, p in enumerate(pieces):
        t0 = time.perf_counter()
        push(p)
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def vocoder_rows(name: str, model, seconds: float) -> list[list[object]]:
    mel = model.mel(speech(model.sample_rate, seconds))
    hop_ms = 1000 * model.hop_length / model.sample_rate
    rows = []
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    if model.global_context:
        dtypes = {"fp32 (running GRN)": torch.float32}
    for label, dtype in dtypes.items():
        for ms in CHUNKS_MS:
            n = max(1, round(ms / hop_ms))
            streamer = model.stream(dtype=dtype)
            pieces = [mel[..., i : i + n] for i in range(0, mel.shape[-1], n)]
            t = per_chunk(streamer.push, pieces)
            dur = n * hop_ms / 1000
            rows.append([name, label, f"{n * hop_ms:.1f}", 1000 * t, dur / t])
    return rows


def bwe_rows(name: str, model: APBWE, seconds: float) -> list[list[object]]:
    lr = model.config.lr_sampling_rate
    x = speech(lr, seconds)
    rows = []
    for label in ("fp32", "bf16"):
        engine = model.fuse(label)
        for ms in CHUNKS_MS:
            n = lr * ms // 1000
            streamer = engine.stream(sr=lr)
            pieces = [x[:, i : i + n] for i in range(0, x.shape[-1], n)]
            t = per_chunk(streamer.push, pieces)
            rows.append([name, label, f"{ms}", 1000 * t, (ms / 1000) / t])
    return rows


def ddsp_rows(name: str, model, seconds: float) -> list[list[object]]:
    """DDSP rendering from f0/loudness controls (a melody with vibrato), pushed chunk by chunk."""
    from audiokit.ddsp.api import notes_to_controls

    fr = model.config.frame_rate
    n_notes = max(1, int(seconds / 0.5))
    f0, ld = notes_to_controls(
        [220.0 * 2 ** (k % 12 / 12) for k in range(n_notes)],
        [0.5] * n_notes,
        [-20.0] * n_notes,
        frame_rate=fr,
        vibrato_cents=20.0,
    )
    rows = []
    for ms in CHUNKS_MS:
        n = max(1, round(ms * fr / 1000))
        streamer = model.stream()
        pieces = [(f0[None, i : i + n], ld[None, i : i + n]) for i in range(0, f0.numel(), n)]
        t = per_chunk(lambda p, s=streamer: s.push(*p), pieces)
        dur = n / fr
        rows.append([name, "fp32", f"{1000 * dur:.0f}", 1000 * t, dur / t])
    return rows


def onnx_rows(models: dict[str, torch.nn.Module], seconds: float, threads: int) -> list[list[object]]:
    from audiokit.onnx_export import export_onnx, onnx_session, run_onnx

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, model in models.items():
            path = export_onnx(model, Path(tmp) / f"{name}.onnx")
            session = onnx_session(path, threads)
            if isinstance(model, APBWE):
                x = speech(model.config.lr_sampling_rate, seconds)
                engine = model.fuse("fp32")

                def torch_fn(engine=engine, x=x, sr=model.config.lr_sampling_rate):
                    return engine.extend(x, sr)

            else:
                x = model.mel(speech(model.sample_rate, seconds))

                def torch_fn(model=model, x=x):
                    return model.synthesize(x, dtype=torch.float32)

            def ort_fn(session=session, x=x):
                return run_onnx(session, x)

            with torch.inference_mode():
                t = interleaved_medians({"torch": torch_fn, "onnxruntime": ort_fn}, repeats=5, warmup=1)
            rows.append(
                [
                    name,
                    t["torch"],
                    t["onnxruntime"],
                    t["onnxruntime"] / t["torch"],
                    seconds / t["onnxruntime"],
                ]
            )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--no-onnx", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print_machine()
    torch.manual_seed(0)
    apnet = APNet.from_pretrained("apnet_tiny").eval()
    apnet2 = APNet2().eval()  # official size (22.05 kHz, 512 channels, 8 ConvNeXt blocks)
    bwe_tiny = APBWE.from_pretrained("ap_bwe_tiny_8k_16k").eval()
    bwe_48 = APBWE(APBWEConfig.preset("16k_48k")).eval()
    rows: list[list[object]] = []
    with torch.inference_mode():
        rows += vocoder_rows("apnet_tiny", apnet, args.seconds)
        rows += vocoder_rows("APNet2 (official size)", apnet2, args.seconds)
        rows += bwe_rows("ap_bwe_tiny_8k_16k", bwe_tiny, args.seconds)
        rows += bwe_rows("AP-BWE 16k_48k (official size)", bwe_48, args.seconds)
        rows += ddsp_rows(
            "ddsp_violin (controls -> audio)",
            DDSPAutoencoder.from_pretrained("ddsp_violin").eval(),
            args.seconds,
        )
    print("\nstreaming: compute per chunk")
    print_table(["model", "precision", "chunk ms", "compute ms", "x real time"], rows)
    if not args.no_onnx:
        print(f"\noffline, {args.seconds:g} s: PyTorch (fp32 engine) vs onnxruntime")
        models = {"apnet_tiny": apnet, "apnet2": apnet2, "ap_bwe_tiny_8k_16k": bwe_tiny}
        print_table(
            ["model", "torch s", "onnxruntime s", "ort / torch", "ort x real time"],
            onnx_rows(models, args.seconds, args.threads),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
