"""f0_pyin: long inputs in blocks with context give the frames of one whole-file pass."""

from __future__ import annotations

import numpy as np
import torch

from audiokit.assets import speech_files
from audiokit.frontend import f0_pyin
from audiokit.io import load


def test_blocked_pyin_equals_one_pass():
    x = torch.cat([load(f, sr=16000, mono=True)[0][0] for f in speech_files(16000)])[: 16000 * 8]
    f_one, v_one = f0_pyin(x, 16000, 256, block_seconds=None)
    f_blk, v_blk = f0_pyin(x, 16000, 256, block_seconds=1.5, margin_seconds=0.5)  # 6 block edges
    assert f_blk.shape == f_one.shape == (1 + x.numel() // 256,)
    assert v_blk.mean() > 0.3  # speech: a real comparison of voiced frames
    assert np.mean(v_blk == v_one) >= 0.99
    both = v_blk & v_one
    cents = 1200 * np.abs(np.log2(f_blk[both] / f_one[both]))
    assert np.mean(cents < 1.0) >= 0.99
