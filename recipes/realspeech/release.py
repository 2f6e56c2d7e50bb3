"""Export a real-speech run to ``pretrained/`` with measured metrics, a learning curve and a model card.

    python recipes/realspeech/release.py vocoder runs/realspeech_apnet_16k pretrained/apnet_realspeech_16k
    python recipes/realspeech/release.py bwe runs/realspeech_ap_bwe_8k_16k pretrained/ap_bwe_realspeech_8k_16k

Exports the newest checkpoint (``model.safetensors`` + ``config.json``), scores it on the held-out
sets of ``recipes/realspeech/prepare.py`` with ``recipes/realspeech/evaluate.py`` (vocoder against
Griffin-Lim from the same log-mel; BWE against plain upsampling of the same narrowband input, for
three standard resamplers), and writes ``metrics.json``, ``learning_curve.png`` (validation metrics
against wall-clock training time, from the run's log) and ``MODEL_CARD.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate import evaluate_bwe, evaluate_vocoder, load_set  # noqa: E402

SETS = {
    "test": "held-out Czech lines (same voice actors as training, other utterances)",
    "test_unseen": "Dutch voice-over (speaker-disjoint: other actors, language and studio)",
}
LICENCE = (
    "Weights: trained on the Fish Fillets NG Czech voice-over (Debian package `fillets-ng-data-cs`, "
    "GPL-2.0); the weights are distributed under GPL-2.0 to respect the data's licence (the code of "
    "audiokit stays MIT). Held-out evaluation also used `fillets-ng-data-nl` (GPL-2.0)."
)


def learning_curve(run: Path, keys: list[str], png: Path, title: str) -> list[dict]:
    """Validation records ``{step, minutes, <keys>}`` of ``run`` and a PNG of them against minutes."""
    from audiokit.train import read_log

    events = read_log(run, "event")
    start = events[0]["time"] if events else 0.0
    # wall clock of training only: time between a resume and the previous record is not counted
    recs = read_log(run)
    minutes, elapsed, last = {}, 0.0, start
    for r in recs:
        if r.get("split") == "event" and r.get("event") in ("start", "resume"):
            last = r["time"]
            continue
        elapsed += max(r["time"] - last, 0.0)
        last = r["time"]
        if r.get("split") == "val":
            minutes[r["step"]] = elapsed / 60
    rows = []
    for r in read_log(run, "val"):
        row = {"step": r["step"], "minutes": round(minutes.get(r["step"], float("nan")), 1)}
        for k in keys:
            v = r.get(f"metric/{k}", r.get(k))
            if v is not None:
                row[k] = v
        rows.append(row)
    if rows:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2))
        for ax, k in zip(axes, keys):
            ax.plot([r["minutes"] for r in rows if k in r], [r[k] for r in rows if k in r], "o-")
            ax.set_xlabel("training wall clock (min, shared 2-core CPU)")
            ax.set_title(f"validation {k.upper()}")
            ax.grid(alpha=0.3)
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(png, dpi=90)
        plt.close(fig)
    return rows


def _table(header: list[str], rows: list[list]) -> str:
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["vocoder", "bwe"])
    ap.add_argument("run_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--data", default="data/realspeech")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()

    from audiokit.train import export_checkpoint
    from audiokit.train.checkpoint import latest_checkpoint

    run, out = Path(args.run_dir), Path(args.out_dir)
    ckpt = latest_checkpoint(run / "checkpoints")
    if ckpt is None:
        print(f"error: no checkpoint in {run}/checkpoints", file=sys.stderr)
        return 2
    export_checkpoint(ckpt, out)
    (out / "SHA256SUMS").unlink(missing_ok=True)
    torch.set_num_threads(1)
    data = Path(args.data)
    results: dict = {"checkpoint_step": int(ckpt.stem.split("_")[-1])}
    if args.kind == "vocoder":
        from audiokit.vocoders import SpectralVocoder

        model = SpectralVocoder.from_pretrained(out)
        for name in SETS:
            clips = load_set(data, name, model.sample_rate, args.limit)
            results[name] = evaluate_vocoder(model, clips)
        curve = learning_curve(run, ["pesq", "stoi", "lsd"], out / "learning_curve.png", "APNet, real speech")
    else:
        from audiokit.bwe import APBWE

        model = APBWE.from_pretrained(out)
        for name in SETS:
            clips = load_set(data, name, model.config.hr_sampling_rate, args.limit)
            results[name] = evaluate_bwe(model, clips, ["sinc", "soxr", "scipy"])
        curve = learning_curve(
            run, ["pesq", "stoi", "lsd"], out / "learning_curve.png", "AP-BWE, real speech"
        )
    results["learning_curve"] = curve
    (out / "metrics.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "MODEL_CARD.md").write_text(card(args.kind, model, run, results, curve))
    print(json.dumps({k: v for k, v in results.items() if k != "learning_curve"}, indent=1))
    return 0


def card(kind: str, model, run: Path, results: dict, curve: list[dict]) -> str:
    n_params = sum(p.numel() for p in model.parameters())
    cfg_text = (run / "config.yaml").read_text()
    minutes = curve[-1]["minutes"] if curve else float("nan")
    curve_rows = [
        [r["step"], r["minutes"], r.get("pesq", "-"), r.get("stoi", "-"), r.get("lsd", "-")] for r in curve
    ]
    lines = []
    if kind == "vocoder":
        title = f"# APNet, real speech, {model.sample_rate // 1000} kHz - model card"
        rows = []
        for name in SETS:
            r = results[name]
            for label, m in (("this model", r["model"]), ("Griffin-Lim, 32 it.", r["griffin_lim"])):
                rows.append([f"{name} ({r['n']})", label, m["pesq"], m["stoi"], m["lsd"], m["mcd"]])
        lines += [
            title,
            "",
            "APNet (Ai & Ling 2023) trained on real recorded speech by `recipes/realspeech/` (warm-started "
            "from the synthetic-speech `apnet_tiny`); the default of `audiokit vocode` and the demo.",
            "",
            f"- parameters: {n_params:,}; input: 80-band log-mel (n_fft {model.config.n_fft}, hop "
            f"{model.hop_length}, window {model.config.win_length}); output {model.sample_rate} Hz",
            f"- training: {results['checkpoint_step']} steps, {minutes:.0f} min wall clock on a "
            "shared 2-core CPU (config below)",
            "",
            "## Held-out real speech (analysis-resynthesis from the model's own log-mel)",
            "",
            _table(["set (clips)", "vocoder", "PESQ-WB", "STOI", "LSD", "MCD dB"], rows),
            "",
        ]
        for name, desc in SETS.items():
            lines.append(f"- `{name}`: {desc}")
    else:
        title = "# AP-BWE 8 kHz -> 16 kHz, real speech - model card"
        rows = []
        for name in SETS:
            for rs, r in results[name].items():
                for label in ("upsampling", "model"):
                    m = r[label]
                    lab = "this model" if label == "model" else f"plain upsampling ({rs})"
                    rows.append([f"{name} ({r['n']})", rs, lab, m["pesq"], m["stoi"], m["lsd"], m["lsd_hf"]])
        lines += [
            title,
            "",
            "AP-BWE (Lu et al. 2024) trained on real recorded speech by `recipes/realspeech/` (warm-started "
            "from the synthetic-speech `ap_bwe_tiny_8k_16k`); the default of `audiokit bwe`.",
            "",
            f"- parameters: {n_params:,}; input 8 kHz narrowband, output 16 kHz",
            f"- training: {results['checkpoint_step']} steps, {minutes:.0f} min wall clock on a "
            "shared 2-core CPU (config below)",
            "",
            "## Held-out real speech",
            "",
            "Each 16 kHz utterance is reduced to 8 kHz by the named resampler, then brought back by plain "
            "upsampling with the same resampler (the baseline) and by the model.",
            "",
            _table(["set (clips)", "narrowband by", "output", "PESQ-WB", "STOI", "LSD", "LSD 4-8 kHz"], rows),
            "",
        ]
        for name, desc in SETS.items():
            lines.append(f"- `{name}`: {desc}")
    lines += [
        "",
        "## Learning curve",
        "",
        "Validation (24 held-out Czech lines, at most 12 scored) against training wall clock:",
        "",
        "![learning curve](learning_curve.png)",
        "",
        _table(["step", "minutes", "PESQ", "STOI", "LSD"], curve_rows),
        "",
        "## Training config",
        "",
        "```yaml",
        cfg_text.strip(),
        "```",
        "",
        "## Licence and provenance",
        "",
        LICENCE,
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
