"""``audiokit demo OUT_DIR``: every subsystem run on the bundled example audio."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the main job on the bundled example audio",
        description="Runs each audiokit subsystem on the bundled speech clips and writes wavs, "
        "spectrogram PNGs and OUT_DIR/summary.md.",
    )
    p.add_argument("out_dir", metavar="OUT_DIR")
    p.add_argument("--only", default=None, help="comma-separated step names (e.g. frontend,vocoder)")
    p.add_argument("--fast", action="store_true", help="fewer iterations/trials, for smoke tests")
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="inference precision of the vocoder and BWE steps; auto (default): bf16 where the CPU has "
        "native bf16 (AMX or AVX512_BF16), else fp32",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from audiokit.batch import prepare_out_dir
    from audiokit.cli import CLIError
    from audiokit.demo import discover_steps, run_demo

    only = [s.strip() for s in args.only.split(",")] if args.only else None
    if only:
        names = {m.__name__.rsplit(".", 1)[-1] for m in discover_steps()}
        bad = [s for s in only if s not in names]
        if bad:
            raise CLIError(f"unknown demo step(s) {', '.join(bad)}; available: {', '.join(sorted(names))}")
    prepare_out_dir(args.out_dir)
    summary, failed = run_demo(args.out_dir, only, args.fast, args.precision)
    print(f"wrote {summary}")
    if failed:
        print(f"failed steps: {', '.join(failed)}")
        return 1
    return 0
