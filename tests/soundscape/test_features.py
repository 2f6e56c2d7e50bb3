"""ARAUS features: parity with the ARAUS computation in librosa, framing, levels, bad input."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from audiokit.soundscape import ARAUS_TOP_DB, a_weighting_db, features, leq_db, mel_power, num_frames
from audiokit.soundscape.features import clip_top_db, db_to_power, power_to_db


def _araus_reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``make_logmel_spectrograms`` of the ARAUS code, written out with librosa on float64 audio:
    (unclipped dB, dB with librosa's default ``top_db=80``)."""
    out, out80 = [], []
    for ch in np.atleast_2d(x).astype(np.float64):
        spec = librosa.stft(np.asfortranarray(ch), n_fft=4096, hop_length=2048, center=False)
        mel = librosa.feature.melspectrogram(
            S=np.abs(spec) ** 2, sr=44100, n_mels=64, hop_length=2048, n_fft=4096, fmin=20, fmax=20000
        )
        out.append(librosa.power_to_db(mel, ref=1.0, top_db=None).astype(np.float32))
        out80.append(librosa.power_to_db(mel, ref=1.0).astype(np.float32))
    return np.stack(out), np.stack(out80)


def _materials(scene, maskers, speech48k):
    rng = np.random.default_rng(3)
    two = 2 * 44100
    speech = librosa.resample(speech48k[0].numpy()[: 2 * 48000], orig_sr=48000, target_sr=44100)
    t = np.arange(two) / 44100
    return {
        "binaural scene": scene[0][:, :two],
        "bird masker": maskers["bird"][0][:, :two],
        "construction masker": maskers["construction"][0][:, :two],
        "speech": speech[None],
        "brown noise": np.cumsum(rng.standard_normal((2, two)), axis=1) * 1e-3,
        "quiet tone": 1e-4 * np.sin(2 * np.pi * 440 * t)[None],
        "loud noise": 0.9 * np.clip(rng.standard_normal((1, 44100)), -1, 1),
    }


@pytest.mark.parametrize("block_frames", [256, 5])  # mel_power works in blocks of frames
def test_features_equal_librosa_araus_computation(scene, maskers, speech48k, block_frames, monkeypatch):
    import importlib

    feats = importlib.import_module("audiokit.soundscape.features")  # the package exports a function too
    monkeypatch.setattr(feats, "MEL_BLOCK_FRAMES", block_frames)
    worst = 0.0
    for name, x in _materials(scene, maskers, speech48k).items():
        ref, ref80 = _araus_reference(np.asarray(x))
        for top_db, r in ((None, ref), (ARAUS_TOP_DB, ref80)):
            ours = features(torch.as_tensor(x), 44100, top_db=top_db).numpy()
            assert (
                ours.shape
                == r.shape
                == (np.atleast_2d(x).shape[0], 64, num_frames(np.atleast_2d(x).shape[-1]))
            )
            err = float(np.abs(ours - r).max())
            worst = max(worst, err)
            assert err < 1e-4, f"{name}, top_db={top_db}: {err} dB"
    assert worst > 0  # a real comparison, not an identical code path


def test_frames_of_30_s_and_silence_floor():
    assert num_frames(1_323_000) == 644  # the (644, 64, 2) ARAUS input
    assert num_frames(4095) == 0 and num_frames(4096) == 1
    f = features(torch.zeros(2, 44100), 44100)
    assert f.shape == (2, 64, 20) and torch.all(f == -100.0)


def test_other_rates_are_resampled():
    t = torch.arange(48000 * 2) / 48000
    x = 0.5 * torch.sin(2 * torch.pi * 1000 * t)
    f48 = features(x, 48000)
    f44 = features(0.5 * torch.sin(2 * torch.pi * 1000 * torch.arange(44100 * 2) / 44100), 44100)
    assert f48.shape == f44.shape
    assert torch.equal(f48[0].mean(-1).argmax(), f44[0].mean(-1).argmax())
    total = [10 * torch.log10(db_to_power(f).sum(-2))[..., 2:-2] for f in (f48, f44)]  # per frame
    assert torch.allclose(total[0], total[1], atol=0.05)


def test_db_helpers_roundtrip_and_top_db():
    p = torch.rand(2, 64, 10) + 1e-3
    assert torch.allclose(db_to_power(power_to_db(p)), p, rtol=1e-5)
    db = torch.tensor([[[0.0, -10.0, -200.0]]])
    assert torch.equal(clip_top_db(db, 80.0), torch.tensor([[[0.0, -10.0, -80.0]]]))
    with pytest.raises(ValueError, match="non-negative"):
        clip_top_db(db, -1.0)


def test_mel_power_is_linear_in_power():
    x = torch.randn(1, 44100) * 0.1
    assert torch.allclose(mel_power(3 * x, 44100), 9 * mel_power(x, 44100), rtol=1e-5)


@pytest.mark.parametrize(
    "bad,match",
    [
        (torch.zeros(2, 0), "empty"),
        (torch.full((1, 44100), float("nan")), "NaN"),
        (torch.zeros(1, 1000), "shorter than one ARAUS frame"),
        (torch.zeros(2, 2, 44100), "expected audio"),
        (torch.zeros(44100, 2), "looks like"),
    ],
)
def test_bad_input_is_named(bad, match):
    with pytest.raises(ValueError, match=match):
        features(bad, 44100, name="clip.wav")


def test_leq_and_a_weighting_closed_forms():
    # IEC 61672 table values (dB) at the exact base-10 centres of the nominal 31.5 Hz ... 10 kHz bands
    table = {10**1.5: -39.4, 100.0: -19.1, 1000.0: 0.0, 10**3.6: 1.0, 10000.0: -2.5}  # exact band centres
    got = a_weighting_db(np.array(list(table)))
    assert np.allclose(got, list(table.values()), atol=0.1)
    t = np.arange(44100 * 2) / 44100
    for f in (100.0, 1000.0, 4000.0):
        x = np.sin(2 * np.pi * f * t)
        assert leq_db(x, 44100, weighting=None) == pytest.approx(-3.0103, abs=1e-3)
        assert leq_db(x, 44100) == pytest.approx(-3.0103 + float(a_weighting_db(np.array([f]))[0]), abs=0.05)
    stereo = np.stack([np.sin(2 * np.pi * 1000 * t), np.zeros_like(t)])
    assert leq_db(stereo, 44100, None) == pytest.approx(-3.0103 - 3.0103, abs=1e-3)  # power-averaged
    assert leq_db(np.zeros((1, 100)), 44100) == -np.inf
