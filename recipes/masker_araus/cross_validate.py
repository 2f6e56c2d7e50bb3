"""Five-fold cross-validation of the masker/gain predictor on ARAUS, reported per fold.

    python recipes/masker_araus/cross_validate.py ARAUS_ROOT [--folds 1 2 3 4 5] [--nproc 1]
        [--run-dir runs/masker_araus] [key=value ...]

For each validation fold k: ``audiokit train recipes/masker_araus/config.yaml data.araus.root=ROOT
data.araus.val_fold=k train.run_dir=RUN_DIR/fold_k [key=value ...]`` (under ``torchrun`` with
``--nproc`` > 1; rerunning resumes), then the checkpoint with the lowest validation MSE is kept (the
early stopping of the ARAUS baselines, after the fact) and evaluated on the validation fold and on
the test fold (fold 0; labels averaged over its participants). Prints and writes
``RUN_DIR/cv_results.json`` with, per fold: validation/test MSE of the predicted mean, NLL, and the
label-mean baseline (the training folds' mean label), then mean +- std over folds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from audiokit.soundscape.training import evaluate, select_checkpoint
from audiokit.train import load_task_from_checkpoint

CONFIG = Path(__file__).resolve().parent / "config.yaml"


def _train(root: str, fold: int, run_dir: Path, nproc: int, overrides: list[str]) -> None:
    args = [
        "train",
        str(CONFIG),
        f"data.araus.root={root}",
        f"data.araus.val_fold={fold}",
        f"train.run_dir={run_dir}",
        *overrides,
        "--no-progress",
    ]
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
        cmd += ["-m", "audiokit", *args]
    else:
        cmd = [sys.executable, "-m", "audiokit", *args]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments; ``key=value`` overrides may come before or after the options."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", help="ARAUS folder (data/, soundscapes/, maskers/)")
    ap.add_argument("overrides", nargs="*", help="extra key=value config overrides")
    ap.add_argument("--folds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--run-dir", default="runs/masker_araus")
    ap.add_argument("--nproc", type=int, default=1, help="processes per training run (torchrun)")
    ap.add_argument("--skip-training", action="store_true", help="only select and evaluate existing runs")
    return ap.parse_intermixed_args(argv)


def main() -> None:
    args = parse_args()
    run_root = Path(args.run_dir)
    results = {}
    for fold in args.folds:
        run_dir = run_root / f"fold_{fold}"
        if not args.skip_training:
            _train(args.root, fold, run_dir, args.nproc, args.overrides)
        best, val, _ = select_checkpoint(run_dir)
        task, state = load_task_from_checkpoint(best)
        data = task.datasets()
        train_mean = float(data["train"].label.mean())
        row = {"checkpoint": best.name, "step": int(state["step"]), "n_train": len(data["train"]), "val": val}
        if "test" in data:
            row["test"] = evaluate(task.model("predictor"), data["test"], train_label_mean=train_mean)
        results[fold] = row
    lines = [
        "fold | val MSE | val label-mean | test MSE | test label-mean | n train/val/test",
        "---|---|---|---|---|---",
    ]
    for fold, r in results.items():
        nan = float("nan")
        t = r.get("test", {})
        cells = [
            str(fold),
            f"{r['val']['mse']:.4f}",
            f"{r['val']['label_mean_mse']:.4f}",
            f"{t.get('mse', nan):.4f}",
            f"{t.get('label_mean_mse', nan):.4f}",
            f"{r['n_train']}/{int(r['val']['n'])}/{int(t.get('n', 0))}",
        ]
        lines.append(" | ".join(cells))
    summary = {}
    for split in ("val", "test"):
        for key in ("mse", "label_mean_mse", "nll"):
            vals = [r[split][key] for r in results.values() if split in r]
            if vals:
                sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
                summary[f"{split}_{key}"] = {"mean": statistics.mean(vals), "std": sd}
    for k, v in summary.items():
        lines.append(f"{k}: {v['mean']:.4f} +- {v['std']:.4f}")
    print("\n".join(lines))
    run_root.mkdir(parents=True, exist_ok=True)
    (run_root / "cv_results.json").write_text(
        json.dumps({"folds": results, "summary": summary}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
