"""Encoders of the DDSP autoencoder: the f0/loudness preprocessor and the MFCC-GRU z encoder."""

from __future__ import annotations

import math

import torch
from torch import nn

from audiokit.ddsp.core import DB_RANGE, F0_RANGE, hz_to_midi, midi_to_hz, resample, safe_log
from audiokit.ddsp.decoders import keras_init_
from audiokit.frontend import STFT, mel_filterbank

__all__ = ["F0LoudnessPreprocessor", "MfccRnnEncoder", "mfcc", "Z_AUDIO_SPECS"]


class F0LoudnessPreprocessor(nn.Module):
    """Scale the conditioning: ``f0_scaled = midi(f0) / 127``, ``ld_scaled = loudness / range + 1``.

    ``range_db`` is 80 for the current loudness definition (120 for the paper-era one). Input and
    output ``(B, F)``.
    """

    def __init__(self, range_db: float = DB_RANGE):
        super().__init__()
        self.range_db = range_db

    def forward(self, f0_hz: torch.Tensor, loudness_db: torch.Tensor) -> dict[str, torch.Tensor]:
        return {
            "f0_hz": f0_hz,
            "loudness_db": loudness_db,
            "f0_scaled": hz_to_midi(f0_hz).to(f0_hz.dtype) / F0_RANGE,
            "ld_scaled": loudness_db / self.range_db + 1.0,
        }

    def invert(self, f0_scaled: torch.Tensor, ld_scaled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return midi_to_hz(f0_scaled * F0_RANGE), (ld_scaled - 1.0) * self.range_db


#: magenta's (fft size, overlap) of the MFCC frames for each number of z frames per 4 s at 16 kHz.
Z_AUDIO_SPECS = {63: (2048, 0.5), 125: (1024, 0.5), 250: (1024, 0.75), 500: (512, 0.75), 1000: (256, 0.75)}


def _dct_matrix(n_in: int, n_out: int, dtype=torch.float32) -> torch.Tensor:
    """TF's ``mfccs_from_log_mel_spectrograms``: unnormalised DCT-II scaled by ``1 / sqrt(2 N)``."""
    n = torch.arange(n_in, dtype=torch.float64)
    k = torch.arange(n_out, dtype=torch.float64)
    basis = 2.0 * torch.cos(math.pi * k[:, None] * (2 * n[None] + 1) / (2 * n_in))
    return (basis / math.sqrt(2.0 * n_in)).to(dtype)  # (n_out, n_in)


def mfcc(
    audio: torch.Tensor,
    sample_rate: int = 16000,
    fft_size: int = 1024,
    overlap: float = 0.75,
    n_mels: int = 128,
    n_mfcc: int = 30,
    f_min: float = 20.0,
    f_max: float = 8000.0,
) -> torch.Tensor:
    """MFCCs as magenta computes them: log (safe_log) of an HTK mel-weighted *magnitude* spectrogram,
    then a DCT-II. ``(B, T)`` -> ``(B, N, n_mfcc)`` with centred frames."""
    hop = int(fft_size * (1.0 - overlap))
    mag = STFT(fft_size, hop, padding="center", pad_mode="constant").to(audio.device)(audio).abs()
    fb = mel_filterbank(
        sample_rate, fft_size, n_mels, f_min, min(f_max, sample_rate / 2), htk=True, norm=None
    )
    mel = torch.einsum("mf,bfn->bnm", fb.to(mag), mag)
    return safe_log(mel) @ _dct_matrix(n_mels, n_mfcc).to(mag).T


class _InstanceNorm(nn.Module):
    """Normalise each channel over time (per example), then a learnable per-channel scale and shift."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(channels))
        self.shift = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, C)
        mean = x.mean(1, keepdim=True)
        var = x.var(1, keepdim=True, unbiased=False)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.scale + self.shift


class MfccRnnEncoder(nn.Module):
    """z encoder of the DDSP autoencoder (magenta's ``MfccTimeDistributedRnnEncoder``).

    MFCCs (30 from 128 mel bands, 20-8000 Hz) -> instance norm -> GRU -> Dense(z_dims); then the z
    frames are resampled linearly to the decoder's frames. ``z_time_steps`` picks magenta's MFCC
    framing (frames per 4 s at 16 kHz: 63, 125, 250, 500 or 1000). ``(B, T)`` audio -> ``(B, F, z_dims)``.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        z_dims: int = 16,
        z_time_steps: int = 125,
        rnn_channels: int = 512,
        rnn_type: str = "gru",
        n_mfcc: int = 30,
        n_mels: int = 128,
    ):
        super().__init__()
        if z_time_steps not in Z_AUDIO_SPECS:
            raise ValueError(f"z_time_steps must be one of {sorted(Z_AUDIO_SPECS)}, got {z_time_steps}")
        self.sample_rate = sample_rate
        self.fft_size, self.overlap = Z_AUDIO_SPECS[z_time_steps]
        self.n_mfcc, self.n_mels = n_mfcc, n_mels
        self.norm = _InstanceNorm(n_mfcc)
        self.rnn = (nn.GRU if rnn_type == "gru" else nn.LSTM)(n_mfcc, rnn_channels, batch_first=True)
        self.dense_out = nn.Linear(rnn_channels, z_dims)
        keras_init_(self)

    def forward(self, audio: torch.Tensor, n_frames: int) -> torch.Tensor:
        x = mfcc(audio, self.sample_rate, self.fft_size, self.overlap, self.n_mels, self.n_mfcc)
        z, _ = self.rnn(self.norm(x))
        z = self.dense_out(z)
        return resample(z, n_frames, "linear") if z.shape[1] != n_frames else z
