"""LSGAN, hinge and feature-matching losses: hand values and official values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from audiokit.losses import (
    FEATURE_MATCHING_SCALES,
    discriminator_adversarial_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
)
from tests.losses.seeded import seeded_fmaps, seeded_logits

OFFICIAL = json.loads((Path(__file__).parents[1] / "data" / "official" / "losses.json").read_text())["values"]
T = torch.tensor


def test_lsgan_hand_values():
    total, terms = lsgan_generator_loss([T([[1.0, 1.0]]), T([[0.0]])])
    assert total.item() == 1.0 and [t.item() for t in terms] == [0.0, 1.0]
    total, real, fake = lsgan_discriminator_loss(
        [T([[0.0]]), T([[1.0, -1.0]])], [T([[1.0]]), T([[0.0, 2.0]])]
    )
    assert [r.item() for r in real] == [0.0, 1.0] and [f.item() for f in fake] == [0.0, 1.0]
    assert total.item() == 2.0


def test_hinge_hand_values():
    total, terms = hinge_generator_loss([T([[2.0, -1.0]])])  # mean(relu(1-2), relu(1+1)) = 1
    assert total.item() == 1.0
    total, real, fake = hinge_discriminator_loss([T([[-2.0]]), T([[0.0]])], [T([[2.0]]), T([[0.0]])])
    assert [r.item() for r in real] == [0.0, 1.0] and [f.item() for f in fake] == [0.0, 1.0]
    assert total.item() == 2.0


def test_official_values():
    real, fake = seeded_logits()
    assert lsgan_discriminator_loss(fake, real)[0].item() == pytest.approx(
        OFFICIAL["apnet_lsgan_d"], rel=1e-6
    )
    assert lsgan_generator_loss(fake)[0].item() == pytest.approx(OFFICIAL["apnet_lsgan_g"], rel=1e-6)
    for repo in ("apnet2", "ap_bwe"):
        assert hinge_discriminator_loss(fake, real)[0].item() == pytest.approx(
            OFFICIAL[f"{repo}_hinge_d"], rel=1e-6
        )
        assert hinge_generator_loss(fake)[0].item() == pytest.approx(OFFICIAL[f"{repo}_hinge_g"], rel=1e-6)
    fr, fg = seeded_fmaps()
    for repo in ("apnet", "apnet2", "ap_bwe"):
        got = feature_matching_loss(fg, fr, FEATURE_MATCHING_SCALES[repo]).item()
        assert got == pytest.approx(OFFICIAL[f"{repo}_fm"], rel=1e-6)


def test_feature_matching_by_hand():
    real = [[T([[1.0, 2.0]]), T([[0.0]])], [T([[3.0]])]]
    fake = [[T([[0.0, 0.0]]), T([[1.0]])], [T([[1.0]])]]
    assert feature_matching_loss(fake, real).item() == pytest.approx(1.5 + 1.0 + 2.0)
    assert feature_matching_loss(fake, real, scale=2.0).item() == pytest.approx(9.0)
    with pytest.raises(ValueError, match="same length"):
        feature_matching_loss([[T([1.0, 2.0])]], [[T([1.0])]])
    with pytest.raises(ValueError, match="maps"):
        feature_matching_loss([[T([1.0]), T([1.0])]], [[T([1.0])]])


def test_dispatch_and_errors():
    real, fake = seeded_logits()
    assert torch.equal(generator_adversarial_loss(fake, "lsgan")[0], lsgan_generator_loss(fake)[0])
    assert torch.equal(discriminator_adversarial_loss(fake, real)[0], hinge_discriminator_loss(fake, real)[0])
    with pytest.raises(ValueError, match="unknown adversarial"):
        generator_adversarial_loss(fake, "wgan")
    with pytest.raises(ValueError, match="no discriminator outputs"):
        hinge_generator_loss([])
    with pytest.raises(ValueError, match="4 real vs 3"):
        lsgan_discriminator_loss(fake[:3], real)


def test_gradients_flow_to_logits():
    fake = [torch.randn(2, 5, requires_grad=True) for _ in range(2)]
    (hinge_generator_loss(fake)[0] + lsgan_generator_loss(fake)[0]).backward()
    assert all(f.grad is not None and torch.isfinite(f.grad).all() for f in fake)
