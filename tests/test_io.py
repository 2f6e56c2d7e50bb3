import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.io import info, load, resample, save


def test_roundtrip_pcm16_and_float(tmp_path):
    x = 0.5 * torch.sin(torch.linspace(0, 200, 8000)).repeat(2, 1)
    p = save(tmp_path / "a" / "b" / "x.wav", x, 8000)
    y, sr = load(p)
    assert sr == 8000 and y.shape == (2, 8000) and y.dtype == torch.float32
    assert (x - y).abs().max() < 1.0 / 32768 + 1e-6
    p2 = save(tmp_path / "x.flac", x[0], 8000, subtype="PCM_24")
    y2, _ = load(p2)
    assert y2.shape == (1, 8000) and (x[0] - y2[0]).abs().max() < 1e-6
    p3 = save(tmp_path / "f.wav", x, 8000, subtype="FLOAT")
    assert torch.equal(load(p3)[0], x)


def test_load_mono_and_resample(tmp_path):
    sr = 48000
    t = np.arange(sr) / sr
    x = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t + 0.1)]).astype(np.float32) * 0.5
    sf.write(tmp_path / "s.wav", x.T, sr, subtype="FLOAT")
    y, out_sr = load(tmp_path / "s.wav", sr=16000, mono=True)
    assert out_sr == 16000 and y.shape == (1, 16000)
    ref = 0.5 * (np.sin(2 * np.pi * 440 * t[::3]) + np.sin(2 * np.pi * 440 * t[::3] + 0.1)) / 2
    # soxr is linear phase: compare away from the edges
    assert np.abs(y[0, 200:-200].numpy() - ref[200:-200]).max() < 1e-3


def test_resample_shapes():
    x = torch.randn(3, 4410)
    y = resample(x, 44100, 16000)
    assert y.shape == (3, 1600)
    assert resample(x[0], 44100, 44100).shape == (4410,)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        load(tmp_path / "nope.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(ValueError, match="bad.wav"):
        load(bad)
    txt = tmp_path / "notes.wav"
    txt.write_text("hello")
    with pytest.raises(ValueError, match="notes.wav"):
        info(txt)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), np.float32), 16000)
    with pytest.raises(ValueError, match="zero length"):
        load(empty)
    with pytest.raises(ValueError, match="directory"):
        load(tmp_path)


def test_truncated_file_is_reported(tmp_path):
    p = save(tmp_path / "t.wav", torch.randn(1, 16000) * 0.1, 16000)
    data = p.read_bytes()
    (tmp_path / "trunc.wav").write_bytes(data[:30])  # cut inside the header
    with pytest.raises(ValueError, match="trunc.wav"):
        load(tmp_path / "trunc.wav")


def test_nan_file_rejected(tmp_path):
    x = np.zeros((100, 1), np.float32)
    x[10] = np.nan
    sf.write(tmp_path / "n.wav", x, 8000, subtype="FLOAT")
    with pytest.raises(ValueError, match="NaN"):
        load(tmp_path / "n.wav")


def test_save_rejects_bad_input_without_partial_file(tmp_path):
    out = tmp_path / "o.wav"
    with pytest.raises(ValueError, match="NaN"):
        save(out, torch.tensor([0.0, float("nan")]), 8000)
    with pytest.raises(ValueError, match="empty"):
        save(out, torch.zeros(1, 0), 8000)
    with pytest.raises(ValueError, match="shape"):
        save(out, torch.zeros(2, 2, 10), 8000)
    with pytest.raises(ValueError, match=r"\(T, C\)"):
        save(out, torch.zeros(1000, 2), 8000)
    with pytest.raises(ValueError, match="extension"):
        save(tmp_path / "o.xyz", torch.zeros(10), 8000)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_save_clips_with_warning(tmp_path):
    with pytest.warns(UserWarning, match="clipping"):
        p = save(tmp_path / "c.wav", torch.tensor([0.0, 1.5, -2.0]), 8000)
    y, _ = load(p)
    assert y.abs().max() <= 1.0
    with pytest.raises(ValueError, match="full scale"):
        save(tmp_path / "d.wav", torch.tensor([0.0, 1.5]), 8000, clip=False)


def test_save_is_atomic_on_failure(tmp_path, monkeypatch):
    out = tmp_path / "keep.wav"
    save(out, torch.zeros(100), 8000)
    before = out.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sf, "write", boom)
    with pytest.raises(RuntimeError):
        save(out, torch.ones(100) * 0.1, 8000)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]
