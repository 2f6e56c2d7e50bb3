from __future__ import annotations

import pytest
import torch

from tests.train.tiny_tasks import write_tones


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run far faster on one thread (no OpenMP spinning on a shared 2-core box)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tones_dir(tmp_path_factory):
    return write_tones(tmp_path_factory.mktemp("tones"))
