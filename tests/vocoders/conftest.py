"""Vocoder tests run tiny models: one intra-op thread is faster for them and immune to OpenMP
barrier stalls when the CI machine is shared."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
