"""``audiokit train CONFIG.yaml [key=value ...]``: run a training recipe (resumes when rerun).

Under several processes: ``torchrun --nproc_per_node=N -m audiokit train CONFIG.yaml ...``.
Exit codes: 0 training finished, 2 bad config/input, 130/143 stopped by SIGINT/SIGTERM after saving
a checkpoint (rerun the same command to resume).
"""

from __future__ import annotations

import argparse
import logging


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from a recipe YAML (key=value overrides; rerun to resume)",
        description="Train the task named in CONFIG.yaml. Overrides use dotted keys, e.g. "
        "train.max_steps=100 train.batch_size=8 data.train.path=DIR. Rerunning the same command resumes "
        "from the newest checkpoint in train.run_dir (default runs/<config name>). Options go before "
        "CONFIG.yaml or after the overrides.",
    )
    p.add_argument("config", metavar="CONFIG.yaml")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted config overrides")
    p.add_argument("--run-dir", default=None, help="output folder (same as train.run_dir=...)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as YAML and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    import yaml

    from audiokit.cli import CLIError
    from audiokit.cli._common import existing_file
    from audiokit.train import Trainer, load_run_config

    overrides = list(args.overrides)
    for o in overrides:
        if "=" not in o:
            raise CLIError(f"override {o!r} is not of the form key=value")
    if args.run_dir:
        overrides.append(f"train.run_dir={args.run_dir}")
    if args.no_progress:
        overrides.append("train.progress=false")
    run_cfg = load_run_config(existing_file(args.config), overrides)
    if args.print_config:
        sys.stdout.write(yaml.safe_dump(run_cfg.to_dict(), sort_keys=False))
        return 0
    from audiokit.batch import prepare_out_dir
    from audiokit.train.distributed import env_dist_info, resolve_device

    resolve_device(run_cfg.train.device, env_dist_info())  # a device this machine lacks: before any folder
    if run_cfg.train.run_dir:  # a file or an unwritable place: one line, before building anything
        prepare_out_dir(run_cfg.train.run_dir)
    if not args.quiet:
        logging.getLogger("audiokit").setLevel(
            min(logging.getLogger("audiokit").getEffectiveLevel(), logging.INFO)
        )
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm():
        result = Trainer.from_config(run_cfg).fit()
    if result.status == "interrupted":
        return 128 + int(result.signal or 15)
    return 0
