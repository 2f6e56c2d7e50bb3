"""``audiokit eval REF_DIR DEG_DIR``: objective metrics for pairs of files matched by relative path."""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from audiokit.cli._common import add_batch_arguments, existing_dir, nonneg_float, positive_float, positive_int

DEFAULT_METRICS = "pesq,stoi,lsd"
#: Pairs longer than this (PESQ's limit, :data:`audiokit.metrics.PESQ_MAX_SECONDS`) are scored in
#: ``--segment-seconds`` segments, read one at a time.
SEGMENT_ABOVE_SECONDS = 120.0
DEFAULT_SEGMENT_SECONDS = 30.0
#: Samples read per block while a long pair is segmented.
READ_BLOCK_SECONDS = 10.0


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
    p.add_argument(
        "--segment-seconds",
        type=nonneg_float,
        default=DEFAULT_SEGMENT_SECONDS,
        metavar="S",
        help=f"pairs longer than {SEGMENT_ABOVE_SECONDS:g} s are read and scored in segments of S s "
        f"(default {DEFAULT_SEGMENT_SECONDS:g}; a last piece under S/2 joins the one before), each metric "
        "the length-weighted mean over segments: memory bounded by the segment, and PESQ defined; "
        "0: always whole files",
    )
    add_batch_arguments(p)
    p.set_defaults(func=run)


def _eval_pair(job: dict) -> dict:
    """Worker: load a pair and compute the metrics (top level so it pickles); long pairs are read
    and scored segment by segment (:func:`audiokit.metrics.compute_segmented`)."""
    from audiokit import metrics
    from audiokit.io import info, load

    meta_ref, meta_deg = info(job["ref"]), info(job["deg"])
    sr = job["sr"] or meta_ref.sample_rate
    seg = job.get("segment_seconds", 0.0)
    if seg > 0 and min(meta_ref.duration, meta_deg.duration) > SEGMENT_ABOVE_SECONDS:
        n = max(1, round(seg * sr))
        pairs = _merge_short_tail(zip(_segments(job["ref"], sr, n), _segments(job["deg"], sr, n)), n)
        values, count = metrics.compute_segmented(job["metrics"], pairs, sr, cutoff_hz=job["cutoff_hz"])
        return {**values, "segments": count}
    ref, sr = load(job["ref"], sr=sr, mono=True)
    deg, _ = load(job["deg"], sr=sr, mono=True)
    return {**metrics.compute(job["metrics"], ref[0], deg[0], sr, cutoff_hz=job["cutoff_hz"]), "segments": 1}


def _segments(path: str, sr: int, n: int) -> Iterator[np.ndarray]:
    """The mono samples of ``path`` at ``sr`` (soxr's streaming resampler) in pieces of ``n``
    samples (the last shorter), read block by block."""
    from audiokit.io import info, iter_blocks, resample_blocks

    file_sr = info(path).sample_rate
    blocks = (b.mean(0, keepdim=True) for b in iter_blocks(path, int(READ_BLOCK_SECONDS * file_sr)))
    buf: list[np.ndarray] = []
    have = 0
    for b in resample_blocks(blocks, file_sr, sr):
        buf.append(b[0].double().numpy())
        have += buf[-1].size
        while have >= n:
            x = np.concatenate(buf)
            yield x[:n]
            buf, have = [x[n:]], have - n
    if have:
        yield np.concatenate(buf)


def _merge_short_tail(
    pairs: Iterator[tuple[np.ndarray, np.ndarray]], n: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Pass ``(ref, deg)`` segments through, joining a last one shorter than ``n / 2`` to the one
    before (a metric on a sliver is noise, or undefined)."""
    prev = next(pairs, None)
    for cur in pairs:
        if min(cur[0].size, cur[1].size) < n / 2:
            prev = (np.concatenate([prev[0], cur[0]]), np.concatenate([prev[1], cur[1]]))
            continue
        yield prev
        prev = cur
    if prev is not None:
        yield prev


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
    if 0 < args.segment_seconds < 1:
        raise CLIError(f"--segment-seconds {args.segment_seconds:g}: use 0 (whole files) or at least 1 s")
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
                "segment_seconds": args.segment_seconds,
            }
        )
    for job, ok, res, _ in map_parallel(_eval_pair, jobs, args.workers, not args.no_progress, "eval"):
        row = {"file": job["key"], "status": "ok" if ok else "error", "error": "" if ok else res}
        if ok:
            row.update({k: f"{v:.6g}" for k, v in res.items() if k != "segments"})
            row["segments"] = res["segments"]
        rows[job["key"]] = row

    ordered = [rows[str(r)] for r in refs]
    with atomic_write(out) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", *names, "segments", "status", "error"], restval="")
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
