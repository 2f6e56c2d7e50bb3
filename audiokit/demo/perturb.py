"""Demo step: APT perturbations of the bundled speech (variants with their records), and a
constrained search that makes pocketsphinx miss a keyword while ESTOI stays >= 0.6."""

from __future__ import annotations

import json

from audiokit.assets import speech_path
from audiokit.demo import DemoContext
from audiokit.io import load, save

ORDER = 50
TITLE = "APT: audio perturbations and a constrained search against a keyword recogniser"

#: The bundled clips' sentences (``audiokit/assets/speech/README.md``): the closed vocabulary of
#: the demo's pocketsphinx recogniser.
CORPUS = [
    "the birch canoe slid on the smooth planks",
    "glue the sheet to the dark blue background",
    "rice is often served in round bowls",
    "the juice of lemons makes fine punch",
    "the box was thrown beside the parked truck",
    "four hours of steady work faced us",
]
SHOWN = ["pitch_shift", "time_stretch", "tone", "peaking_eq", "noise", "background", "reverb", "mp3"]


def run(ctx: DemoContext) -> None:
    import optuna

    from audiokit.perturb import Chain, ESTOIConstraint, KeywordTarget, SearchSpace, get, preset, search
    from audiokit.plot import save_spectrograms

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = ctx.step_dir("perturb")
    wav, sr = load(speech_path("slt_16k.wav"))
    x = wav[0]

    # 1. one variant per perturbation, and three draws of the official AJailBench preset
    rows = []
    shown = SHOWN[:4] if ctx.fast else SHOWN
    signals = [("original", x, sr)]
    estoi = ESTOIConstraint()  # aligns length-changing perturbations before scoring
    for i, name in enumerate(shown):
        res = Chain([get(name)()])(wav, sr, rng=100 + i)
        y = res.wav[0]
        save(out / f"{name}.wav", res.wav, sr)
        rec = res.records[0]
        params = {
            k: (round(v, 3) if isinstance(v, float) else v) for k, v in rec.params.items() if v is not None
        }
        rows.append([name, rec.domain, json.dumps(params), estoi(wav, res.wav, sr)])
        if name in ("pitch_shift", "tone", "noise", "reverb"):
            signals.append((f"{name} {json.dumps(params)}", y, sr))
    apt = preset("ajailbench")
    for k in range(1 if ctx.fast else 3):
        res = apt(wav, sr, rng=7 + k)
        resolved = res.records[0].info.get("resolved") or {"name": "nothing (way = 0 or capped)"}
        save(out / f"ajailbench_{k}.wav", res.wav, sr)
        desc = json.dumps(res.records[0].params | {"->": resolved["name"]})
        rows.append([f"ajailbench #{k}", "mixed", desc, estoi(wav, res.wav, sr)])
    ctx.add_table(
        ["perturbation", "domain", "sampled parameters", "ESTOI vs original"],
        rows,
        caption="One random variant per perturbation of `slt_16k.wav` (records replay bit-exactly); "
        "the AJailBench preset draws (way, parameter) as the official code.",
    )
    png = save_spectrograms(out / "variants.png", signals, title="APT variants of slt_16k.wav")
    ctx.add_image(png, "variants")

    # 2. search: make the recogniser miss "canoe" while ESTOI >= 0.6
    target = KeywordTarget("canoe", corpus=CORPUS)
    space = SearchSpace(
        [
            {"name": "noise", "snr_db": [15, 40]},
            {"name": "dropout", "duration_ms": [20, 150]},
            {"name": "lowpass", "cutoff_hz": {"low": 800, "high": 7500, "log": True}},
        ]
    )
    budget = 6 if ctx.fast else 20
    srows = []
    best_wav = None
    for sampler in ("gp", "random", "ajailbench") if not ctx.fast else ("gp",):
        official = sampler == "ajailbench"  # the official procedure: its own space, 10 trials
        sp = preset("ajailbench") if official else space
        r = search(
            wav, sr, target, "estoi:0.6", sp, budget=10 if official else budget, sampler=sampler, seed=0
        )
        b = r.best
        srows.append(
            [
                sampler,
                r.trials,
                r.queries,
                "yes" if r.success else "no",
                "-" if b is None or b.score is None else f"{b.score:.2f}",
                "-" if b is None else f"{b.constraint:.3f}",
                ", ".join(rec.name for rec in r.records) or "-",
            ]
        )
        if sampler == "gp" and r.wav is not None:
            best_wav = r.wav
            save(out / "search_gp_best.wav", r.wav, sr)
            (out / "search_gp_history.json").write_text(
                json.dumps([h.to_dict() for h in r.history], indent=1, default=str), encoding="utf-8"
            )
    ctx.add_table(
        ["sampler", "trials", "target queries", "success", "score", "ESTOI", "kept perturbations"],
        srows,
        caption=f"Search (budget {budget}; noise >= 15 dB SNR, a dropout <= 150 ms, a low-pass) against "
        "a pocketsphinx keyword target: success = 'canoe' no "
        "longer recognised, feasible = ESTOI >= 0.6. `ajailbench` = the official procedure (10 random "
        "TPE start-up draws of (way, parameter), accumulating, last trial kept, no constraint check).",
    )
    ctx.add_text(
        "The keyword target is nearly binary (pocketsphinx's posterior for the word stays near 1 until "
        "the word is lost), so a model-based sampler has little to learn from and behaves like random "
        "search here; `benchmarks/bench_perturb.py` measures the samplers on graded targets."
    )
    if best_wav is not None:
        png = save_spectrograms(
            out / "search.png",
            [("original: 'canoe' recognised", x, sr), ("best feasible (gp)", best_wav[0], sr)],
            title="constrained search result",
        )
        ctx.add_image(png, "search")
        ctx.add_text(f"Transcript of the best feasible output: `{_transcript(target, best_wav, sr)}`")


def _transcript(target, wav, sr) -> str:
    target(wav, sr)
    return target.last_transcript or ""
