"""``audiokit info FILE...``: sample rate, channels, duration, peak and RMS of audio files."""

from __future__ import annotations

import argparse
import math


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="print rate, channels, duration, peak and RMS of audio files",
        description="One line per file on stdout; unreadable files are reported on stderr. Exit code 0: "
        "all read, 1: some could not be read, 2: none could.",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=run)


def _dbfs(x: float) -> str:
    return "-inf" if x <= 0 else f"{20 * math.log10(x):.2f}"


def run(args: argparse.Namespace) -> int:
    import sys

    from audiokit.batch import printable
    from audiokit.io import load

    failed = 0
    print(
        f"{'file':40s} {'rate':>7s} {'ch':>3s} {'seconds':>9s} {'peak_dBFS':>10s} {'rms_dBFS':>9s}  subtype"
    )
    for path in args.files:
        from audiokit.io import info

        try:
            meta = info(path)
            wav, sr = load(path)
        except (ValueError, FileNotFoundError) as e:
            print(f"audiokit info: error: {printable(str(e))}", file=sys.stderr)
            failed += 1
            continue
        peak = float(wav.abs().max())
        rms = float(wav.square().mean().sqrt())
        print(
            f"{printable(path):40s} {sr:7d} {wav.shape[0]:3d} {wav.shape[1] / sr:9.3f} "
            f"{_dbfs(peak):>10s} {_dbfs(rms):>9s}"
            f"  {meta.subtype}"
        )
    if failed == len(args.files):
        return 2
    return 1 if failed else 0
