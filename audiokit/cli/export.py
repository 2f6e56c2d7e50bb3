"""``audiokit export CKPT OUT_DIR``: released weights (safetensors + config.json) from a checkpoint."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write model.safetensors + config.json from a training checkpoint",
        description="CKPT is a checkpoint file (step_*.pt) or a run directory (its newest checkpoint). "
        "The training task decides what is exported (usually the generator only).",
    )
    p.add_argument("checkpoint", metavar="CKPT")
    p.add_argument("out_dir", metavar="OUT_DIR")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from audiokit.batch import prepare_out_dir
    from audiokit.train import export_checkpoint

    prepare_out_dir(args.out_dir)  # a file or an unwritable place: one line, before loading anything
    for path in export_checkpoint(args.checkpoint, args.out_dir):
        print(path)
    return 0
