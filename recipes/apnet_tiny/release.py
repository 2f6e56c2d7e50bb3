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
import yaml


def _phase_or_amplitude(model, clips) -> dict[str, dict[str, float]]:
    """Which half limits the model: its log-amplitude with the true phase, and the true amplitude
    with its phase, each through the model's ISTFT (means of PESQ/STOI/MCD over ``clips``)."""
    from audiokit.frontend import amplitude_phase, spectrum_from_amplitude_phase
    from audiokit.vocoders.evaluation import score_resynthesis

    keys = ("own amplitude + true phase", "true amplitude + own phase")
    rows: dict[str, list[dict[str, float]]] = {k: [] for k in keys}
    with torch.inference_mode():
        for _, wav in clips:
            x = wav.reshape(1, -1)
            out = model(model.mel(x))
            spec = model.stft(x)[..., : out.phase.shape[-1]]
            true_la, true_ph = amplitude_phase(spec, 1e-5)  # APNet's training targets
            n = out.audio.shape[-1]
            for key, (la, ph) in (
                ("own amplitude + true phase", (out.log_amplitude, true_ph)),
                ("true amplitude + own phase", (true_la, out.phase)),
            ):
                y = model.stft.inverse(spectrum_from_amplitude_phase(la, ph), length=n)[0]
                rows[key].append(score_resynthesis(x[0], y, model.sample_rate, ("pesq", "stoi", "mcd")))
    return {k: {m: sum(r[m] for r in v) / len(v) for m in ("pesq", "stoi", "mcd")} for k, v in rows.items()}


def _training_summary(cfg: dict, step: int | None, minutes: float) -> str:
    """One table cell that says how the run in ``cfg`` (the run's resolved config.yaml) trained."""
    train, loss, data = cfg["train"], cfg["loss"], cfg["data"]
    crop = data["segment_length"] / data["sample_rate"]
    terms = f"{loss['amplitude']:g} L_A + {loss['phase']:g} L_P + {loss['consistency']:g} L_S"
    terms += f" + {loss['mel']:g} L_Mel"
    if loss.get("phase_weighting", "none") == "amplitude":
        terms += ", phase terms weighted by the target amplitude"
    discs = cfg.get("discriminators") or {}
    if discs:
        adv = f"{loss['adversarial']} + feature matching against {' + '.join(d.upper() for d in discs)}"
    else:
        adv = "no discriminator (spectral losses only)"
    opt, decay = train["optimizer"], train.get("lr_decay") or {}
    sched = f"AdamW lr {opt['lr']:g}"
    if decay.get("interval") == "step" and decay.get("every"):
        sched += f" x{decay['gamma']:g} every {decay['every']} steps"
    elif decay:
        sched += f" x{decay['gamma']:g} per epoch"
    return (
        f"{step} steps, batch {train['batch_size']} of {crop:g} s crops, APNet losses ({terms}), {adv}, "
        f"{sched}; {minutes:.0f} minutes wall clock on the shared 2-core CPU"
    )


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
    results: dict = {
        "eval_set": f"{len(test_files)} held-out synthetic sentences (espeak-ng/festival voices of the "
        "training set, unseen text)"
    }
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
    split_set = next(name for name, clips in sets.items() if clips)
    split = _phase_or_amplitude(model, sets[split_set])
    results[f"phase or amplitude ({split_set})"] = split
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
    scored = {k: v for k, v in results.items() if "apnet" in v}
    rows = []
    for name, r in scored.items():
        for label, m in (
            (f"{name} ({r['n']})", r["apnet"]),
            (f"Griffin-Lim ({args.gl_iters} it.)", r["griffin_lim"]),
        ):
            vocoder = "APNet tiny" if m is r["apnet"] else label
            clips = label if m is r["apnet"] else ""
            values = f"{m['pesq']:.3f} | {m['stoi']:.3f} | {m['mcd']:.2f} | {m['lsd']:.3f} | {m['snr']:.2f}"
            rows.append(f"| {clips} | {vocoder} | {values} |")
    verdict = []
    beats = []
    higher_better = {"pesq": True, "stoi": True, "mcd": False, "lsd": False, "snr": True}
    for name, r in scored.items():
        better, worse = [], []
        for m, hb in higher_better.items():
            d = r["apnet"][m] - r["griffin_lim"][m]
            (better if (d > 0) == hb else worse).append(f"{m.upper()} {d:+.3g}")
        verdict.append(
            f"* {name}: better than Griffin-Lim in {', '.join(better) or 'nothing'}; "
            f"worse in {', '.join(worse) or 'nothing'} (APNet tiny minus Griffin-Lim)."
        )
        a, g = r["apnet"], r["griffin_lim"]
        beats.append({m for m in ("pesq", "stoi", "mcd") if (a[m] > g[m]) == higher_better[m]})
    common = set.intersection(*beats) if beats else set()
    if common == {"pesq", "stoi", "mcd"}:
        headline = "**This model beats Griffin-Lim on PESQ, STOI and MCD on every clip set above.**"
    elif common:
        names = ", ".join(m.upper() for m in ("pesq", "stoi", "mcd") if m in common)
        headline = f"**This model beats Griffin-Lim only on {names}; not on the other measures.**"
    else:
        headline = "**This model does not beat Griffin-Lim on PESQ, STOI or MCD.**"
    run_cfg = yaml.safe_load((run / "config.yaml").read_text())
    val = read_log(run, "val")
    template = (Path(__file__).parent / "MODEL_CARD.template.md").read_text()
    card = template.format(
        headline=headline,
        training=_training_summary(run_cfg, step, elapsed),
        val_ptd=val[-1].get("loss/phase_ptd", float("nan")) if val else float("nan"),
        phase_loss_kind="`-cos`, amplitude-weighted as in training"
        if run_cfg["loss"].get("phase_weighting", "none") == "amplitude"
        else "`-cos`, unweighted",
        val_ip=val[-1].get("loss/phase_ip", float("nan")) if val else float("nan"),
        gl_iters=args.gl_iters,
        step=step,
        n_train=n_train,
        train_minutes=train_minutes,
        params=n_params,
        channels=cfg.channels,
        rows="\n".join(rows),
        verdict="\n".join(verdict),
        rtf=next(iter(scored.values()))["rtf"] if scored else float("nan"),
        split_set=split_set,
        own_amp="{pesq:.2f} / {stoi:.3f} / {mcd:.1f} dB".format(**split["own amplitude + true phase"]),
        own_phase="{pesq:.2f} / {stoi:.3f} / {mcd:.1f} dB".format(**split["true amplitude + own phase"]),
    )
    (out / "MODEL_CARD.md").write_text(card)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
