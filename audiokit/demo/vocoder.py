"""Demo step: APNet resynthesis of the bundled speech with the bundled default (real-speech) model,
against Griffin-Lim from the same log-mel."""

from __future__ import annotations

import torch

from audiokit.assets import real_speech_files, speech_files
from audiokit.demo import DemoContext
from audiokit.io import load, save
from audiokit.plot import save_spectrograms

ORDER = 20
TITLE = "Vocoder: APNet resynthesis of bundled speech vs Griffin-Lim"


def run(ctx: DemoContext) -> None:
    from audiokit.cli.vocode import default_checkpoint
    from audiokit.vocoders import SpectralVocoder
    from audiokit.vocoders.evaluation import evaluate_resynthesis

    ckpt = default_checkpoint()
    if not ckpt.exists():
        raise FileNotFoundError(f"{ckpt}: the bundled default vocoder is missing")
    model = SpectralVocoder.from_pretrained(ckpt)
    out = ctx.step_dir("vocoder")
    clips = []
    # synthetic voices, then recorded human speech (held out from the real-speech recipe)
    for path in speech_files(16000) + real_speech_files()[: 2 if ctx.fast else None]:
        wav, _ = load(path, sr=model.sample_rate, mono=True)
        x = wav[0] if not ctx.fast else wav[0, : 2 * model.sample_rate]
        clips.append((path.stem, x))
    outputs: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    gl_iters = 8 if ctx.fast else 32
    gl_label = f"Griffin-Lim ({gl_iters} it.)"
    dtype = torch.bfloat16 if ctx.precision == "bf16" else torch.float32
    scores = evaluate_resynthesis(model, clips, gl_iters=gl_iters, outputs=outputs, dtype=dtype)
    rows = []
    refine = model.config.phase_refine_iters
    label_model = f"{ckpt.name}" + (f" (phase refined, {refine} it.)" if refine else "")
    for name, x in clips:
        voc, gl = outputs[name]
        gl = gl / max(1.0, float(gl.abs().max()) / 0.99)  # Griffin-Lim can overshoot full scale
        save(out / f"{name}_{model.model_type}.wav", voc.clamp(-1, 1), model.sample_rate)
        save(out / f"{name}_griffinlim.wav", gl, model.sample_rate)
        png = save_spectrograms(
            out / f"{name}.png",
            [
                ("original", x, model.sample_rate),
                (f"{model.model_type} ({ckpt.name})", voc, model.sample_rate),
                ("Griffin-Lim, same log-mel", gl, model.sample_rate),
            ],
            title=f"{name} at {model.sample_rate} Hz",
        )
        ctx.add_image(png, name)
        for label, table in ((label_model, scores.vocoder), (gl_label, scores.griffin_lim)):
            r = table[name]
            rows.append([name, label, r["pesq"], r["stoi"], r["mcd"], r["lsd"]])
    mv, mg = scores.mean("vocoder"), scores.mean("griffin_lim")
    rows.append(["mean", label_model, mv["pesq"], mv["stoi"], mv["mcd"], mv["lsd"]])
    rows.append(["mean", gl_label, mg["pesq"], mg["stoi"], mg["mcd"], mg["lsd"]])
    ctx.add_table(
        ["clip", "vocoder", "PESQ (wb)", "STOI", "MCD dB", "LSD"],
        rows,
        caption=f"Analysis-resynthesis from the {model.n_mels}-band log-mel ({ckpt.name}, "
        f"{model.sample_rate} Hz); vocoder RTF {scores.rtf:.3f} on this CPU ({ctx.precision} engine).",
    )
    ctx.add_text(
        f"The bundled model is a small CPU-trained APNet on real recorded speech (see "
        f"`pretrained/{ckpt.name}/MODEL_CARD.md`: what it gains over Griffin-Lim and what not); the "
        "synthetic-speech `apnet_tiny` and a full-size recipe on LJSpeech (`recipes/apnet_ljspeech/`) "
        "are the alternatives."
    )
