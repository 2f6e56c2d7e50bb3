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
