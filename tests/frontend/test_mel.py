import librosa
import numpy as np
import pytest
import torch

from audiokit.frontend import MelSpectrogram, hz_to_mel, mel_filterbank, mel_to_hz


@pytest.mark.parametrize(
    "sr,n_fft,n_mels,fmin,fmax,htk",
    [
        (16000, 1024, 80, 0.0, 8000.0, False),
        (22050, 1024, 80, 0.0, 8000.0, False),
        (22050, 1024, 80, 0.0, None, False),
        (24000, 1024, 100, 0.0, None, False),
        (44100, 4096, 64, 20.0, 20000.0, False),
        (16000, 512, 40, 50.0, 7000.0, True),
    ],
)
def test_filterbank_equals_librosa(sr, n_fft, n_mels, fmin, fmax, htk):
    ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk=htk).numpy()
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-6


def test_mel_scale_roundtrip_and_librosa():
    f = np.array([0.0, 200.0, 999.0, 1000.0, 4000.0, 11025.0])
    assert np.allclose(hz_to_mel(f), librosa.hz_to_mel(f))
    assert np.allclose(hz_to_mel(f, htk=True), librosa.hz_to_mel(f, htk=True))
    assert np.allclose(mel_to_hz(hz_to_mel(f)), f)


def _apnet_mel_reference(y: np.ndarray, sr, n_fft, hop, win, fmin, fmax):
    """The APNet/APNet2 extractor written out in numpy: reflect pad n_fft/2, periodic Hann(win)
    centred in n_fft, |X| = sqrt(re^2 + im^2 + 1e-9), Slaney mel, ln(clamp(., 1e-5))."""
    pad = n_fft // 2
    yp = np.pad(y.astype(np.float64), (pad, pad), mode="reflect")
    w = np.zeros(n_fft)
    left = (n_fft - win) // 2
    w[left : left + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    n_frames = 1 + (len(yp) - n_fft) // hop
    frames = np.stack([yp[i * hop : i * hop + n_fft] * w for i in range(n_frames)], axis=1)
    spec = np.fft.rfft(frames, axis=0)
    mag = np.sqrt(spec.real**2 + spec.imag**2 + 1e-9)
    mel = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=80, fmin=fmin, fmax=fmax) @ mag
    return np.log(np.maximum(mel, 1e-5))


@pytest.mark.parametrize(
    "sr,hop,win,fmax", [(16000, 80, 320, 8000), (22050, 256, 1024, 8000), (22050, 256, 1024, None)]
)
def test_log_mel_equals_apnet_extractor(speech16k, sr, hop, win, fmax):
    y = (
        speech16k[0][: 3 * sr // 2]
        if sr == 16000
        else torch.from_numpy(librosa.resample(speech16k[0][:24000].numpy(), orig_sr=16000, target_sr=sr))
    )
    y = y[: len(y) - 37]  # not a multiple of the hop
    mel = MelSpectrogram(sr, 1024, hop, win, n_mels=80, f_max=fmax)
    ref = _apnet_mel_reference(y.numpy(), sr, 1024, hop, win, 0.0, fmax)
    ours64 = mel.double()(y.double())[0].numpy()
    assert ours64.shape == ref.shape == (80, 1 + len(y) // hop)
    assert np.abs(ours64 - ref).max() < 1e-6  # same formula
    ours32 = mel.float()(y.float())[0].numpy()
    assert np.abs(ours32 - ref).max() < 5e-4  # float32 rounding in the lowest-energy bins


def test_db_mode_equals_librosa_power_to_db(speech16k):
    y = speech16k[0][:16000].numpy()
    ours = MelSpectrogram(
        16000, 2048, 512, n_mels=64, f_min=20, power=2.0, log="db", log_floor=1e-10, center=True
    )(torch.from_numpy(y))[0].numpy()
    S = librosa.feature.melspectrogram(
        y=y.astype(np.float64),
        sr=16000,
        n_fft=2048,
        hop_length=512,
        n_mels=64,
        fmin=20,
        pad_mode="reflect",
        power=2.0,
    )
    ref = librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=None)
    assert np.abs(ours - ref).max() < 1e-3


def test_mel_batch_and_grad():
    m = MelSpectrogram(16000, 1024, 80, 320, f_max=8000)
    x = torch.randn(3, 4000, requires_grad=True)
    out = m(x)
    assert out.shape == (3, 80, 51)
    out.mean().backward()
    assert torch.isfinite(x.grad).all()
    # one item alone equals it in the batch to float rounding: an absolute tolerance, because a log-mel
    # value near 0 has no relative one (measured 2.4e-7 with AVX2 kernels and 2 threads)
    torch.testing.assert_close(m(x[1:2]), out[1:2], rtol=0, atol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="f_min"):
        mel_filterbank(16000, 1024, 80, 9000, 8000)
    with pytest.raises(ValueError, match="power"):
        MelSpectrogram(16000, 1024, 256, power=3)
