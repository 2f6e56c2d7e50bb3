"""Bundled data and models: where ``resolve_pretrained`` looks, in which order."""

from __future__ import annotations

import pytest

from audiokit.assets import PRETRAINED_DIR, resolve_pretrained


def test_resolve_pretrained_order_and_error(tmp_path, monkeypatch):
    monkeypatch.delenv("AUDIOKIT_PRETRAINED", raising=False)
    assert resolve_pretrained("apnet_tiny") == PRETRAINED_DIR / "apnet_tiny"
    assert resolve_pretrained(tmp_path) == tmp_path  # an existing folder is taken as is
    (tmp_path / "apnet_tiny").mkdir()
    monkeypatch.setenv("AUDIOKIT_PRETRAINED", str(tmp_path))
    assert resolve_pretrained("apnet_tiny") == tmp_path / "apnet_tiny"  # the variable comes first
    with pytest.raises(FileNotFoundError, match="nope: no such model folder"):
        resolve_pretrained("nope")


def test_bundled_real_speech_clips():
    """Recorded human speech clips: mono 16 kHz, speech-like level, with provenance and licence."""
    import numpy as np
    import soundfile as sf

    from audiokit.assets import ASSETS_DIR, real_speech_files

    files = real_speech_files()
    assert len(files) == 4
    readme = (ASSETS_DIR / "speech" / "real" / "README.md").read_text()
    assert "GPL-2.0" in readme
    for f in files:
        assert f.name in readme
        x, sr = sf.read(f)
        assert sr == 16000 and x.ndim == 1 and 1.5 < len(x) / sr < 4.0
        rms_db = 20 * np.log10(np.sqrt(np.mean(x**2)))
        assert -30 < rms_db < -10 and np.abs(x).max() < 1.0
