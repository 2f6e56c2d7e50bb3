"""Export a DDSP run's best checkpoint to ``pretrained/`` with its learning curve and speech figures.

    python recipes/ddsp_solo/release.py runs/ddsp_violin pretrained/ddsp_violin [--step N]

* picks the checkpoint with the lowest validation spectral loss in the run's ``log.jsonl`` (or
  ``--step``) and exports it (``model.safetensors``, ``config.json`` with the training data's pitch
  and loudness statistics, ``SHA256SUMS``);
* writes ``learning_curve.md`` and ``learning_curve.png`` from the run's validation log;
* renders the bundled speech clips through ``timbre_transfer(..., auto_adjust=True)`` and measures
  how the output's pitch follows the voice (pYIN on input and output, octaves folded, frames voiced
  in both): ``speech.json`` and ``speech.md``.

The resynthesis metrics come from ``scripts/eval_ddsp_model.py OUT_DIR DATA/val`` (``eval.md``,
``eval.json``); then ``--card`` writes ``MODEL_CARD.md`` from ``MODEL_CARD.template.md`` and those files
(without exporting again)::

    python scripts/eval_ddsp_model.py pretrained/ddsp_violin data/fluidr3/violin/val \\
        > pretrained/ddsp_violin/eval.md
    python recipes/ddsp_solo/release.py runs/ddsp_violin pretrained/ddsp_violin --card
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
    """Timbre transfer (auto-adjust) of every bundled 16 kHz speech clip; pitch following per clip.

    The same steps as ``model.timbre_transfer(wav, sr)`` (pYIN on the voice, ``adjust_controls``, the
    model with noise seed 0), with the voice's pYIN kept for the comparison; pYIN on the output
    searches from an octave below the instrument's 5th-percentile pitch."""
    import torch

    from audiokit.assets import speech_files
    from audiokit.ddsp.evaluation import pitch_following
    from audiokit.ddsp.features import pyin_f0
    from audiokit.io import load, save

    cfg = model.config
    fmin = max(cfg.f0_min, 440.0 * 2 ** ((cfg.data_stats.f0_low_midi - 12 - 69) / 12))
    res = {}
    for path in speech_files(16000):
        wav, sr = load(path, mono=True)
        feats = model.features(wav[0])
        f0, ld, info = model.adjust_controls(feats["f0_hz"], feats["loudness_db"], feats["f0_confidence"])
        model.processor_group.modules_by_name["filtered_noise"].generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            y = model(
                torch.tensor(f0, dtype=torch.float32)[None], torch.tensor(ld, dtype=torch.float32)[None]
            )
        y = y["audio"][0]
        f_out, v_out = pyin_f0(y.double().numpy(), sr, cfg.hop_length, fmin, cfg.f0_max)
        m = pitch_following(feats["f0_hz"], feats["f0_confidence"], f_out, v_out)
        m["octave_shift"] = info["octave_shift"]
        m["input_median_f0_hz"] = float(np.median(feats["f0_hz"][feats["f0_confidence"] > 0.5]))
        res[path.name] = m
        if out_dir is not None:
            save(out_dir / f"{path.stem}.wav", (y * min(1.0, 0.9 / float(y.abs().max())))[None], sr)
    return res


TARGETS = {"f0_l1_midi": 0.15, "loudness_l1_db": 1.5, "gap_closed": 0.85, "speech_cents": 50.0}


def _run_summary(run_dir: Path, step: int) -> str:
    events = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines()]
    starts = [e["time"] for e in events if e.get("event") == "start"]
    last = max(int(e["step"]) for e in events)
    at = [e["time"] for e in events if e.get("event") == "checkpoint" and int(e["step"]) == step]
    minutes = (at[-1] - starts[0]) / 60 if starts and at else float("nan")
    resumed = f", {len(starts)} sessions (resumed)" if len(starts) > 1 else ""
    return (
        f"{last} steps in total; step {step} reached after {minutes:.0f} minutes wall clock{resumed} "
        "(one single-threaded process, nice 10, on a 2-core CPU shared with other training and tests)"
    )


def write_card(run_dir: Path, out_dir: Path) -> Path:
    """MODEL_CARD.md from the template, eval.json, speech.json, the learning curve and the run log."""
    from audiokit.ddsp.model import DDSPAutoencoder

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from prepare_fluidr3 import INSTRUMENTS

    model = DDSPAutoencoder.from_pretrained(out_dir)
    cfg, st = model.config, model.config.data_stats
    ev = json.loads((out_dir / "eval.json").read_text())
    speech = json.loads((out_dir / "speech.json").read_text())["clips"]
    name = out_dir.name
    inst = INSTRUMENTS[name.removeprefix("ddsp_")]
    step = int(json.loads((out_dir / "speech.json").read_text())["checkpoint"].split("_")[-1].split(".")[0])
    eval_lines = [x for x in (out_dir / "eval.md").read_text().splitlines() if x.startswith("|")]
    ours = ev["results"][f"{name} (this model)"]
    floor = ev["results"][ev["floor"]]
    worst = max(v["median_cents"] for v in speech.values())

    def verdict(label: str, value: float, target: float, fmt: str, lower: bool = True) -> str:
        ok = value <= target if lower else value >= target
        sign = "<=" if lower else ">="
        return f"| {label} | {sign} {target:{fmt}} | {value:{fmt}} | {'met' if ok else 'not met'} |"

    targets = "\n".join(
        [
            "| target (issue 18) | wanted | measured | |",
            "|---|---|---|---|",
            verdict("f0 L1, held out (semitones)", ours["f0_l1_midi"], TARGETS["f0_l1_midi"], ".3f"),
            verdict(
                "loudness L1, held out, all frames (dB)",
                ours["loudness_l1_db"],
                TARGETS["loudness_l1_db"],
                ".2f",
            ),
            verdict("spectral-loss gap closed", ev["gap_closed"], TARGETS["gap_closed"], ".0%", lower=False),
            verdict(
                "speech: median octave-folded f0 error, worst clip (cents)",
                worst,
                TARGETS["speech_cents"],
                ".1f",
            ),
        ]
    )
    targets += (
        f"\n\nFor scale, the floor scores f0 L1 {floor['f0_l1_midi']:.3f} semitones and loudness L1 "
        f"{floor['loudness_l1_db']:.2f} dB ({floor['loudness_l1_db_voiced']:.2f} over note-on frames); "
        f"this model {ours['loudness_l1_db_voiced']:.2f} dB over note-on frames."
    )
    fields = dict(
        name=name,
        instrument=inst.name,
        program_1=inst.program + 1,
        low=inst.low,
        high=inst.high,
        notes="E5,G5,A5" if inst.name == "violin" else "C5,D5,E5",
        params=sum(p.numel() for p in model.parameters()),
        f0_mean=st.f0_mean_midi,
        f0_low=st.f0_low_midi,
        f0_high=st.f0_high_midi,
        ld_median=float(np.median(st.loudness_quantiles_db)),
        run=_run_summary(run_dir, step),
        step=step,
        steps=max(int(r["step"]) for r in validation_log(run_dir)),
        curve=(out_dir / "learning_curve.md").read_text().strip(),
        eval_table="\n".join(eval_lines),
        n_eval=ev["n_examples"],
        gap=ev["gap_closed"],
        f0_min=cfg.f0_min,
        f0_max=cfg.f0_max,
        out_fmin=max(cfg.f0_min, 440.0 * 2 ** ((st.f0_low_midi - 12 - 69) / 12)),
        targets=targets,
        speech=(out_dir / "speech.md").read_text().strip(),
    )
    template = (Path(__file__).resolve().parent / "MODEL_CARD.template.md").read_text()
    path = out_dir / "MODEL_CARD.md"
    path.write_text(template.format(**fields))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--step", type=int, default=None, help="export this step instead of the best")
    ap.add_argument("--card", action="store_true", help="only write MODEL_CARD.md (after the evaluation)")
    args = ap.parse_args()
    if args.card:
        print(f"wrote {write_card(args.run_dir, args.out_dir)}")
        return
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
