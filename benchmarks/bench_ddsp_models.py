"""Synthesis speed of the bundled DDSP models: f0 and loudness curves -> audio, real-time factor.

For each model (``ddsp_tiny``, ``ddsp_violin``, ``ddsp_flute`` where present), batch 1, no grad:
``model(f0, loudness)`` on 10 s of controls (2500 frames, a phrase with vibrato), median of repeated
runs, interleaved; RTF = audio seconds / wall seconds. Also timed: the auto-adjust of the controls
(octave shift and loudness quantile map) and pYIN on the same 10 s, the feature extraction a timbre
transfer pays on top of synthesis. Prints the CPU model and torch's thread count.

Run under the shared lock: ``flock /tmp/audiokit-heavy.lock python benchmarks/bench_ddsp_models.py``.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved_medians, median_time, print_table  # noqa: E402

SECONDS, FR = 10.0, 250
MODELS = ("ddsp_tiny", "ddsp_violin", "ddsp_flute")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _controls() -> tuple[torch.Tensor, torch.Tensor]:
    n = int(SECONDS * FR)
    t = np.arange(n) / FR
    midi = 67 + 5 * np.floor(t % 4) + 0.2 * np.sin(2 * np.pi * 5.5 * t)
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    ld = -25 + 8 * np.sin(2 * np.pi * 0.3 * t)
    return torch.tensor(f0, dtype=torch.float32)[None], torch.tensor(ld, dtype=torch.float32)[None]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    from audiokit.ddsp.features import pyin_f0
    from audiokit.ddsp.model import DDSPAutoencoder, resolve_pretrained

    print(
        f"{_cpu()}; torch {torch.__version__}, threads {torch.get_num_threads()}; {SECONDS:g} s of controls"
    )
    models = {}
    for name in MODELS:
        try:
            models[name] = DDSPAutoencoder.from_pretrained(resolve_pretrained(name))
        except FileNotFoundError:
            print(f"({name} not found, skipped)")
    f0, ld = _controls()
    with torch.no_grad():
        fns = {k: (lambda m=m: m(f0, ld)) for k, m in models.items()}
        med = interleaved_medians(fns, repeats=args.repeats, warmup=2)
    rows = [[k, sum(p.numel() for p in models[k].parameters()), v * 1e3, SECONDS / v] for k, v in med.items()]
    print("\nSynthesis model(f0, loudness), batch 1, no grad: median ms per 10 s and real-time factor")
    print_table(["model", "parameters", "ms", "x real time"], rows)

    m = next(iter(models.values()))
    voiced = np.ones(f0.shape[1])
    t_adj = median_time(lambda: m.adjust_controls(f0[0].numpy(), ld[0].numpy(), voiced), repeats=args.repeats)
    audio = m(f0, ld)["audio"][0].detach().double().numpy()
    t_pyin = median_time(lambda: pyin_f0(audio, 16000, 64, 50.0, 2200.0), repeats=3, warmup=1)
    print("\nTimbre transfer's other costs on the same 10 s (median ms, x real time)")
    print_table(
        ["step", "ms", "x real time"],
        [
            ["auto-adjust (octave + loudness map)", t_adj * 1e3, SECONDS / t_adj],
            ["pYIN 50-2200 Hz", t_pyin * 1e3, SECONDS / t_pyin],
        ],
    )


if __name__ == "__main__":
    main()
