"""Demo step: AP-BWE 8 kHz -> 16 kHz on the bundled speech, against plain sinc upsampling."""

from __future__ import annotations

import torch

from audiokit import metrics
from audiokit.assets import real_speech_files, speech_files
from audiokit.demo import DemoContext
from audiokit.frontend import sinc_resample
from audiokit.io import load, save
from audiokit.plot import save_spectrograms

ORDER = 30
TITLE = "Bandwidth extension (AP-BWE, 8 kHz -> 16 kHz) on bundled speech"


def run(ctx: DemoContext) -> None:
    from audiokit.bwe import APBWE
    from audiokit.cli.bwe import bundled_model_dir

    out = ctx.step_dir("bwe")
    model = APBWE.from_pretrained(bundled_model_dir()).fuse(ctx.precision)
    lr, hr = model.config.lr_sampling_rate, model.config.hr_sampling_rate
    cutoff = lr / 2
    real = real_speech_files() if hr == 16000 else []  # recorded human speech, held out
    files = speech_files(hr)[: 1 if ctx.fast else None] + real[: 1 if ctx.fast else None]
    rows = []
    for path in files:
        wav, sr = load(path, mono=True)
        ref = wav[0]
        narrow = sinc_resample(ref, hr, lr)  # what a telephone-band recording at 8 kHz looks like
        sinc = sinc_resample(narrow, lr, hr)[: ref.numel()]
        with torch.inference_mode():
            wide = model.extend(narrow, lr)[0]
        # float wavs: resampling a clip normalised near full scale overshoots it slightly (1.002);
        # the listening files keep the exact signals the metrics are computed on
        save(out / f"{path.stem}_input_8k.wav", narrow, lr, subtype="FLOAT")
        save(out / f"{path.stem}_sinc_16k.wav", sinc, hr, subtype="FLOAT")
        save(out / f"{path.stem}_ap_bwe_16k.wav", wide, hr, subtype="FLOAT")
        png = save_spectrograms(
            out / f"{path.stem}.png",
            [("original (16 kHz)", ref, hr), ("input 8 kHz, sinc-upsampled", sinc, hr), ("AP-BWE", wide, hr)],
            title=f"{path.name}: before / after bandwidth extension",
        )
        ctx.add_image(png, path.name)
        for label, y in (("sinc upsampling", sinc), (f"AP-BWE ({bundled_model_dir().name})", wide)):
            rows.append(
                [
                    path.name,
                    label,
                    metrics.lsd(ref, y),
                    metrics.lsd(ref, y, hr, band=(cutoff, hr / 2)),
                    metrics.pesq(ref, y, hr),
                    metrics.stoi(ref, y, hr),
                ]
            )
    ctx.add_table(
        ["file", "signal", "LSD", "LSD 4-8 kHz", "PESQ (wb)", "STOI"],
        rows,
        caption="Each bundled 16 kHz clip is reduced to 8 kHz, then brought back to 16 kHz by sinc "
        "interpolation or by the bundled AP-BWE model; metrics against the original (lower LSD is "
        "better).",
    )
    ctx.add_text(f"Inference precision: {ctx.precision} (fused network).")
    ctx.add_text(
        f"The model is `pretrained/{bundled_model_dir().name}`, trained on real recorded speech on a CPU "
        "(see its MODEL_CARD.md); the "
        "official full-size checkpoints load with `APBWE.from_official(path, preset)` or "
        "`audiokit bwe IN OUT --preset 16k_48k --checkpoint g_16kto48k`."
    )
