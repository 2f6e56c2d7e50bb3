"""pYIN speed: ``librosa.pyin`` (dense Viterbi) vs the same call with audiokit's exact banded Viterbi,
and ``audiokit.frontend.f0_pyin`` (blocked), on bundled speech at the DDSP frame rate.

Run: ``python benchmarks/bench_pyin.py [--seconds 10] [--threads 2] [--repeats 3]``. Prints median
times (interleaved runs), the ratio (> 1: audiokit faster) and seconds of compute per second of
audio; checks that both decoders give the same frames.
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

from audiokit.assets import real_speech_files, speech_files  # noqa: E402
from audiokit.frontend import f0_pyin  # noqa: E402
from audiokit.frontend.viterbi import exact_pyin_viterbi  # noqa: E402
from audiokit.io import load  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print_machine()
    clips = [
        load(f, sr=16000, mono=True)[0][0].double().numpy() for f in speech_files(16000) + real_speech_files()
    ]
    x = np.resize(np.concatenate(clips), int(args.seconds * 16000))
    rows = []
    for hop, fmax in ((64, 2200.0), (160, 1000.0)):
        kw = dict(fmin=50.0, fmax=fmax, sr=16000, frame_length=2048, hop_length=hop)

        def dense(kw=kw):
            return librosa.pyin(x, **kw)

        def banded(kw=kw):
            with exact_pyin_viterbi():
                return librosa.pyin(x, **kw)

        def blocked(hop=hop, fmax=fmax):
            return f0_pyin(x, 16000, hop, fmin=50.0, fmax=fmax)

        a, b = dense(), banded()
        same = all(np.array_equal(np.nan_to_num(u), np.nan_to_num(v)) for u, v in zip(a, b))
        t = interleaved_medians(
            {
                "dense": dense,
                "banded": banded,
                "f0_pyin": blocked,
            },
            repeats=args.repeats,
            warmup=1,
        )
        for name in ("dense", "banded", "f0_pyin"):
            rows.append(
                [
                    f"hop {hop}, fmax {fmax:g}",
                    name,
                    t[name],
                    t[name] / args.seconds,
                    t["dense"] / t[name],
                    "yes" if same or name == "dense" else "NO",
                ]
            )
    print_table(["setting", "decoder", "median s", "s per s of audio", "x dense", "same frames"], rows)


if __name__ == "__main__":
    main()
