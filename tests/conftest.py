"""Shared fixtures: bundled speech and small synthetic signals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audiokit.assets import speech_path
from audiokit.io import load


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture
def one_thread():
    """Tiny models run far faster on one thread (no OpenMP spinning on a shared 2-core box); use
    with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def speech16k() -> tuple[torch.Tensor, int]:
    """Bundled 16 kHz speech, mono ``(T,)``."""
    wav, sr = load(speech_path("slt_16k.wav"), mono=True)
    return wav[0], sr


@pytest.fixture(scope="session")
def speech48k() -> tuple[torch.Tensor, int]:
    wav, sr = load(speech_path("slt_48k.wav"), mono=True)
    return wav[0], sr


def tone(freq: float, sr: int, seconds: float, amp: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(sr * seconds), dtype=torch.float64) / sr
    return (amp * torch.sin(2 * torch.pi * freq * t)).float()
