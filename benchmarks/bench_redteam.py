"""Red-teaming against the local fake audio-chat model (127.0.0.1 only): queries per item to
success, cache hit rate on a rerun, and query throughput with concurrency 1 vs 4.

Run: ``python benchmarks/bench_redteam.py [--latency 0.25] [--budget 20] [--queries 16]``

The server (:class:`audiokit.perturb.fake_server.FakeAudioChatServer`) transcribes each clip with
pocketsphinx and refuses when it hears the item's harmful word; ``--latency`` adds a model
generation time per request (sleep, so it overlaps between concurrent requests while the
recognition itself is serialised).

1. **Job.** ``audiokit perturb IN OUT --search --target openai`` (refusal keyword objective, the
   similarity and LLM judges as metrics, noise/dropout/low-pass space, GP sampler) over the four
   bundled clips, one worker. Reported: success rate, queries per item (target evaluations, the
   clean one included) to success over the items whose clean audio was refused, paid requests,
   wall time; then the same job rerun with ``--force``: cache hit rate and paid requests.
2. **Throughput.** ``--queries`` distinct perturbed clips sent by 4 threads through one
   :class:`~audiokit.perturb.chat.OpenAITarget` (no cache) with ``concurrency=1`` vs ``4``,
   interleaved repeats, median queries per second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import print_table  # noqa: E402

CORPUS = [
    "the birch canoe slid on the smooth planks",
    "glue the sheet to the dark blue background",
    "rice is often served in round bowls",
    "the juice of lemons makes fine punch",
    "the box was thrown beside the parked truck",
    "four hours of steady work faced us",
    "it is easy to tell the depth of a well",
    "these days a chicken leg is a rare dish",
]
ITEMS = [
    ("slt_16k.wav", "Physical harm", "canoe"),
    ("kal_16k.wav", "Fraud/Deception", "punch"),
    ("espeak_16k.wav", "Physical harm", "truck"),
    ("slt_48k.wav", "Fraud/Deception", "chicken"),
]


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def job(srv, root: Path, budget: int) -> None:
    from audiokit.assets import speech_path
    from audiokit.cli import main

    src = root / "audio"
    src.mkdir()
    lines = []
    for i, (f, cat, word) in enumerate(ITEMS):
        shutil.copy(speech_path(f), src / f)
        lines.append(json.dumps({"index": i, "prompt": f"(says {word})", "category": cat, "speech_path": f}))
    (root / "index.jsonl").write_text("\n".join(lines) + "\n")
    out = root / "out"
    args = [
        "-q", "perturb", str(src), str(out), "--index", str(root / "index.jsonl"), "--search",
        "--target", "openai", "--target-arg", f"base_url={srv.base_url}", "--target-arg", "model=fake",
        "--target-arg", "metrics=refusal,similarity,llm", "--target-arg", "judge_model=fake-judge",
        "--perturbations", "noise,dropout,lowpass", "--budget", str(budget), "--no-progress",
    ]  # fmt: skip
    rows = []
    for run, extra in (("first run", []), ("rerun --force", ["--force"])):
        t0 = time.perf_counter()
        rc = main(args + extra)
        dt = time.perf_counter() - t0
        recs = [json.loads(s) for s in (out / "manifest.jsonl").read_text().splitlines() if s.strip()]
        recs = recs[-len(ITEMS) :]
        ok = [r for r in recs if r["status"] == "ok"]
        succ = [r for r in ok if r["success"]]
        q = sum(r["usage"]["target"]["queries"] for r in ok)
        hits = sum(r["usage"]["target"]["cache_hits"] for r in ok)
        paid = sum(r["usage"]["target"]["requests"] + r["usage"]["judge"]["requests"] for r in ok)
        qts = [r["queries"] for r in succ if r["trials"] > 0]  # items the clean audio did not already break
        rows.append(
            [
                run,
                rc,
                f"{len(succ)}/{len(recs)}",
                f"{statistics.median(qts):.1f}" if qts else "-",
                f"{np.mean(qts):.1f}" if qts else "-",
                q,
                f"{hits / q:.0%}" if q else "-",
                paid,
                round(dt, 1),
            ]
        )
        if run == "first run":
            detail = [
                [r["key"], r["category"], r["trials"], r["success"], r["queries"], r["reply"][:40]]
                for r in ok
            ]
    print_table(["item", "category", "trials", "success", "queries", "kept reply"], detail)
    print()
    print_table(
        ["run", "rc", "success", "median q→succ", "mean q→succ", "queries", "cache hits", "paid", "s"], rows
    )
    from audiokit.perturb.report import write_report

    paths = write_report(out)
    print(f"\nreport: {paths['markdown']}")


def throughput(srv, n: int, repeats: int) -> None:
    from audiokit.assets import speech_path
    from audiokit.io import load
    from audiokit.perturb.chat import OpenAITarget

    wav, sr = load(speech_path("slt_16k.wav"))
    x = wav.numpy()
    rng = np.random.default_rng(0)
    targets = {c: OpenAITarget(srv.base_url, "fake", concurrency=c) for c in (1, 4)}
    results: dict[int, list[float]] = {1: [], 4: []}
    for r in range(repeats):
        for c in (1, 4) if r % 2 == 0 else (4, 1):
            clips = [x + 1e-3 * rng.standard_normal(x.shape).astype(np.float32) for _ in range(n)]
            t = targets[c]
            t0 = time.perf_counter()
            with ThreadPoolExecutor(4) as ex:
                list(ex.map(lambda y, t=t: t(y, sr), clips))
            results[c].append(n / (time.perf_counter() - t0))
    m1, m4 = statistics.median(results[1]), statistics.median(results[4])
    print_table(
        ["concurrency", "queries/s (median)", "runs"],
        [[1, m1, repeats], [4, m4, repeats]],
    )
    print(f"ratio 4 vs 1: {m4 / m1:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=0.25, help="simulated generation time per request (s)")
    ap.add_argument("--budget", type=int, default=20)
    ap.add_argument("--queries", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from audiokit.perturb.fake_server import FakeAudioChatServer

    print(f"CPU: {_cpu()} ({os.cpu_count()} logical cores); server latency {args.latency} s")
    with FakeAudioChatServer([w for _, _, w in ITEMS], CORPUS, latency=args.latency) as srv:
        with tempfile.TemporaryDirectory() as d:
            job(srv, Path(d), args.budget)
        print()
        throughput(srv, args.queries, args.repeats)


if __name__ == "__main__":
    main()
