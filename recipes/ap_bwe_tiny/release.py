"""Export the tiny AP-BWE run, measure it against plain sinc upsampling and write its model card.

Usage (repository root, after training; about a minute)::

    python recipes/ap_bwe_tiny/release.py runs/ap_bwe_tiny pretrained/ap_bwe_tiny_8k_16k \\
        [--test data/ap_bwe_tiny/test]

Evaluation: every 16 kHz test utterance (held-out sentences of the generated speech, and separately
the bundled clips ``audiokit/assets/speech/*_16k.wav``, never used in training) is reduced to 8 kHz
with the sinc resampler (the official narrowband simulation), then brought back to 16 kHz by

* ``sinc``: plain sinc interpolation (torchaudio's resampler; the paper's "sinc" baseline),
* ``AP-BWE tiny``: :meth:`APBWE.extend` on the 8 kHz signal with the model's inference default,
  which keeps the input's own band below 4 kHz (``keep_low_band``; ``--no-keep-low-band`` turns
  that default off), and
* ``AP-BWE tiny, full band``: the same with the whole spectrum generated (the official behaviour),

and scored against the original: LSD (AP-BWE definition), LSD above / below 4 kHz, wide-band PESQ,
STOI. Writes ``OUT/model.safetensors``, ``OUT/config.json``, ``OUT/SHA256SUMS``, ``OUT/eval.json``
and ``OUT/MODEL_CARD.md``; exits 1 if the model (its default inference) does not beat the baseline
on LSD, PESQ and STOI.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

METRICS = ("lsd", "lsd_hf", "lsd_lf", "pesq", "stoi")
HIGHER_IS_BETTER = {"pesq", "stoi"}


def score_set(model, files: list[Path]) -> dict[str, dict[str, float]]:
    """Mean metrics of the sinc baseline and the model (default and full-band) over ``files`` (16 kHz)."""
    import torch

    from audiokit import metrics
    from audiokit.frontend import sinc_resample
    from audiokit.io import load

    lr, hr = model.config.lr_sampling_rate, model.config.hr_sampling_rate
    cut = lr / 2
    per: dict[str, dict[str, list[float]]] = {"sinc": {}, "ap_bwe_tiny": {}, "ap_bwe_tiny_full_band": {}}
    for f in files:
        ref = load(f, sr=hr, mono=True)[0][0]
        narrow = sinc_resample(ref, hr, lr)
        with torch.inference_mode():
            outs = {
                "sinc": sinc_resample(narrow, lr, hr)[: ref.numel()],
                "ap_bwe_tiny": model.extend(narrow, lr)[0],
                "ap_bwe_tiny_full_band": model.extend(narrow, lr, keep_low_band=False)[0],
            }
        for name, y in outs.items():
            vals = {
                "lsd": metrics.lsd(ref, y),
                "lsd_hf": metrics.lsd(ref, y, hr, band=(cut, hr / 2)),
                "lsd_lf": metrics.lsd(ref, y, hr, band=(0.0, cut)),
                "pesq": metrics.pesq(ref, y, hr),
                "stoi": metrics.stoi(ref, y, hr),
            }
            for k, v in vals.items():
                per.setdefault(name, {}).setdefault(k, []).append(v)
    return {name: {k: statistics.fmean(v) for k, v in m.items()} for name, m in per.items()}


def card(config: dict, run_dir: Path, results: dict, n_files: dict, train_info: dict) -> str:
    def table(res: dict) -> str:
        head = "| signal | LSD | LSD 4-8 kHz | LSD 0-4 kHz | PESQ (wb) | STOI |\n|---|---|---|---|---|---|\n"
        rows = [
            f"| {label} | " + " | ".join(f"{res[key][m]:.3f}" for m in METRICS) + " |"
            for key, label in (
                ("sinc", "sinc upsampling (baseline)"),
                ("ap_bwe_tiny", "**AP-BWE tiny** (default: input kept below 4 kHz)"),
                ("ap_bwe_tiny_full_band", "AP-BWE tiny, whole spectrum generated (`keep_low_band=False`)"),
            )
        ]
        return head + "\n".join(rows) + "\n"

    m = config["config"]
    return f"""# AP-BWE tiny, 8 kHz -> 16 kHz

A deliberately small AP-BWE (Lu et al., 2024) bandwidth-extension model trained on a 2-core CPU in
about half an hour by `recipes/ap_bwe_tiny/` on speech synthesised by
`recipes/ap_bwe_tiny/make_speech.py` (festival `cmu_us_slt_arctic_hts` and `kal_diphone`, espeak-ng
voices). It exists so that `audiokit bwe`, the demo and the tests run without downloads; it is **not**
the paper's model. For real recordings use the official checkpoints
(`APBWE.from_official("g_8kto16k", "8k_16k")`) or train `recipes/ap_bwe_vctk/8k_16k.yaml`.

- Architecture: the AP-BWE generator with {m["channels"]} channels and {m["layers"]} ConvNeXt layer pairs
  (official: 512 x 8), n_fft {m["n_fft"]}, window {m["win_size"]}, hop {m["hop_size"]}; receptive field
  +-{(m["layers"] + 1) * (m["kernel_size"] // 2)} frames.
- Training: {train_info.get("steps", "?")} steps of batch 8 x 8000 samples, the published losses
  (45 L_A + 100 L_P + 90 L_C + 90 L_S, hinge GAN with narrow MPD + 0.1 (MRAD + MRPD), feature
  matching), AdamW lr 1e-3 halving every 500 steps (smoothly); config `recipes/ap_bwe_tiny/config.yaml`
  (run `{run_dir}`{", " + train_info["wall"] if train_info.get("wall") else ""}).
- Input: 8 kHz speech (or 16 kHz speech, which `extend` first reduces to 8 kHz as the official
  inference does). Output: 16 kHz.
- Inference default `keep_low_band: true` (in `config.json`): the output keeps the input's own
  spectrum below 4 kHz (phase up to 4 kHz, log-amplitude up to 3 kHz, then a cross-fade into the
  generated one over the resampler's transition band) and takes the generated spectrum above. A
  model this small cannot reproduce the low-band phase (the official 512-channel model largely
  can), so regenerating the whole spectrum, as the official inference does, lowers PESQ and STOI
  below the input's; both variants are measured below. `extend(..., keep_low_band=False)` or
  `audiokit bwe --keep-low-band no` gives the official behaviour.

## Measured quality

Each 16 kHz utterance is reduced to 8 kHz with the sinc resampler (the official narrowband
simulation) and brought back to 16 kHz by plain sinc interpolation (baseline) or by this model;
metrics against the original (`recipes/ap_bwe_tiny/release.py`; LSD as the AP-BWE paper, lower is
better; PESQ wide band; STOI).

Held-out generated test sentences ({n_files["test"]} utterances, same voices, unseen text):

{table(results["test"])}
Bundled clips `audiokit/assets/speech/*_16k.wav` ({n_files["bundled"]} utterances, not used in training):

{table(results["bundled"])}
For scale: the paper's full-size model reaches LSD 0.69 on VCTK 8 -> 16 kHz where sinc gives 1.80.

## Limits

Trained on a few hundred synthetic utterances from three synthesisers: expect much weaker results on
natural speech, noisy or reverberant recordings, music and other languages. The upper band it adds
is plausible, not the original; do not use it where the exact high band matters.

Licence: MIT (as audiokit). Files: `model.safetensors`, `config.json` (`APBWE.from_pretrained`),
`eval.json` (the numbers above), `SHA256SUMS`.
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--test", default="data/ap_bwe_tiny/test")
    ap.add_argument(
        "--no-keep-low-band",
        action="store_true",
        help="do not make keeping the input's low band the model's inference default",
    )
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import hashlib

    from audiokit.assets import speech_files
    from audiokit.bwe import APBWE
    from audiokit.io import atomic_write
    from audiokit.train import export_checkpoint, read_log

    out = Path(args.out_dir)
    export_checkpoint(args.run_dir, out)
    config = json.loads((out / "config.json").read_text())
    config["config"]["keep_low_band"] = not args.no_keep_low_band  # inference default, not training
    with atomic_write(out / "config.json") as tmp:
        tmp.write_text(json.dumps(config, indent=2) + "\n")
    model = APBWE.from_pretrained(out)
    test_files = sorted(Path(args.test).glob("*.wav"))
    if not test_files:
        print(f"{args.test}: no test wavs", file=sys.stderr)
        return 2
    bundled = speech_files(16000)
    results = {"test": score_set(model, test_files), "bundled": score_set(model, bundled)}
    logs = read_log(args.run_dir, "train")
    train_info = {"steps": config.get("training", {}).get("step")}
    times = [r["time"] for r in logs if isinstance(r.get("time"), int | float)]
    if len(times) > 1:
        train_info["wall"] = f"{(times[-1] - times[0]) / 60:.0f} min of logged training"
    evaluation = {
        "eval_set": f"test: {len(test_files)} held-out synthetic sentences (generated voices of the training "
        "set, unseen text), narrowband by sinc resampling",
        "results": results,
        "files": {"test": len(test_files), "bundled": len(bundled)},
        **train_info,
    }
    with atomic_write(out / "eval.json") as tmp:
        tmp.write_text(json.dumps(evaluation, indent=2) + "\n")
    text = card(config, Path(args.run_dir), results, evaluation["files"], train_info)
    with atomic_write(out / "MODEL_CARD.md") as tmp:
        tmp.write_text(text)
    sums = "".join(
        f"{hashlib.sha256((out / n).read_bytes()).hexdigest()}  {n}\n"
        for n in ("model.safetensors", "config.json")
    )
    with atomic_write(out / "SHA256SUMS") as tmp:
        tmp.write_text(sums)
    print(json.dumps(results, indent=2))
    worse = [
        f"{s}:{m}"
        for s, res in results.items()
        for m in ("lsd", "pesq", "stoi")
        if (res["ap_bwe_tiny"][m] <= res["sinc"][m]) == (m in HIGHER_IS_BETTER)
    ]
    if worse:
        print(f"the model does not beat sinc upsampling on: {', '.join(worse)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
