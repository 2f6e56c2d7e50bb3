"""Library entry points reject bad input with a ValueError naming the problem, and say when they skip
something (issue 14, row 21)."""

import logging
import os

import numpy as np
import pytest
import torch

from audiokit import metrics
from audiokit.frontend import STFT, MelSpectrogram, mel_filterbank
from audiokit.io import save


def test_timbre_transfer_rejects_multichannel_input():
    from audiokit.ddsp.model import DDSPAutoencoder

    model = DDSPAutoencoder.from_pretrained("ddsp_tiny")
    for audio in (torch.zeros(2, 16000), np.zeros((2, 16000), np.float32), torch.zeros(1, 2, 16000)):
        with pytest.raises(ValueError, match=r"mono.*\(2, 16000\)|\(1, 2, 16000\)"):
            model.timbre_transfer(audio, 16000)
    with pytest.raises(ValueError, match="empty"):
        model.timbre_transfer(torch.zeros(0), 16000)


def test_a_one_sample_masker_is_rejected(tmp_path, capsys):
    from audiokit.cli import main
    from audiokit.soundscape import MaskerBank

    rng = np.random.default_rng(0)
    save(tmp_path / "m" / "click.wav", np.array([[0.5]], np.float32), 44100)
    save(tmp_path / "m" / "short.wav", np.full((1, 2000), 0.1, np.float32), 44100)  # 45 ms
    save(tmp_path / "m" / "noise.wav", 0.1 * rng.standard_normal((1, 44100)).astype(np.float32), 44100)
    bank = MaskerBank.from_folder(tmp_path / "m", 44100 * 2)
    assert bank.names == ["noise.wav"]
    assert set(bank.failures) == {"click.wav", "short.wav"}
    assert "too short" in bank.failures["click.wav"] and "1 sample" in bank.failures["click.wav"]
    save(tmp_path / "scape.wav", 0.1 * rng.standard_normal((2, 44100)).astype(np.float32), 44100)
    argv = ["masker", "mix", str(tmp_path / "scape.wav"), str(tmp_path / "m" / "click.wav")]
    assert main([*argv, str(tmp_path / "o.wav"), "--gain-db", "0"]) == 2
    err = capsys.readouterr().err
    assert "click.wav" in err and "too short" in err
    assert not (tmp_path / "o.wav").exists()


def test_unreadable_subfolder_is_reported_not_skipped_silently(tmp_path, caplog, monkeypatch):
    """The listing error is injected (a chmod 000 folder stays readable to root, who runs CI here)."""
    real_scandir = os.scandir

    def scandir(path=".", *a, **k):
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path, *a, **k)

    monkeypatch.setattr(os, "scandir", scandir)
    from audiokit.batch import find_audio

    save(tmp_path / "ok" / "a.wav", np.zeros((1, 100), np.float32), 8000)
    save(tmp_path / "locked" / "b.wav", np.zeros((1, 100), np.float32), 8000)
    with caplog.at_level(logging.WARNING, logger="audiokit.batch"):
        found = find_audio(tmp_path)
    assert [str(p) for p in found] == [os.path.join("ok", "a.wav")]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("locked" in m and "Permission denied" in m for m in warned), warned


def test_stft_rejects_empty_and_integer_audio():
    stft = STFT(512, 128)
    with pytest.raises(ValueError, match="empty"):
        stft(torch.zeros(1, 0))
    with pytest.raises(ValueError, match="empty"):
        STFT(512, 128, padding="same")(torch.zeros(0))
    with pytest.raises(ValueError, match=r"floating.*int16"):
        stft(torch.zeros(1, 16000, dtype=torch.int16))
    with pytest.raises(ValueError, match="floating"):
        stft(torch.zeros(16000, dtype=torch.bool))
    assert stft(torch.zeros(1, 16000, dtype=torch.float64)).dtype == torch.complex128  # still fine


def test_mel_rejects_f_max_above_nyquist_and_no_bands():
    with pytest.raises(ValueError, match="Nyquist"):
        MelSpectrogram(16000, 1024, 256, f_max=12000)
    with pytest.raises(ValueError, match="n_mels"):
        MelSpectrogram(16000, 1024, 256, n_mels=0)
    with pytest.raises(ValueError, match="n_mels"):
        mel_filterbank(16000, 1024, n_mels=-3)
    assert MelSpectrogram(16000, 1024, 256, f_max=8000).n_mels == 80  # Nyquist itself is fine


def test_pesq_on_silence_is_a_value_error(speech16k):
    wav, sr = speech16k
    with pytest.raises(ValueError, match="reference.*silent"):
        metrics.pesq(torch.zeros(sr), torch.zeros(sr), sr)
    hum = torch.sin(2 * torch.pi * 20 * torch.arange(sr) / sr)  # not silent, but nothing PESQ hears
    with pytest.raises(ValueError, match="no utterances"):
        metrics.pesq(hum, wav[:sr], sr)
    assert 1.0 < metrics.pesq(wav, wav, sr) <= 4.7
