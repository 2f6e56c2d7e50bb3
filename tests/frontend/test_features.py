"""f0_pyin: long inputs in blocks with context give the frames of one whole-file pass."""

from __future__ import annotations

import numpy as np
import torch

from audiokit.assets import speech_files
from audiokit.frontend import StreamingPyin, f0_pyin
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


def _speech(seconds: float) -> torch.Tensor:
    return torch.cat([load(f, sr=16000, mono=True)[0][0] for f in speech_files(16000)])[
        : int(16000 * seconds)
    ]


def test_streaming_pyin_equals_f0_pyin_exactly():
    """Pushed in odd-sized pieces, the stream decodes the same blocks from the same samples."""
    x = _speech(8).numpy()
    kwargs = dict(block_seconds=1.5, margin_seconds=0.5)
    f_ref, v_ref = f0_pyin(x, 16000, 256, **kwargs)
    stream = StreamingPyin(16000, 256, **kwargs)
    outs = [stream.push(x[i : i + 7001]) for i in range(0, x.size, 7001)]
    assert sum(o[0].size for o in outs) > 0  # frames came out before the end: bounded buffer
    outs.append(stream.flush())
    f = np.concatenate([o[0] for o in outs])
    v = np.concatenate([o[1] for o in outs])
    np.testing.assert_array_equal(f, f_ref)
    np.testing.assert_array_equal(v, v_ref)
    assert max(p.size for p in stream._parts) <= (stream.block + 1) * 256 + 2 * stream.margin


def test_streaming_pyin_short_signal_is_one_pass():
    x = _speech(1.2).numpy()
    f_ref, v_ref = f0_pyin(x, 16000, 128, block_seconds=None)
    stream = StreamingPyin(16000, 128)
    assert stream.push(x[:5000])[0].size == 0
    assert stream.push(x[5000:])[0].size == 0
    f, v = stream.flush()
    np.testing.assert_array_equal(f, f_ref)
    np.testing.assert_array_equal(v, v_ref)
    try:
        stream.push(x)
    except ValueError as e:
        assert "after flush" in str(e)
    else:
        raise AssertionError("push after flush must fail")
