"""Demo step: STFT analysis/resynthesis, log-mel, Griffin-Lim, and the metrics on bundled speech."""

from __future__ import annotations

import torch

from audiokit import metrics
from audiokit.assets import speech_files
from audiokit.demo import DemoContext
from audiokit.frontend import STFT, MelSpectrogram, griffin_lim, mel_to_magnitude
from audiokit.io import load, save
from audiokit.plot import save_spectrograms

ORDER = 10
TITLE = "Frontend: STFT/ISTFT, log-mel and Griffin-Lim on bundled speech"


def run(ctx: DemoContext) -> None:
    out = ctx.step_dir("frontend")
    rows = []
    for path in speech_files():
        wav, sr = load(path, mono=True)
        x = wav[0]
        hop, win = (80, 320) if sr == 16000 else (240, 960)
        stft = STFT(1024 if sr == 16000 else 2048, hop, win)
        recon = stft.inverse(stft(x), length=x.shape[-1])[0]
        mel = MelSpectrogram(sr, stft.n_fft, hop, win, n_mels=80, f_max=sr / 2, log=False)
        mag = mel_to_magnitude(mel(x), mel.mel_basis)
        gl = griffin_lim(mag, stft, n_iter=8 if ctx.fast else 32, length=x.shape[-1])[0]
        gl = gl / max(1.0, float(gl.abs().max()) / 0.99)  # Griffin-Lim can overshoot full scale
        save(out / f"{path.stem}_istft.wav", recon, sr)
        save(out / f"{path.stem}_mel_griffinlim.wav", gl, sr)
        png = save_spectrograms(
            out / f"{path.stem}.png",
            [("original", x, sr), ("STFT -> ISTFT", recon, sr), ("log-mel -> Griffin-Lim", gl, sr)],
            title=path.name,
        )
        ctx.add_image(png, path.name)
        for label, y in (("ISTFT(STFT(x))", recon), ("Griffin-Lim from mel", gl)):
            with torch.no_grad():
                rows.append(
                    [
                        path.name,
                        label,
                        metrics.snr(x, y),
                        metrics.pesq(x, y, sr),
                        metrics.stoi(x, y, sr),
                        metrics.lsd(x, y),
                    ]
                )
    ctx.add_table(
        ["file", "signal", "SNR dB", "PESQ (wb)", "STOI", "LSD"],
        rows,
        caption="Analysis/resynthesis quality against the original (PESQ resampled to 16 kHz).",
    )
