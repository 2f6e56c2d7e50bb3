"""Anti-wrapping phase losses: closed forms, boundary terms, numpy (matrix form) and official values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from audiokit.losses import (
    PHASE_LOSS_STYLES,
    PhaseLoss,
    amplitude_weight,
    anti_wrapping,
    group_delay_loss,
    instantaneous_phase_loss,
    phase_difference,
    phase_losses,
    phase_time_difference_loss,
)
from tests.losses.seeded import seeded_phases

OFFICIAL = json.loads((Path(__file__).parents[1] / "data" / "official" / "losses.json").read_text())["values"]
PI = math.pi


def test_anti_wrapping_closed_forms():
    x = torch.tensor([0.0, 2 * PI, -4 * PI, PI, -PI, 3 * PI, 0.5, 2 * PI + 0.5, -0.5])
    torch.testing.assert_close(
        anti_wrapping(x, "abs"),
        torch.tensor([0.0, 0.0, 0.0, PI, PI, PI, 0.5, 0.5, 0.5]),
        atol=2e-6,
        rtol=0,
    )
    torch.testing.assert_close(
        anti_wrapping(x, "cos"),
        torch.tensor([-1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -math.cos(0.5), -math.cos(0.5), -math.cos(0.5)]),
        atol=1e-6,
        rtol=0,
    )
    with pytest.raises(ValueError, match="form"):
        anti_wrapping(x, "square")


def test_anti_wrapping_matches_complex_exponential_wrap():
    x = np.random.default_rng(0).uniform(-30, 30, 1000)
    want = np.abs(np.angle(np.exp(1j * x)))  # independent wrap into (-pi, pi]
    got = anti_wrapping(torch.from_numpy(x), "abs").numpy()
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert got.min() >= 0 and got.max() <= PI


def test_phase_difference_boundaries_by_hand():
    phi = torch.tensor([[1.0, 2.0, 4.0], [0.5, -1.0, 3.0]])  # (F=2, N=3)
    # zero boundary: phi[k-1] - phi[k] with phi[-1] = 0
    assert phase_difference(phi, -1, "zero").tolist() == [[-1.0, -1.0, -2.0], [-0.5, 1.5, -4.0]]
    assert phase_difference(phi, -2, "zero").tolist() == [[-1.0, -2.0, -4.0], [0.5, 3.0, 1.0]]
    # torch.diff: phi[k+1] - phi[k], one shorter
    assert phase_difference(phi, -1, "none").tolist() == [[1.0, 2.0], [-1.5, 4.0]]
    assert phase_difference(phi, -2, "none").tolist() == [[-0.5, -3.0, -1.0]]


@pytest.mark.parametrize("style", sorted(PHASE_LOSS_STYLES))
def test_error_of_2pi_costs_nothing_and_pi_costs_the_maximum(style):
    form, boundary = PHASE_LOSS_STYLES[style]
    target, _ = seeded_phases((2, 9, 7))
    best, worst = (-1.0, 1.0) if form == "cos" else (0.0, PI)
    shifted = torch.tensor([2 * PI, -2 * PI])[torch.randint(0, 2, target.shape)]  # +-2pi anywhere
    terms = phase_losses(target + shifted, target, form, boundary)
    for t in terms:
        assert abs(t.item() - best) < 1e-5
    ip = instantaneous_phase_loss(target + PI, target, form)
    assert abs(ip.item() - worst) < 1e-5
    # an error growing by pi per frame: every time difference is off by pi (the maximum), except the
    # zero-padded boundary term of frame 0, whose error is alt[0] = 0
    alt = PI * torch.arange(7.0)[None, None, :] * torch.ones(2, 9, 1)
    want = worst if boundary == "none" else (6 * worst + best) / 7
    assert abs(phase_time_difference_loss(target + alt, target, form, boundary).item() - want) < 1e-5


@pytest.mark.parametrize("form", ["abs", "cos"])
def test_zero_padded_boundary_term_by_hand(form):
    """A constant phase offset c: only the first bin/frame of the zero-padded differences sees it."""
    c = 1.25
    fbins, frames = 9, 7
    target, _ = seeded_phases((2, fbins, frames))
    pred = target + c
    f = (lambda x: abs(x)) if form == "abs" else (lambda x: -math.cos(x))
    gd = group_delay_loss(pred, target, form, "zero").item()
    ptd = phase_time_difference_loss(pred, target, form, "zero").item()
    assert gd == pytest.approx((f(-c) + (fbins - 1) * f(0.0)) / fbins, abs=1e-6)
    assert ptd == pytest.approx((f(-c) + (frames - 1) * f(0.0)) / frames, abs=1e-6)
    # torch.diff (AP-BWE) has no boundary term: a constant offset is invisible
    assert group_delay_loss(pred, target, form, "none").item() == pytest.approx(f(0.0), abs=1e-6)
    assert phase_time_difference_loss(pred, target, form, "none").item() == pytest.approx(f(0.0), abs=1e-6)


def _numpy_phase_losses(target, pred, form, boundary):
    """Independent numpy version; zero boundary through the official matrix formulation."""
    r, g = target.astype(np.float64), pred.astype(np.float64)
    fn = (lambda x: np.abs(np.angle(np.exp(1j * x)))) if form == "abs" else (lambda x: -np.cos(x))
    fbins, frames = r.shape[-2:]

    def matrix(n):  # -1 on the diagonal, +1 on the super-diagonal
        return np.triu(np.ones((n, n)), 1) - np.triu(np.ones((n, n)), 2) - np.eye(n)

    if boundary == "zero":
        gd = lambda p: np.swapaxes(p, -1, -2) @ matrix(fbins)  # noqa: E731
        ptd = lambda p: p @ matrix(frames)  # noqa: E731
    else:
        gd = lambda p: np.diff(p, axis=-2)  # noqa: E731
        ptd = lambda p: np.diff(p, axis=-1)  # noqa: E731
    return [fn(r - g).mean(), fn(gd(r) - gd(g)).mean(), fn(ptd(r) - ptd(g)).mean()]


@pytest.mark.parametrize("style", sorted(PHASE_LOSS_STYLES))
def test_matches_numpy_and_official(style):
    form, boundary = PHASE_LOSS_STYLES[style]
    target, pred = seeded_phases()
    got = [t.item() for t in PhaseLoss(style)(pred, target)]
    np.testing.assert_allclose(
        got, _numpy_phase_losses(target.numpy(), pred.numpy(), form, boundary), rtol=1e-5
    )
    np.testing.assert_allclose(got, OFFICIAL[f"{style}_phase"], rtol=1e-6)


def test_apnet2_and_ap_bwe_group_delay_differ():
    target, pred = seeded_phases()
    assert PhaseLoss("apnet2")(pred, target).gd.item() != pytest.approx(
        PhaseLoss("ap_bwe")(pred, target).gd.item()
    )


def test_module_options_and_errors():
    target, pred = seeded_phases()
    m = PhaseLoss(None, form="cos", boundary="none")
    terms = m(pred, target)
    assert terms.total.item() == pytest.approx(sum(t.item() for t in terms))
    assert "form='cos'" in repr(m)
    with pytest.raises(ValueError, match="style"):
        PhaseLoss("hifigan")
    with pytest.raises(ValueError, match="form"):
        PhaseLoss(None)
    with pytest.raises(ValueError, match="shapes differ"):
        phase_losses(pred[..., :-1], target)


@pytest.mark.parametrize("style", sorted(PHASE_LOSS_STYLES))
def test_gradients(style):
    form, boundary = PHASE_LOSS_STYLES[style]
    target, pred = (t.double() for t in seeded_phases((1, 5, 4), seed=9))
    pred.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: phase_losses(p, target, form, boundary).total, (pred,))


# ---------------------------------------------------------------- amplitude-weighted phase losses
def _np_wrap(x: np.ndarray, form: str) -> np.ndarray:
    # independent of the code under test: wrap through the complex exponential
    return np.abs(np.angle(np.exp(1j * x))) if form == "abs" else -np.cos(x)


def _np_weighted(target: np.ndarray, pred: np.ndarray, w: np.ndarray, form: str, boundary: str):
    """Weighted IP/GD/PTD written element by element with explicit loops (float64)."""
    B, F, N = target.shape
    e = target - pred
    ip = np.sum(w * _np_wrap(e, form)) / np.sum(w)
    num = {"gd": 0.0, "ptd": 0.0}
    den = {"gd": 0.0, "ptd": 0.0}
    for b in range(B):
        for f in range(F):
            for n in range(N):
                for key, (i0, j0) in (("gd", (f - 1, n)), ("ptd", (f, n - 1))):
                    idx = i0 if key == "gd" else j0
                    if idx < 0:
                        if boundary == "none":
                            continue
                        d, pw = -e[b, f, n], w[b, f, n]  # phi[-1] := 0 on both sides
                    else:
                        prev = (b, i0, j0)
                        d, pw = e[prev] - e[b, f, n], math.sqrt(w[prev] * w[b, f, n])
                    num[key] += pw * _np_wrap(np.array(d), form)
                    den[key] += pw
    return ip, num["gd"] / den["gd"], num["ptd"] / den["ptd"]


@pytest.mark.parametrize("style", sorted(PHASE_LOSS_STYLES))
def test_weighted_phase_losses_match_explicit_loops(style):
    form, boundary = PHASE_LOSS_STYLES[style]
    g = torch.Generator().manual_seed(3)
    target = (torch.rand(2, 7, 6, generator=g, dtype=torch.float64) * 2 - 1) * 3 * PI
    pred = (torch.rand(2, 7, 6, generator=g, dtype=torch.float64) * 2 - 1) * 3 * PI
    w = torch.rand(2, 7, 6, generator=g, dtype=torch.float64) ** 3
    got = phase_losses(pred, target, form, boundary, weight=w)
    want = _np_weighted(target.numpy(), pred.numpy(), w.numpy(), form, boundary)
    np.testing.assert_allclose([float(got.ip), float(got.gd), float(got.ptd)], want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("style", sorted(PHASE_LOSS_STYLES))
def test_uniform_weight_equals_the_published_unweighted_losses(style):
    form, boundary = PHASE_LOSS_STYLES[style]
    target, pred = seeded_phases()
    plain = phase_losses(pred, target, form, boundary)
    weighted = phase_losses(pred, target, form, boundary, weight=torch.full_like(target, 2.5))
    for a, b in zip(plain, weighted):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_zero_weight_bins_do_not_count_and_gradients_follow_the_weight():
    target = torch.zeros(1, 4, 5)
    pred = torch.zeros(1, 4, 5)
    pred[0, 2] = PI  # a whole bin with the worst possible phase ...
    w = torch.ones(1, 4, 5)
    w[0, 2] = 0.0  # ... that carries no weight
    ip = instantaneous_phase_loss(pred, target, "cos", weight=w)
    assert float(ip) == pytest.approx(-1.0)
    ptd = phase_time_difference_loss(pred, target, "abs", "none", weight=w)
    assert float(ptd) == pytest.approx(0.0, abs=1e-7)
    p = pred.clone().requires_grad_(True)
    instantaneous_phase_loss(p + 0.3, target, "cos", weight=w).backward()
    assert torch.all(p.grad[0, 2] == 0) and torch.all(p.grad[0, 1] != 0)


def test_amplitude_weight_normalises_each_utterance_and_checks_shapes():
    a = torch.rand(3, 6, 5) * torch.tensor([1.0, 1e-3, 50.0]).view(3, 1, 1)
    w = amplitude_weight(a)
    torch.testing.assert_close(w.mean(dim=(-2, -1)), torch.ones(3))
    torch.testing.assert_close(w[1] / w[1, 0, 0], a[1] / a[1, 0, 0])
    assert torch.isfinite(amplitude_weight(torch.zeros(1, 2, 2))).all()
    with pytest.raises(ValueError, match="weight"):
        phase_losses(torch.zeros(1, 3, 4), torch.zeros(1, 3, 4), weight=torch.ones(1, 3, 3))
