from __future__ import annotations

import pytest

from tests.train.tiny_tasks import write_tones


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every training test on one thread (see ``one_thread`` in tests/conftest.py)."""
    yield


@pytest.fixture(scope="session")
def tones_dir(tmp_path_factory):
    return write_tones(tmp_path_factory.mktemp("tones"))
