"""STFT, ISTFT and log-mel throughput: audiokit.frontend vs plain torch vs librosa.

Run: ``python benchmarks/bench_frontend.py [--seconds 10] [--threads 2]``. Prints median times
(interleaved runs) and ratios; a ratio > 1 means audiokit is faster.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import librosa
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved_medians, print_machine, print_table  # noqa: E402

from audiokit.frontend import STFT, MelSpectrogram  # noqa: E402


def bench_config(sr: int, n_fft: int, hop: int, win: int, seconds: float, repeats: int) -> list[list[object]]:
    n = int(sr * seconds)
    x = torch.randn(n)
    xn = x.numpy()
    s = STFT(n_fft, hop, win)
    mel = MelSpectrogram(sr, n_fft, hop, win, n_mels=80, f_max=8000)
    win_t = torch.hann_window(win)
    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=80, fmax=8000)
    basis_t = torch.from_numpy(basis)
    spec = s(x)
    spec_np = spec[0].numpy()

    def torch_stft():
        return torch.stft(x, n_fft, hop, win, win_t, center=True, return_complex=True)

    def librosa_stft():
        return librosa.stft(xn, n_fft=n_fft, hop_length=hop, win_length=win, pad_mode="reflect")

    def torch_mel():
        z = torch_stft()
        return torch.log(torch.clamp(basis_t @ torch.sqrt(z.real**2 + z.imag**2 + 1e-9), min=1e-5))

    def librosa_mel():
        return np.log(np.maximum(basis @ np.abs(librosa_stft()), 1e-5))

    ops = {
        "stft": (lambda: s(x), torch_stft, librosa_stft),
        "istft": (
            lambda: s.inverse(spec, length=n),
            lambda: torch.istft(spec, n_fft, hop, win, win_t, center=True, length=n),
            lambda: librosa.istft(spec_np, hop_length=hop, win_length=win, n_fft=n_fft, length=n),
        ),
        "mel": (lambda: mel(x), torch_mel, librosa_mel),
    }
    rows = []
    for op, (ours, plain, lib) in ops.items():
        with torch.inference_mode():
            t = interleaved_medians({"ours": ours, "torch": plain, "librosa": lib}, repeats=repeats)
        rows.append(
            [
                f"{sr // 1000}k/{n_fft}/{hop}/{win}",
                op,
                t["ours"] * 1e3,
                t["torch"] * 1e3,
                t["librosa"] * 1e3,
                t["torch"] / t["ours"],
                t["librosa"] / t["ours"],
                seconds / t["ours"],
            ]
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print_machine()
    rows = []
    for cfg in [(16000, 1024, 80, 320), (22050, 1024, 256, 1024), (48000, 2048, 512, 2048)]:
        rows += bench_config(*cfg, args.seconds, args.repeats)
    print(f"{args.seconds:g} s of audio, {args.threads} threads, median of {args.repeats} interleaved runs")
    header = ["config", "op", "ours ms", "torch ms", "librosa ms", "torch/ours", "librosa/ours", "x realtime"]
    print_table(header, rows)


if __name__ == "__main__":
    main()
