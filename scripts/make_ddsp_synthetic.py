"""Write the synthetic-instrument data set used by recipes/ddsp_solo/tiny.yaml.

    python scripts/make_ddsp_synthetic.py data/ddsp_synthetic [--train 400] [--val 16] [--seconds 4]

Creates OUT/train and OUT/val: NNNNN.wav (16 kHz, 16-bit) with NNNNN.npz ground truth (f0_hz,
loudness_db, f0_confidence) and instrument.json. Deterministic (train seed 0, val seed 1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiokit.ddsp.synthetic import write_dataset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--train", type=int, default=400, help="training phrases (default 400)")
    ap.add_argument("--val", type=int, default=16, help="validation phrases (default 16)")
    ap.add_argument("--seconds", type=float, default=4.0, help="phrase length (default 4)")
    args = ap.parse_args()
    write_dataset(args.out / "train", args.train, args.seconds, seed=0)
    write_dataset(args.out / "val", args.val, args.seconds, seed=1)
    print(f"wrote {args.train} + {args.val} phrases to {args.out}")


if __name__ == "__main__":
    main()
