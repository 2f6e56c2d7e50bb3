"""``audiokit models``: every available pretrained model with its task, rate, size and headline metrics."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list the available pretrained models (bundled and $AUDIOKIT_PRETRAINED)",
        description="List every pretrained model folder that audiokit can load by name, with its task, "
        "sample rate, size and headline metrics (from its config.json, metrics.json or eval.json) "
        "with the data they were measured on: the models' test sets differ.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per model")
    p.add_argument("--metrics", type=int, default=3, metavar="K", help="metrics shown per model (default 3)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from audiokit.catalog import available_models

    models = available_models()
    if args.json:
        for m in models:
            print(json.dumps(m.to_dict()))
        return 0
    if not models:
        print("no pretrained models found (set AUDIOKIT_PRETRAINED to a folder of model folders)")
        return 0
    print(
        f"{'name':24s} {'task':24s} {'rate':18s} {'params':>8s} {'MB':>7s}  headline metrics [evaluated on]"
    )
    for m in models:
        shown = ", ".join(f"{k} {v:.3g}" for k, v in list(m.metrics.items())[: max(args.metrics, 0)])
        on = f"  [{m.evaluated_on}]" if m.evaluated_on and shown else ""
        print(
            f"{m.name:24s} {m.task:24s} {m.rate:18s} {m.parameters / 1e6:7.2f}M {m.megabytes:7.2f}  "
            f"{shown or '-'}{on}"
        )
    return 0
