"""Pick the best checkpoint of a masker run, export it, and evaluate it on the held-out split.

    python recipes/masker_tiny/release.py RUN_DIR OUT_DIR

Selects the checkpoint with the lowest validation MSE (every checkpoint of RUN_DIR is evaluated),
exports it with ``audiokit export`` semantics (``model.safetensors``, ``config.json``, ``SHA256SUMS``)
into OUT_DIR, evaluates it on the test split (MSE of the mean vs the label-mean baseline, NLL, the
Spearman correlation of the predicted std with the true label-noise std) and, for synthetic data,
checks masker and gain selection against the oracle. Writes OUT_DIR/eval.json and prints it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scipy.stats import spearmanr

from audiokit.soundscape import MaskerGainPredictor
from audiokit.soundscape.training import evaluate, predict, select_checkpoint, selection_check
from audiokit.train import export_checkpoint, load_task_from_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("out_dir")
    args = ap.parse_args()
    best, val_metrics, scores = select_checkpoint(args.run_dir)
    print("validation MSE per checkpoint:")
    for c, mse in scores:
        print(f"  {c.name}: {mse:.4f}{'  <- best' if c == best else ''}")
    export_checkpoint(best, args.out_dir)
    model = MaskerGainPredictor.from_pretrained(args.out_dir)
    task, state = load_task_from_checkpoint(best)
    data = task.datasets()
    train_mean = float(data["train"].label.mean())
    report = {
        "eval_set": f"test fold of the {task.config.data.source} ARAUS-format data "
        "(scenes and maskers unseen in training)",
        "checkpoint": best.name,
        "step": int(state["step"]),
        "val": val_metrics,
    }
    if "test" in data:
        report["test"] = evaluate(model, data["test"], train_label_mean=train_mean)
    if task.config.data.source == "synthetic":
        split = task.synthetic_split("test")
        _, log_std = predict(model, split.pairs)
        report["test"]["std_vs_true_noise_std_spearman"] = float(
            spearmanr(log_std.exp().numpy(), split.noise_std.numpy()).statistic
        )
        report["test"]["oracle_mse"] = float(((split.oracle - split.pairs.label) ** 2).mean())
        report["selection"] = selection_check(model, split)
    out = Path(args.out_dir) / "eval.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
