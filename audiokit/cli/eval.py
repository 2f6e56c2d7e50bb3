"""``audiokit eval REF_DIR DEG_DIR``: objective metrics for pairs of files matched by relative path."""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

from audiokit.cli._common import add_batch_arguments, existing_dir, positive_float, positive_int

DEFAULT_METRICS = "pesq,stoi,lsd"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="compare degraded/generated files with references (PESQ, STOI, LSD, SNR, MCD, ...)",
        description="Pairs every audio file under REF_DIR with the file of the same relative path under "
        "DEG_DIR (the extension may differ), computes the metrics, writes a per-file CSV and a summary.",
    )
    p.add_argument("ref_dir", metavar="REF_DIR")
    p.add_argument("deg_dir", metavar="DEG_DIR")
    p.add_argument(
        "--metrics",
        default=DEFAULT_METRICS,
        help="comma-separated: pesq, stoi, estoi, lsd, lsd_hf, lsd_lf, snr, si_sdr, mcd, f0_rmse, vuv_error "
        f"(default {DEFAULT_METRICS})",
    )
    p.add_argument(
        "--out",
        default="results.csv",
        help="per-file CSV (default results.csv); the summary goes to <out>_summary.csv",
    )
    p.add_argument(
        "--cutoff-hz",
        type=positive_float,
        default=None,
        help="narrowband cutoff for lsd_hf / lsd_lf (LSD over the bins above / below it), e.g. 4000 for "
        "an 8 kHz -> 16 kHz bandwidth extension",
    )
    p.add_argument("--sr", type=positive_int, default=None, help="resample both signals to this rate first")
    add_batch_arguments(p)
    p.set_defaults(func=run)


def _eval_pair(job: dict) -> dict:
    """Worker: load a pair and compute the metrics (top level so it pickles)."""
    from audiokit import metrics
    from audiokit.io import load

    ref, sr = load(job["ref"], sr=job["sr"], mono=True)
    deg, _ = load(job["deg"], sr=sr, mono=True)
    return metrics.compute(job["metrics"], ref[0], deg[0], sr, cutoff_hz=job["cutoff_hz"])


def _find_match(deg_dir: Path, rel: Path) -> Path | None:
    exact = deg_dir / rel
    if exact.exists():
        return exact
    cands = sorted((deg_dir / rel.parent).glob(rel.stem + ".*")) if (deg_dir / rel.parent).is_dir() else []
    from audiokit.io import AUDIO_EXTENSIONS

    cands = [c for c in cands if c.suffix.lower() in AUDIO_EXTENSIONS and c.stem == rel.stem]
    return cands[0] if cands else None


def run(args: argparse.Namespace) -> int:
    from audiokit import metrics as M
    from audiokit.batch import find_audio, map_parallel, parse_shard, prepare_out_file, printable, shard
    from audiokit.cli import CLIError
    from audiokit.io import atomic_write

    ref_dir, deg_dir = existing_dir(args.ref_dir), existing_dir(args.deg_dir)
    names = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if not names:
        raise CLIError(
            f"--metrics {args.metrics!r}: name at least one metric ({', '.join(sorted(M.METRICS))})"
        )
    unknown = [m for m in names if m not in M.METRICS]
    if unknown:
        raise CLIError(f"unknown metric(s) {', '.join(unknown)}; available: {', '.join(sorted(M.METRICS))}")
    for band_metric in ("lsd_hf", "lsd_lf"):
        if band_metric in names and args.cutoff_hz is None:
            raise CLIError(f"{band_metric} needs --cutoff-hz (the narrowband cutoff in Hz)")
    out = prepare_out_file(args.out)  # before any work: a folder or an unwritable place fails now
    refs = find_audio(ref_dir)
    if not refs:
        raise CLIError(f"{ref_dir}: no audio files found")
    i, n = parse_shard(args.shard)
    refs = shard(refs, i, n)

    rows: dict[str, dict] = {}
    jobs = []
    for rel in refs:
        deg = _find_match(deg_dir, rel)
        if deg is None:
            rows[str(rel)] = {
                "file": str(rel),
                "status": "missing",
                "error": f"no file for {rel} in {deg_dir}",
            }
            continue
        jobs.append(
            {
                "key": str(rel),
                "ref": str(ref_dir / rel),
                "deg": str(deg),
                "metrics": names,
                "sr": args.sr,
                "cutoff_hz": args.cutoff_hz,
            }
        )
    for job, ok, res, _ in map_parallel(_eval_pair, jobs, args.workers, not args.no_progress, "eval"):
        row = {"file": job["key"], "status": "ok" if ok else "error", "error": "" if ok else res}
        if ok:
            row.update({k: f"{v:.6g}" for k, v in res.items()})
        rows[job["key"]] = row

    ordered = [rows[str(r)] for r in refs]
    with atomic_write(out) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", *names, "status", "error"], restval="")
        w.writeheader()
        w.writerows(ordered)

    summary = []
    for m in names:
        vals = [float(r[m]) for r in ordered if r["status"] == "ok" and not math.isnan(float(r[m]))]
        mean = sum(vals) / len(vals) if vals else math.nan
        std = math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals)) if vals else math.nan
        summary.append({"metric": m, "mean": f"{mean:.6g}", "std": f"{std:.6g}", "n": len(vals)})
    n_bad = sum(r["status"] != "ok" for r in ordered)
    summary_path = out.with_name(out.stem + "_summary.csv")
    with atomic_write(summary_path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["metric", "mean", "std", "n", "failed"])
        w.writeheader()
        w.writerows([{**s, "failed": n_bad} for s in summary])

    print(f"{len(ordered)} pairs, {len(ordered) - n_bad} scored, {n_bad} failed or missing")
    for s in summary:
        print(f"  {s['metric']:10s} mean {s['mean']:>10s}  std {s['std']:>10s}  (n={s['n']})")
    for r in ordered:
        if r["status"] != "ok":
            print(f"  {r['status']}: {printable(r['file'])}: {printable(r['error'])}", file=sys.stderr)
    print(f"wrote {out} and {summary_path}")
    return 1 if n_bad else 0
