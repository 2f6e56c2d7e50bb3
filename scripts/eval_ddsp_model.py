"""Resynthesis metrics of a DDSP model on a folder of phrases with ground-truth f0 (as written by
scripts/make_ddsp_synthetic.py or recipes/ddsp_solo/prepare_fluidr3.py), next to two references: the
floor of the metrics and audiokit's default-timbre synthesizer (no learning). The floor is the true
instrument re-rendered with other noise and stored as the data are, 16-bit PCM, for the synthetic
instrument (a folder with instrument.json), else (recorded or sampled instruments) the
harmonic-plus-noise analysis-resynthesis of each phrase (audiokit.ddsp.evaluation.analysis_resynthesis).
"Gap closed" is (default - model) / (default - floor) of the spectral loss.

    python scripts/eval_ddsp_model.py pretrained/ddsp_tiny data/ddsp_synthetic/val [--seconds 4]
    python scripts/eval_ddsp_model.py pretrained/ddsp_violin data/fluidr3/violin/val

Prints a markdown table and writes it with the raw numbers to MODEL_DIR/eval.json unless --no-write.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiokit.ddsp import synthesize  # noqa: E402
from audiokit.ddsp.data import DDSPExamples  # noqa: E402
from audiokit.ddsp.evaluation import analysis_resynthesis, resynthesis_metrics  # noqa: E402
from audiokit.ddsp.features import get_f0_extractor  # noqa: E402
from audiokit.ddsp.model import DDSPAutoencoder, DDSPConfig  # noqa: E402
from audiokit.ddsp.synthetic import SyntheticInstrument  # noqa: E402


class _Renderer(torch.nn.Module):
    """Wraps a non-learned renderer in the interface resynthesis_metrics expects."""

    def __init__(self, render, config: DDSPConfig):
        super().__init__()
        self.render, self.config = render, config
        self.processor_group = SimpleNamespace(
            modules_by_name={"filtered_noise": SimpleNamespace(generator=None)}
        )

    def forward(self, f0, ld, audio):
        return {"audio": self.render(f0, ld, audio)}


class _Dry(torch.nn.Module):
    """The model's output before its reverb (``audio_dry``), same noise."""

    def __init__(self, model: DDSPAutoencoder):
        super().__init__()
        self.model, self.config, self.processor_group = model, model.config, model.processor_group

    def forward(self, f0, ld, audio):
        return {"audio": self.model(f0, ld, audio)["audio_dry"]}


def _pcm16(audio: torch.Tensor) -> torch.Tensor:
    """``(1, T)`` through a 16-bit wav in memory, as ``write_dataset`` stores the phrases: their rests
    are digital silence, which the log-magnitude term of the loss tells from a float render's tails."""
    buf = io.BytesIO()
    sf.write(buf, audio[0].numpy(), 16000, format="WAV", subtype="PCM_16")
    buf.seek(0)
    return torch.from_numpy(sf.read(buf, dtype="float32")[0])[None]


def _previous(args: argparse.Namespace, n_examples: int) -> dict:
    """The rows of MODEL_DIR/eval.json when it scored the same data the same way, else ``{}``."""
    path = args.model / "eval.json"
    if not path.is_file():
        return {}
    old = json.loads(path.read_text())
    same = (old.get("data"), old.get("n_examples"), old.get("seconds")) == (
        str(args.data),
        n_examples,
        args.seconds,
    )
    return old.get("results", {}) if same else {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--seconds", type=float, default=4.0, help="example length (default 4)")
    ap.add_argument("--max-examples", type=int, default=None, help="use only the first N examples")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--eval-set",
        default=None,
        help="what the data is, for eval.json's eval_set (shown by audiokit models)",
    )
    ap.add_argument(
        "--reuse-references",
        action="store_true",
        help="take the floor and default-timbre rows from MODEL_DIR/eval.json if it scored the same data "
        "(they do not depend on the model; saves their pYIN runs when re-scoring a newer checkpoint)",
    )
    ap.add_argument(
        "--references-only",
        action="store_true",
        help="score only the floor and default-timbre rows (for a later --reuse-references run)",
    )
    args = ap.parse_args()
    model = DDSPAutoencoder.from_pretrained(args.model)
    cfg = model.config
    ds = DDSPExamples(
        args.data,
        cfg.sample_rate,
        cfg.frame_rate,
        args.seconds,
        args.seconds,
        f0_min=cfg.f0_min,
        f0_max=cfg.f0_max,
    )
    examples = [ds[i] for i in range(min(len(ds), args.max_examples or len(ds)))]
    tracker = "pyin"
    if cfg.data_stats is not None:
        # pYIN on the outputs from an octave below the instrument's 5th-percentile pitch: it finds
        # sub-octave errors, and costs far less than a search from a voice's 50 Hz
        fmin = max(cfg.f0_min, 440.0 * 2 ** ((cfg.data_stats.f0_low_midi - 12 - 69) / 12))
        tracker = get_f0_extractor("pyin", fmin=fmin, fmax=cfg.f0_max)
        print(f"pYIN on the outputs: {fmin:.0f}-{cfg.f0_max:.0f} Hz", file=sys.stderr)
    gen = torch.Generator().manual_seed(1234)
    name = args.model.name
    rows = {}
    if not args.references_only:
        rows[f"{name} (this model)"] = resynthesis_metrics(model, examples, tracker)
    if model.config.reverb and not args.references_only:
        rows[f"{name} without its reverb (audio_dry)"] = resynthesis_metrics(_Dry(model), examples, tracker)
    if (args.data / "instrument.json").is_file():
        inst = SyntheticInstrument()
        floor_name = "synthetic instrument, other noise (floor)"
        floor = _Renderer(lambda f0, ld, audio: _pcm16(inst.render(f0, ld, gen)), cfg)
    else:
        floor_name = "analysis-resynthesis, same synthesizer (floor)"
        floor = _Renderer(
            lambda f0, ld, audio: analysis_resynthesis(
                audio[0],
                f0[0],
                cfg.sample_rate,
                cfg.hop_length,
                cfg.n_harmonics,
                cfg.n_noise_bands,
                generator=gen,
            )[None],
            cfg,
        )
    default_name = "default timbre, synthesize() (no learning)"
    old = _previous(args, len(examples)) if args.reuse_references else {}
    for key, renderer in (
        (floor_name, floor),
        (
            default_name,
            _Renderer(
                lambda f0, ld, audio: synthesize(
                    f0, ld, sample_rate=cfg.sample_rate, frame_rate=cfg.frame_rate
                ),
                cfg,
            ),
        ),
    ):
        rows[key] = old[key] if key in old else resynthesis_metrics(renderer, examples, tracker)
    default = rows[default_name]["spectral_loss"]
    ours = rows.get(f"{name} (this model)", {"spectral_loss": float("nan")})["spectral_loss"]
    gap = (default - ours) / (default - rows[floor_name]["spectral_loss"])
    header = (
        "| renderer | spectral loss | loudness L1 (dB) | loudness L1, voiced (dB) | f0 L1 (semitones) "
        "| f0 outliers |"
    )
    print(header)
    print("|---|---|---|---|---|---|")
    for name, m in rows.items():
        print(
            f"| {name} | {m['spectral_loss']:.3f} | {m['loudness_l1_db']:.3f} | "
            f"{m['loudness_l1_db_voiced']:.3f} | "
            f"{m['f0_l1_midi']:.4f} | "
            f"{m['f0_outlier_ratio']:.3f} |"
        )
    print(
        f"\n{len(examples)} examples of {args.seconds:g} s from {args.data}; "
        f"spectral-loss gap closed: {gap:.1%}"
    )
    if not args.no_write:
        (args.model / "eval.json").write_text(
            json.dumps(
                {
                    "eval_set": args.eval_set
                    or f"{len(examples)} excerpts of {args.seconds:g} s from {args.data}",
                    "data": str(args.data),
                    "n_examples": len(examples),
                    "seconds": args.seconds,
                    "results": rows,
                    "floor": floor_name,
                    "gap_closed": gap,
                    "pyin_hz": [fmin, cfg.f0_max] if cfg.data_stats is not None else [cfg.f0_min, cfg.f0_max],
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
