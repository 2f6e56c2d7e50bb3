"""Demo step: rank synthetic maskers x gains for a synthetic binaural soundscape with the tiny model."""

from __future__ import annotations

import numpy as np

from audiokit.demo import DemoContext
from audiokit.io import save
from audiokit.plot import save_curves
from audiokit.soundscape import DEFAULT_MODEL, load_model, mix_waveforms, rank_maskers
from audiokit.soundscape.synthetic import oracle_pleasantness, synth_masker, synth_soundscape

ORDER = 60
TITLE = "Soundscape augmentation: joint masker and gain selection (feature-domain mixing)"

_KINDS = ("bird", "water", "wind", "traffic", "construction")
SR = 44100


def run(ctx: DemoContext) -> None:
    out = ctx.step_dir("masker")
    seconds = 6.0 if ctx.fast else 20.0
    per_class = 1 if ctx.fast else 3
    rng = np.random.default_rng(2022)
    scene, scene_info = synth_soundscape(seconds, SR, rng, scene="street", level=-30.0)
    save(out / "soundscape.wav", scene, SR)
    maskers, infos = {}, {}
    for kind in _KINDS:
        for i in range(per_class):
            x, info = synth_masker(kind, seconds, SR, rng, level=float(rng.uniform(-36, -24)))
            name = f"{kind}_{i + 1}"
            maskers[name] = (x, SR)
            infos[name] = info
            save(out / "maskers" / f"{name}.wav", x, SR)
    gains = np.arange(-12.0, 12.01, 2.0 if ctx.fast else 1.0)
    model = load_model(DEFAULT_MODEL)
    ranking = rank_maskers(scene, SR, maskers, gains, model=model, gain_reference="smr", threshold=0.0)
    ranking.to_csv(out / "ranking.csv")

    def truth(name: str, gain_db: float) -> float:
        return float(oracle_pleasantness(scene_info, infos[name], gain_db))

    rows = [
        [
            r.rank,
            r.masker,
            f"{r.gain_db:+.1f}",
            f"{r.smr_db:+.1f}",
            r.mean,
            r.std,
            r.p_exceed,
            truth(r.masker, r.gain_db),
        ]
        for r in ranking.top(8)
    ]
    ctx.add_text(
        f"A {seconds:g} s synthetic binaural street scene (`soundscape.wav`) and {len(maskers)} synthetic "
        f"maskers (`maskers/`), SMR grid {gains[0]:+g}..{gains[-1]:+g} dB: {len(ranking.rows)} pairs ranked "
        f"in one batched feature-domain pass of `{DEFAULT_MODEL}`. The last column is the generator's true "
        "(oracle) pleasantness of the pair."
    )
    ctx.add_table(
        ["rank", "masker", "gain dB", "SMR dB", "mean", "std", "P(>0)", "oracle"],
        rows,
        caption="Top candidates (predicted ISO pleasantness, best first)",
    )
    best = ranking.best
    oracle_best = max((truth(r.masker, r.gain_db), r.masker, r.gain_db) for r in ranking.rows)
    no_masker = float(oracle_pleasantness(scene_info, infos[f"{_KINDS[0]}_1"], -np.inf))
    ctx.add_text(
        f"Chosen: **{best.masker}** at {best.gain_db:+.1f} dB (SMR {best.smr_db:+.1f} dB); oracle "
        f"pleasantness {truth(best.masker, best.gain_db):.3f} against {oracle_best[0]:.3f} for the oracle's "
        f"best pair ({oracle_best[1]} at {oracle_best[2]:+.1f} dB) and {no_masker:.3f} without a masker."
    )
    mix = mix_waveforms(scene, maskers[best.masker][0], best.gain_db)
    save(out / "best_mix.wav", mix / max(1.0, float(mix.abs().max()) / 0.99), SR)
    top = [r.masker for r in ranking.best_per_masker()[:4]]
    curves = {}
    for name in top:
        g, mu, _ = ranking.curve(name)
        curves[f"{name} (predicted)"] = mu
        curves[f"{name} (oracle)"] = [truth(name, x) for x in g]
    smr_axis = sorted(r.smr_db for r in ranking.rows if r.masker == top[0])
    png = save_curves(
        out / "pleasantness_vs_smr.png",
        smr_axis[::-1],
        {k: v for k, v in curves.items()},
        xlabel="gain (as SMR, dB; left = louder masker)",
        ylabel="ISO pleasantness",
        title="Predicted vs oracle pleasantness over gain, top 4 maskers",
    )
    ctx.add_image(png, "pleasantness over gain")
