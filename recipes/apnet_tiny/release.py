"""Export a trained tiny APNet run to ``pretrained/`` and write its model card with measured metrics.

    python recipes/apnet_tiny/release.py runs/apnet_tiny pretrained/apnet_tiny [--data data/apnet_tiny]

Exports the newest checkpoint of the run (``model.safetensors`` + ``config.json``), then scores
analysis-resynthesis on the held-out test sentences and on the bundled speech clips: the model and
Griffin-Lim (32 iterations, the same log-mel inverted through the model's filterbank) against the
original audio (PESQ wide band, STOI, MCD, LSD, SNR), and writes ``MODEL_CARD.md`` and
``metrics.json`` next to the weights.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--data", default="data/apnet_tiny")
    ap.add_argument("--gl-iters", type=int, default=32)
    args = ap.parse_args()

    from audiokit.assets import speech_files
    from audiokit.io import load
    from audiokit.train import export_checkpoint, read_log
    from audiokit.train.checkpoint import latest_checkpoint
    from audiokit.vocoders import SpectralVocoder
    from audiokit.vocoders.evaluation import evaluate_resynthesis

    run = Path(args.run_dir)
    ckpt = latest_checkpoint(run / "checkpoints")
    if ckpt is None:
        print(f"error: no checkpoint in {run}/checkpoints", file=sys.stderr)
        return 2
    out = Path(args.out_dir)
    export_checkpoint(ckpt, out)
    (out / "SHA256SUMS").unlink(missing_ok=True)  # the model card lists what matters
    model = SpectralVocoder.from_pretrained(out)
    meta = json.loads((out / "config.json").read_text())
    step = meta.get("training", {}).get("step")

    torch.set_num_threads(1)
    sets = {}
    test_files = sorted((Path(args.data) / "test").glob("*.wav"))
    sets["held-out test sentences"] = [
        (p.stem, load(p, sr=model.sample_rate, mono=True)[0][0]) for p in test_files
    ]
    sets["bundled clips (audiokit/assets/speech)"] = [
        (p.stem, load(p, sr=model.sample_rate, mono=True)[0][0]) for p in speech_files(16000)
    ]
    results = {}
    for name, clips in sets.items():
        if not clips:
            continue
        s = evaluate_resynthesis(model, clips, gl_iters=args.gl_iters)
        results[name] = {
            "n": len(clips),
            "apnet": s.mean("vocoder"),
            "griffin_lim": s.mean("griffin_lim"),
            "rtf": s.rtf,
        }
        print(name, json.dumps(results[name], indent=1))
    (out / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")

    train_minutes, n_train = float("nan"), 0
    tsv = Path(args.data) / "sentences.tsv"
    if tsv.exists():
        rows_tsv = [
            line.split("\t") for line in tsv.read_text().splitlines()[1:] if line.startswith("train/")
        ]
        n_train, train_minutes = len(rows_tsv), sum(float(r[2]) for r in rows_tsv) / 60
    logs = read_log(run, "train")
    elapsed = (logs[-1]["time"] - read_log(run, "event")[0]["time"]) / 60 if logs else float("nan")
    cfg = model.config
    n_params = sum(p.numel() for p in model.parameters())
    rows = []
    for name, r in results.items():
        for label, m in (
            (f"{name} ({r['n']})", r["apnet"]),
            (f"Griffin-Lim ({args.gl_iters} it.)", r["griffin_lim"]),
        ):
            vocoder = "APNet tiny" if m is r["apnet"] else label
            clips = label if m is r["apnet"] else ""
            values = f"{m['pesq']:.3f} | {m['stoi']:.3f} | {m['mcd']:.2f} | {m['lsd']:.3f} | {m['snr']:.2f}"
            rows.append(f"| {clips} | {vocoder} | {values} |")
    verdict = []
    higher_better = {"pesq": True, "stoi": True, "mcd": False, "lsd": False, "snr": True}
    for name, r in results.items():
        better, worse = [], []
        for m, hb in higher_better.items():
            d = r["apnet"][m] - r["griffin_lim"][m]
            (better if (d > 0) == hb else worse).append(f"{m.upper()} {d:+.3g}")
        verdict.append(
            f"* {name}: better than Griffin-Lim in {', '.join(better) or 'nothing'}; "
            f"worse in {', '.join(worse) or 'nothing'} (APNet tiny minus Griffin-Lim)."
        )
    template = (Path(__file__).parent / "MODEL_CARD.template.md").read_text()
    card = template.format(
        gl_iters=args.gl_iters,
        step=step,
        minutes=elapsed,
        n_train=n_train,
        train_minutes=train_minutes,
        params=n_params,
        channels=cfg.channels,
        rows="\n".join(rows),
        verdict="\n".join(verdict),
        rtf=next(iter(results.values()))["rtf"] if results else float("nan"),
    )
    (out / "MODEL_CARD.md").write_text(card)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
