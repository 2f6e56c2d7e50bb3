import librosa
import numpy as np
import torch

from audiokit.frontend import STFT, MelSpectrogram, griffin_lim, mel_to_magnitude


def test_griffin_lim_equals_librosa(speech16k):
    x = speech16k[0][:16000]
    s = STFT(1024, 256, pad_mode="constant")
    mag = s(x).abs()
    ours = griffin_lim(mag, s, n_iter=16, length=16000)[0].numpy()
    ref = librosa.griffinlim(
        mag[0].numpy(),
        n_iter=16,
        hop_length=256,
        n_fft=1024,
        length=16000,
        pad_mode="constant",
        init=None,
        momentum=0.99,
    )
    assert np.abs(ours - ref).max() < 1e-3 * np.abs(ref).max()


def test_griffin_lim_reduces_inconsistency(speech16k):
    x = speech16k[0][:16000]
    s = STFT(1024, 256)
    mag = s(x).abs()

    def spectral_convergence(y):
        return float(torch.linalg.norm(s(y).abs() - mag) / torch.linalg.norm(mag))

    sc = [spectral_convergence(griffin_lim(mag, s, n, length=16000)) for n in (0, 4, 32)]
    assert sc[0] > sc[1] > sc[2]
    assert sc[2] < 0.25


def test_mel_to_magnitude_recovers_smooth_spectrum():
    m = MelSpectrogram(16000, 512, 128, n_mels=128, log=False)
    mag = torch.linspace(1.0, 0.1, 257)[None, :, None].repeat(1, 1, 5)
    mel = m.mel_basis @ mag
    rec = mel_to_magnitude(mel, m.mel_basis)
    assert (rec >= 0).all()
    rel = torch.linalg.norm(m.mel_basis @ rec - mel) / torch.linalg.norm(mel)
    assert rel < 1e-2
