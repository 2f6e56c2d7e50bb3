"""Demo step: DDSP synthesis - a phrase from pitch and loudness, timbre transfer of the bundled speech
with the shipped tiny model and as violin and flute (the FluidR3-trained models, auto-adjusted to their
register and dynamics), a melody from ``audiokit synth notes --model ddsp_violin``, the tiny model's
resynthesis metrics, and the phase precision of long renders."""

from __future__ import annotations

import math

import numpy as np
import torch

from audiokit.assets import speech_files
from audiokit.demo import DemoContext
from audiokit.io import load, save
from audiokit.plot import save_spectrograms

ORDER = 40
TITLE = "DDSP: harmonic-plus-noise synthesis, timbre transfer and phase precision"

PHRASE = ["C4", "E4", "G4", "C5", "B4", "G4", "A4", "F4"]
INSTRUMENTS = ("ddsp_violin", "ddsp_flute")
# the opening of "Ode to Joy" (E5 E5 F5 G5 G5 F5 E5 D5 C5 C5 D5 E5 E5. D5 D5), one octave up on the violin
MELODY = "E5,E5,F5,G5,G5,F5,E5,D5,C5,C5,D5,E5,E5,D5,D5"
MELODY_DUR = "0.4,0.4,0.4,0.4,0.4,0.4,0.4,0.4,0.4,0.4,0.4,0.4,0.6,0.2,0.8"
MELODY_LD = "-8,-10,-8,-4,-2,-4,-6,-8,-10,-10,-8,-6,-4,-8,-6"


def _phrase_controls(fast: bool):
    import librosa

    from audiokit.ddsp import notes_to_controls

    notes = PHRASE[:4] if fast else PHRASE
    f0 = [float(librosa.note_to_hz(n)) for n in notes]
    dur = [0.35 if i % 3 else 0.6 for i in range(len(notes))]
    ld = [-22.0 - 4.0 * (i % 2) for i in range(len(notes))]
    return notes_to_controls(f0, dur, ld, 250, vibrato_cents=18.0)


def _normalise(y: torch.Tensor) -> torch.Tensor:
    peak = float(y.abs().max())
    return y * (0.9 / peak) if peak > 0.9 else y


def _phase_table(fast: bool) -> list[list[object]]:
    from audiokit.ddsp.oscillators import harmonic_phase, segment_phase

    sr, secs = 48000, (10 if fast else 60)
    hop, n_frames = sr // 250, secs * 250
    n = np.arange(1, n_frames * hop + 1, dtype=np.int64)
    phase, _ = segment_phase(torch.full((1, n_frames + 1, 1), 440.0), hop, sr, dtype=torch.float64)
    rows = []
    for k in (1, 60):
        exact = 2 * np.pi * ((k * 440 * n) % sr) / sr
        ours = harmonic_phase(phase[0, :, 0].float(), k).double().numpy()
        port = torch.cumsum(torch.full((n.size,), 2 * math.pi * k * 440 / sr), 0).double().numpy()
        err = [float(np.abs((p - exact + np.pi) % (2 * np.pi) - np.pi).max()) for p in (ours, port)]
        rows.append([f"{secs} s, 440 Hz @ 48 kHz", k, f"{err[0]:.2e}", f"{err[1]:.2e}"])
    return rows


def run(ctx: DemoContext) -> None:
    from audiokit.ddsp import synthesize
    from audiokit.ddsp.model import DDSPAutoencoder, resolve_pretrained

    out = ctx.step_dir("ddsp")
    sr = 16000
    f0, ld = _phrase_controls(ctx.fast)
    gen = torch.Generator().manual_seed(0)
    noise = torch.full((1, f0.numel(), 65), 2e-4)
    with torch.no_grad():
        direct = _normalise(synthesize(f0[None], ld[None], noise_magnitudes=noise, generator=gen)[0])
    save(out / "phrase_direct.wav", direct[None], sr)
    figures = [("phrase, direct synthesis", direct, sr)]

    try:
        model = DDSPAutoencoder.from_pretrained(resolve_pretrained("ddsp_tiny"))
    except FileNotFoundError as e:
        model = None
        ctx.add_text(f"No pretrained DDSP model ({e}); model renders skipped.")
    if model is not None:
        model.processor_group.modules_by_name["filtered_noise"].generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            via_model = _normalise(model(f0[None], ld[None])["audio"][0])
        save(out / "phrase_ddsp_tiny.wav", via_model[None], sr)
        figures.append(("phrase, ddsp_tiny", via_model, sr))
    png = save_spectrograms(out / "phrase.png", figures, title="DDSP phrase")
    ctx.add_image(png, "DDSP phrase")

    if model is not None:
        wav, wsr = load(speech_files(16000)[0], mono=True)
        x = wav[0, : wsr * 2] if ctx.fast else wav[0]
        y = _normalise(model.timbre_transfer(x, wsr, pitch_shift=12.0))
        save(out / "speech_timbre_transfer.wav", y[None], sr)
        png = save_spectrograms(
            out / "timbre_transfer.png",
            [("bundled speech", x, wsr), ("timbre transfer (+12 st), ddsp_tiny", y, sr)],
            title="Timbre transfer",
        )
        ctx.add_image(png, "timbre transfer")
        ctx.add_table(
            *_resynthesis(model, ctx.fast),
            caption="ddsp_tiny resynthesis of held-out synthetic-instrument phrases",
        )

    _instruments(ctx, out)

    ctx.add_table(
        ["render", "harmonic k", "phase error audiokit (rad)", "phase error float32 cumsum (rad)"],
        _phase_table(ctx.fast),
        caption="Max phase error of harmonic k against the exact phase (float32 outputs).",
    )


def _instruments(ctx: DemoContext, out) -> None:
    """The bundled speech as violin and flute (auto-adjust), and a violin melody through the CLI."""
    from audiokit.cli import main as cli_main
    from audiokit.ddsp.model import DDSPAutoencoder, resolve_pretrained

    models = {}
    for name in INSTRUMENTS:
        try:
            models[name] = DDSPAutoencoder.from_pretrained(resolve_pretrained(name))
        except FileNotFoundError as e:
            ctx.add_text(f"No pretrained {name} ({e}); its renders are skipped.")
    if not models:
        return
    rows = []
    for path in speech_files(16000)[: 1 if ctx.fast else 2]:
        wav, wsr = load(path, mono=True)
        x = wav[0, : wsr * 2] if ctx.fast else wav[0]
        figures = [(f"bundled speech ({path.name})", x, wsr)]
        for name, model in models.items():
            feats = model.features(x)
            _, _, info = model.adjust_controls(feats["f0_hz"], feats["loudness_db"], feats["f0_confidence"])
            y = _normalise(model.timbre_transfer(x, wsr, auto_adjust=True))
            save(out / f"{path.stem}_as_{name.removeprefix('ddsp_')}.wav", y[None], model.config.sample_rate)
            figures.append((f"{name}, auto-adjust (octave shift {info['octave_shift']:+.0f} st)", y, 16000))
            rows.append([path.name, name, f"{info['octave_shift']:+.0f}", info["loudness"]])
        png = save_spectrograms(
            out / f"{path.stem}_instruments.png", figures, title="Speech as violin and flute"
        )
        ctx.add_image(png, f"{path.stem} as violin and flute")
    ctx.add_table(
        ["clip", "model", "octave shift (st)", "loudness"],
        rows,
        caption="Timbre transfer with auto-adjust: octave shift to the instrument's register, loudness "
        "quantiles matched to its training data",
    )
    if "ddsp_violin" in models:
        melody = out / "melody_violin.wav"
        args = ["synth", "notes", str(melody), "--model", "ddsp_violin", "--f0", MELODY]
        args += [
            "--duration",
            MELODY_DUR,
            f"--loudness={MELODY_LD}",  # "=": the list starts with "-"
            "--vibrato-cents",
            "15",
            "--glide-ms",
            "40",
        ]
        if cli_main(args) == 0:
            wav, wsr = load(melody, mono=True)
            png = save_spectrograms(
                out / "melody_violin.png", [("synth notes --model ddsp_violin", wav[0], wsr)]
            )
            ctx.add_image(png, "a melody on ddsp_violin")


def _resynthesis(model, fast: bool):
    from audiokit.ddsp.evaluation import resynthesis_metrics
    from audiokit.ddsp.synthetic import SyntheticInstrument, random_phrase

    inst = SyntheticInstrument()
    rng = np.random.default_rng(12345)  # phrases not in the training set (seed 0)
    examples = []
    for _ in range(2 if fast else 6):
        f0, ld = random_phrase(inst, 2.0, rng)
        audio = inst.render(torch.from_numpy(f0).float()[None], torch.from_numpy(ld).float()[None])[0]
        examples.append(
            {
                "audio": audio,
                "f0_hz": torch.from_numpy(f0).float(),
                "f0_confidence": torch.from_numpy((ld > -75).astype(np.float32)),
            }
        )
    m = resynthesis_metrics(model, examples)
    return ["metric", "value"], [
        ["spectral loss (6 scales, L1 mag + log mag)", m["spectral_loss"]],
        ["loudness L1 (dB)", m["loudness_l1_db"]],
        ["f0 L1 (semitones, pYIN on the output)", m["f0_l1_midi"]],
        ["f0 outlier ratio", m["f0_outlier_ratio"]],
    ]
