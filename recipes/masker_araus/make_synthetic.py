"""Write a synthetic dataset in the ARAUS layout, to dry-run the ARAUS recipe without ARAUS.

    python recipes/masker_araus/make_synthetic.py OUT_DIR [--seconds 10] [--soundscapes 6] ...

The responses follow the known oracle of :mod:`audiokit.soundscape.synthetic`, so a cross-validation
run on it must beat the label-mean baseline by a wide margin (see README.md for our figures).
"""

from __future__ import annotations

import argparse

from audiokit.soundscape.synthetic_araus import SyntheticARAUSConfig, make_synthetic_araus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--soundscapes", type=int, default=8, help="per fold")
    ap.add_argument("--maskers", type=int, default=10, help="per fold (plus one silence masker)")
    ap.add_argument("--participants", type=int, default=12, help="per fold")
    ap.add_argument("--stimuli", type=int, default=24, help="rated stimuli per participant")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cfg = SyntheticARAUSConfig(
        soundscapes_per_fold=args.soundscapes,
        maskers_per_fold=args.maskers,
        participants_per_fold=args.participants,
        stimuli_per_participant=args.stimuli,
        seconds=args.seconds,
        seed=args.seed,
    )
    root = make_synthetic_araus(args.out_dir, cfg)
    print(f"wrote a synthetic ARAUS folder to {root}")


if __name__ == "__main__":
    main()
