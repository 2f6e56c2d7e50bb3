"""Scaling, unit conversions and frame-to-sample resampling (ddsp.md §1.2-1.3, §3.1 items 1 and 5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from audiokit.ddsp import core


def _exp_sigmoid_ref(x, exponent=10.0, max_value=2.0, threshold=1e-7):
    s = 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))
    return max_value * s ** np.log(exponent) + threshold


def test_exp_sigmoid_table():
    # ddsp.md §1.2 values (computed in float64 there)
    table = {
        -10: 1.002e-7,
        -5: 1.979e-5,
        -3: 1.788e-3,
        0: 0.40540,
        2: 1.493,
        3: 1.7883,
        5: 1.9693,
        10: 1.99979,
    }
    x = torch.tensor(list(table), dtype=torch.float64)
    got = core.exp_sigmoid(x).numpy()
    np.testing.assert_allclose(got, list(table.values()), rtol=2e-3)  # the table is rounded
    np.testing.assert_allclose(
        core.exp_sigmoid(x.float()).double().numpy(), _exp_sigmoid_ref(x.numpy()), rtol=1e-6
    )


@pytest.mark.parametrize("kw", [{"threshold": 1e-3}, {"max_value": 5.0}, {"exponent": 3.0}])
def test_exp_sigmoid_overrides(kw):
    x = torch.linspace(-8, 8, 33)
    np.testing.assert_allclose(
        core.exp_sigmoid(x, **kw).double().numpy(), _exp_sigmoid_ref(x.numpy(), **kw), rtol=1e-6
    )


def test_exp_sigmoid_factor_per_unit():
    # far from 0 the output changes by ~`exponent` per unit of x
    x = torch.tensor([-6.0, -5.0], dtype=torch.float64)
    y = core.exp_sigmoid(x, threshold=0.0)
    assert y[1] / y[0] == pytest.approx(10.0, rel=0.02)


def test_safe_log_replaces_not_adds():
    x = torch.tensor([0.0, -1.0, 1e-6, 2.0])
    np.testing.assert_allclose(core.safe_log(x).numpy(), np.log([1e-5, 1e-5, 1e-6, 2.0]), rtol=1e-6)


def test_power_to_db_floor_and_ref():
    p = torch.tensor([0.0, 1e-12, 1.0, 100.0])
    np.testing.assert_allclose(core.power_to_db(p).numpy(), [-80.0, -80.0, 0.0, 20.0], atol=1e-5)
    np.testing.assert_allclose(
        core.power_to_db(p, ref_db=10.0, range_db=50.0).numpy(), [-50, -50, -10, 10], atol=1e-5
    )


def test_midi_hz_conversions():
    np.testing.assert_allclose(core.midi_to_hz(torch.tensor([69.0, 81.0, 57.0])).numpy(), [440, 880, 220])
    m = core.hz_to_midi(torch.tensor([440.0, 0.0, -3.0, 261.6256]))
    np.testing.assert_allclose(m.numpy(), [69.0, 0.0, 0.0, 60.0], atol=1e-4)
    assert float(core.midi_to_hz(torch.tensor(0.0), midi_zero_silence=True)) == 0.0
    u = torch.linspace(0, 1, 5)
    np.testing.assert_allclose(
        core.hz_to_unit(core.unit_to_hz(u, 20.0, 8000.0), 20.0, 8000.0).numpy(), u.numpy(), atol=1e-5
    )


def test_frequency_heads_ranges():
    x = torch.randn(2, 5, 12)
    f = core.frequencies_softmax(x, depth=4, hz_min=20.0, hz_max=8000.0)
    assert f.shape == (2, 5, 3) and bool((f >= 20 - 1e-3).all() and (f <= 8000 + 1e-2).all())
    g = core.frequencies_sigmoid(torch.full((1, 1, 2), 50.0), depth=2, hz_min=0.0, hz_max=8000.0)
    assert float(g.squeeze()) == pytest.approx(8000.0, rel=1e-4)  # all sigmoids saturated: the top
    c = core.frequencies_critical_bands(torch.zeros(1, 2, 10), scale="mel")
    assert c.shape == (1, 2, 10) and bool((c[0, 0, 1:] > c[0, 0, :-1]).all())


def test_window_resampling_constant_and_positions():
    hop, n_frames = 64, 10
    x = torch.randn(2, n_frames, 3)
    y = core.resample(x, n_frames * hop, "window")
    # frame j lands exactly on sample j * hop
    np.testing.assert_allclose(y[:, ::hop].numpy(), x.numpy(), atol=1e-6)
    const = core.resample(torch.full((1, n_frames), 0.7), n_frames * hop, "window")
    assert float((const - 0.7).abs().max()) < 1e-6  # constant overlap-add
    # raised-cosine cross-fade between frames 3 and 4
    tau = torch.arange(hop, dtype=torch.float64)
    w = 0.5 * (1 + torch.cos(math.pi * tau / hop))
    expect = w * x[0, 3, 0].double() + (1 - w) * x[0, 4, 0].double()
    np.testing.assert_allclose(y[0, 3 * hop : 4 * hop, 0].double().numpy(), expect.numpy(), atol=1e-6)
    # the last frame is held for the final hop
    np.testing.assert_allclose(y[0, -hop:, 0].numpy(), x[0, -1, 0].expand(hop).numpy(), atol=1e-6)


def test_window_resampling_requires_integer_hop():
    with pytest.raises(ValueError, match="divisible"):
        core.resample(torch.zeros(1, 10), 64 * 10 + 3, "window")
    with pytest.raises(ValueError, match="divisible"):
        core.upsample_with_windows(torch.zeros(1, 10, 1), 100, add_endpoint=False)  # 100 % 9 != 0


def test_linear_resampling_matches_tf_image_resize_semantics():
    x = torch.tensor([[0.0, 1.0, 3.0, -2.0]], dtype=torch.float64)
    n = 16
    y = core.resample(x, n, "linear")
    pos = np.arange(n) * 4 / n  # add_endpoint: position n * F / T, last frame held
    ref = np.interp(pos, np.arange(4), x[0].numpy())
    np.testing.assert_allclose(y[0].numpy(), ref)
    y2 = core.resample(x, 7, "linear", add_endpoint=False)  # align corners: endpoints included
    np.testing.assert_allclose(y2[0].numpy(), np.interp(np.linspace(0, 3, 7), np.arange(4), x[0].numpy()))
    assert torch.equal(core.resample(x, 8, "nearest")[0], x[0].repeat_interleave(2))


def test_segment_weights_methods():
    np.testing.assert_allclose(core.segment_weights(4, "linear").numpy(), [1, 0.75, 0.5, 0.25])
    np.testing.assert_allclose(
        core.segment_weights(4, "window").numpy(), [1, 0.8535534, 0.5, 0.1464466], atol=1e-6
    )
    with pytest.raises(ValueError):
        core.segment_weights(4, "cubic")
