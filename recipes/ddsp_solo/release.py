"""Export a DDSP run's best checkpoint to ``pretrained/`` with its learning curve and speech figures.

    python recipes/ddsp_solo/release.py runs/ddsp_violin pretrained/ddsp_violin [--step N]

* picks the checkpoint with the lowest validation spectral loss in the run's ``log.jsonl`` (or
  ``--step``) and exports it (``model.safetensors``, ``config.json`` with the training data's pitch
  and loudness statistics, ``SHA256SUMS``);
* writes ``learning_curve.md`` and ``learning_curve.png`` from the run's validation log;
* renders the bundled speech clips through ``timbre_transfer(..., auto_adjust=True)`` and measures
  how the output's pitch follows the voice (pYIN on input and output, octaves folded, frames voiced
  in both): ``speech.json`` and ``speech.md``.

The resynthesis metrics come from ``scripts/eval_ddsp_model.py OUT_DIR DATA/val`` (``eval.md``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def validation_log(run_dir: Path) -> list[dict]:
    """The run's validation records, one per step (the last one logged for a step wins)."""
    rows: dict[int, dict] = {}
    for line in (run_dir / "log.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec.get("split") == "val" and "spectral_loss" in rec:
            rows[int(rec["step"])] = rec
    return [rows[k] for k in sorted(rows)]


def best_checkpoint(run_dir: Path, step: int | None) -> Path:
    ckpts = {int(p.stem.split("_")[-1]): p for p in (run_dir / "checkpoints").glob("step_*.pt")}
    if step is not None:
        if step not in ckpts:
            raise SystemExit(f"no checkpoint for step {step} in {run_dir}/checkpoints ({sorted(ckpts)})")
        return ckpts[step]
    scored = [r for r in validation_log(run_dir) if int(r["step"]) in ckpts]
    if not scored:
        raise SystemExit(f"{run_dir}: no checkpoint with a validation record")
    return ckpts[int(min(scored, key=lambda r: r["spectral_loss"])["step"])]


def learning_curve(run_dir: Path, out_dir: Path, title: str) -> None:
    from audiokit.plot import save_curves

    rows = validation_log(run_dir)
    steps = [int(r["step"]) for r in rows]
    lines = [
        "| step | validation spectral loss | validation loudness L1 (dB) |",
        "|---|---|---|",
        *(f"| {int(r['step'])} | {r['spectral_loss']:.3f} | {r['loudness_l1_db']:.2f} |" for r in rows),
    ]
    (out_dir / "learning_curve.md").write_text("\n".join(lines) + "\n")
    save_curves(
        out_dir / "learning_curve.png",
        steps,
        {
            "spectral loss": [r["spectral_loss"] for r in rows],
            "loudness L1 (dB)": [r["loudness_l1_db"] for r in rows],
        },
        "training step",
        "validation (2 s examples)",
        title=title,
    )


def speech_following(model, out_dir: Path | None = None) -> dict[str, dict[str, float]]:
    """Timbre transfer of every bundled 16 kHz speech clip; pitch following per clip."""
    from audiokit.assets import speech_files
    from audiokit.ddsp.evaluation import pitch_following
    from audiokit.ddsp.features import pyin_f0
    from audiokit.io import load, save

    cfg = model.config
    hop = cfg.hop_length
    res = {}
    for path in speech_files(16000):
        wav, sr = load(path, mono=True)
        x = wav[0].double().numpy()
        feats = model.features(x)
        _, _, info = model.adjust_controls(feats["f0_hz"], feats["loudness_db"], feats["f0_confidence"])
        y = model.timbre_transfer(wav[0], sr)
        f_in, v_in = pyin_f0(x, sr, hop, cfg.f0_min, cfg.f0_max)
        f_out, v_out = pyin_f0(y.double().numpy(), sr, hop, cfg.f0_min, cfg.f0_max)
        m = pitch_following(f_in, v_in, f_out, v_out)
        m["octave_shift"] = info["octave_shift"]
        m["input_median_f0_hz"] = float(np.median(f_in[v_in > 0.5]))
        res[path.name] = m
        if out_dir is not None:
            save(out_dir / f"{path.stem}.wav", (y * min(1.0, 0.9 / float(y.abs().max())))[None], sr)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--step", type=int, default=None, help="export this step instead of the best")
    args = ap.parse_args()
    from audiokit.ddsp.model import DDSPAutoencoder
    from audiokit.train import export_checkpoint

    ckpt = best_checkpoint(args.run_dir, args.step)
    print(f"exporting {ckpt}")
    export_checkpoint(ckpt, args.out_dir)
    learning_curve(args.run_dir, args.out_dir, args.out_dir.name)
    model = DDSPAutoencoder.from_pretrained(args.out_dir)
    res = speech_following(model)
    (args.out_dir / "speech.json").write_text(
        json.dumps({"checkpoint": ckpt.name, "clips": res}, indent=2) + "\n"
    )
    lines = [
        "| clip | input f0, median (Hz) | octave shift | error, median (cents) | within 50 cents | frames |",
        "|---|---|---|---|---|---|",
        *(
            f"| {k} | {v['input_median_f0_hz']:.0f} | {v['octave_shift']:+.0f} | {v['median_cents']:.1f} | "
            f"{v['within_50']:.1%} | {v['frames']:.0f} |"
            for k, v in res.items()
        ),
    ]
    (args.out_dir / "speech.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
