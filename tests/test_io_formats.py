"""``audiokit.io.save`` picks a subtype per format, so ogg/mp3/flac/aiff/wav outputs work without one
(issue 14, row 14); a subtype a format cannot write is a ValueError before anything is written."""

import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.cli import main
from audiokit.io import load, save, writable_subtype

SR = 16000
#: extension -> (format subtype written by default, tolerance of the read-back)
CASES = {
    ".wav": ("PCM_16", 1e-4),
    ".flac": ("PCM_16", 1e-4),
    ".aiff": ("PCM_16", 1e-4),
    ".ogg": ("VORBIS", None),
    ".mp3": ("MPEG_LAYER_III", None),
}


def _tone(seconds: float = 1.0, freq: float = 440.0) -> torch.Tensor:
    t = torch.arange(int(SR * seconds), dtype=torch.float64) / SR
    return (0.5 * torch.sin(2 * torch.pi * freq * t)).float()[None]


def _lag_corr(a: np.ndarray, b: np.ndarray, max_lag: int = 2000) -> float:
    """Largest normalised correlation of ``b`` against ``a`` over the lags that lossy codecs add."""
    n = min(len(a), len(b)) - max_lag
    ref = a[max_lag // 2 : max_lag // 2 + n]
    best = 0.0
    for lag in range(0, max_lag):
        seg = b[lag : lag + n]
        if len(seg) < n:
            break
        best = max(best, float(np.dot(ref, seg) / (np.linalg.norm(ref) * np.linalg.norm(seg) + 1e-12)))
    return best


@pytest.mark.parametrize("ext", sorted(CASES))
def test_save_default_subtype_per_format_reads_back(ext, tmp_path):
    x = _tone()
    path = save(tmp_path / f"x{ext}", x, SR)
    subtype, tol = CASES[ext]
    assert sf.info(str(path)).subtype == subtype
    y, sr = load(path)
    assert sr == SR and y.shape[0] == 1
    if tol is not None:  # lossless: sample for sample
        assert y.shape == x.shape
        torch.testing.assert_close(y, x, atol=tol, rtol=0)
    else:  # lossy: the same tone, up to the codec's delay and padding
        assert abs(y.shape[-1] - x.shape[-1]) < 0.1 * SR
        assert _lag_corr(x[0].numpy(), y[0].numpy()) > 0.99


def test_lossy_formats_clip_out_of_range_samples_with_a_warning(tmp_path):
    x = _tone() * 3.0
    with pytest.warns(UserWarning, match="clipping"):
        save(tmp_path / "x.ogg", x, SR)
    y, _ = load(tmp_path / "x.ogg")
    assert float(y.abs().max()) < 1.2  # written from clipped samples, not from a 1.5 peak


def test_save_rejects_a_subtype_the_format_cannot_write(tmp_path):
    # libsndfile's check_format accepts WAV + MPEG_LAYER_III but cannot write it
    for ext, subtype in ((".wav", "MPEG_LAYER_III"), (".ogg", "PCM_16"), (".flac", "FLOAT")):
        with pytest.raises(ValueError, match="not valid for format"):
            save(tmp_path / f"x{ext}", _tone(), SR, subtype=subtype)
        assert not list(tmp_path.iterdir())


def test_writable_subtype():
    assert writable_subtype("a.wav", "MPEG_LAYER_III") == "PCM_16"  # an mp3 input's subtype
    assert writable_subtype("a.wav", "PCM_24") == "PCM_24"
    assert writable_subtype("a.flac", "FLOAT") == "PCM_16"
    assert writable_subtype("a.ogg", None) == "VORBIS"
    assert writable_subtype("a.mp3", "PCM_16") == "MPEG_LAYER_III"


@pytest.mark.parametrize("ext", [".ogg", ".mp3", ".flac"])
def test_synth_notes_and_masker_mix_write_any_format(ext, tmp_path, capsys):
    out = tmp_path / f"notes{ext}"
    assert main(["synth", "notes", str(out), "--f0", "A3,C4", "--duration", "0.3"]) == 0
    y, sr = load(out)
    assert sr == SR and abs(y.shape[-1] - int(0.6 * SR)) < 0.1 * SR and float(y.abs().max()) > 0.01
    save(tmp_path / "scape.wav", _tone(1.0, 300.0).repeat(2, 1), SR)
    save(tmp_path / "masker.wav", _tone(0.5, 700.0), SR)
    mix = tmp_path / f"mix{ext}"
    argv = ["masker", "mix", str(tmp_path / "scape.wav"), str(tmp_path / "masker.wav"), str(mix)]
    assert main([*argv, "--gain-db", "-6"]) == 0
    y, sr = load(mix)
    assert sr == SR and y.shape[0] == 2 and abs(y.shape[-1] - SR) < 0.1 * SR
