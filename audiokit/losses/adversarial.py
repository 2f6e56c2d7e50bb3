"""Adversarial (LSGAN, hinge) and feature-matching losses over lists of discriminator outputs.

Each function takes the per-sub-discriminator lists returned by
:mod:`audiokit.discriminators` (``logits``: ``(B, L_k)`` tensors; ``fmaps``: lists of tensors),
sums the per-sub-discriminator means as the official code, and returns the total together with the
individual terms (tensors; call ``.item()`` for logging). Arguments come generated first, real second
(``(pred, target)``, the order of every loss in :mod:`audiokit.losses`); the discriminator losses
return ``(total, real terms, fake terms)``.

=================  ===============================  ===========================================
kind               generator                        discriminator
=================  ===============================  ===========================================
``"lsgan"``        ``sum_k mean((1 - D_k(G))^2)``   ``sum_k mean((1 - D_k(y))^2) + mean(D_k(G)^2)``
``"hinge"``        ``sum_k mean(relu(1 - D_k(G)))``  ``sum_k mean(relu(1 - D_k(y))) + mean(relu(1 + D_k(G)))``
=================  ===============================  ===========================================

APNet (and HiFi-GAN) use LSGAN; APNet2 and AP-BWE use hinge. Feature matching is
``scale * sum_k sum_l mean |f_kl(y) - f_kl(G)|`` with ``scale=2`` in APNet/HiFi-GAN and 1 in
APNet2/AP-BWE (which weight their spectral discriminators' terms by 0.1 on top).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

__all__ = [
    "lsgan_generator_loss",
    "lsgan_discriminator_loss",
    "hinge_generator_loss",
    "hinge_discriminator_loss",
    "generator_adversarial_loss",
    "discriminator_adversarial_loss",
    "feature_matching_loss",
    "FEATURE_MATCHING_SCALES",
]

Kind = Literal["lsgan", "hinge"]

#: Feature-matching scale of each paper's official ``feature_loss``.
FEATURE_MATCHING_SCALES = {"hifigan": 2.0, "apnet": 2.0, "apnet2": 1.0, "ap_bwe": 1.0}


def _nonempty(xs: Sequence, what: str) -> None:
    if len(xs) == 0:
        raise ValueError(f"{what}: no discriminator outputs")


def _paired(fake: Sequence, real: Sequence, what: str) -> None:
    _nonempty(fake, what)
    if len(real) != len(fake):
        raise ValueError(f"{what}: {len(real)} real vs {len(fake)} generated discriminator outputs")


def lsgan_generator_loss(fake_logits: Sequence[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``(sum_k mean((1 - D_k)^2), [per-k terms])`` for the generator (least squares GAN)."""
    _nonempty(fake_logits, "lsgan_generator_loss")
    terms = [torch.mean((1 - dg) ** 2) for dg in fake_logits]
    return _sum(terms), terms


def lsgan_discriminator_loss(
    fake_logits: Sequence[torch.Tensor], real_logits: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """``(sum_k [mean((1 - D_k(y))^2) + mean(D_k(G)^2)], real terms, fake terms)``."""
    _paired(fake_logits, real_logits, "lsgan_discriminator_loss")
    real = [torch.mean((1 - dr) ** 2) for dr in real_logits]
    fake = [torch.mean(dg**2) for dg in fake_logits]
    return _sum([r + g for r, g in zip(real, fake)]), real, fake


def hinge_generator_loss(fake_logits: Sequence[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``(sum_k mean(relu(1 - D_k)), [per-k terms])`` for the generator (hinge GAN)."""
    _nonempty(fake_logits, "hinge_generator_loss")
    terms = [torch.mean(torch.clamp(1 - dg, min=0)) for dg in fake_logits]
    return _sum(terms), terms


def hinge_discriminator_loss(
    fake_logits: Sequence[torch.Tensor], real_logits: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """``(sum_k [mean(relu(1 - D_k(y))) + mean(relu(1 + D_k(G)))], real terms, fake terms)``."""
    _paired(fake_logits, real_logits, "hinge_discriminator_loss")
    real = [torch.mean(torch.clamp(1 - dr, min=0)) for dr in real_logits]
    fake = [torch.mean(torch.clamp(1 + dg, min=0)) for dg in fake_logits]
    return _sum([r + g for r, g in zip(real, fake)]), real, fake


def generator_adversarial_loss(
    fake_logits: Sequence[torch.Tensor], kind: Kind = "hinge"
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Dispatch to :func:`lsgan_generator_loss` or :func:`hinge_generator_loss`."""
    if kind == "lsgan":
        return lsgan_generator_loss(fake_logits)
    if kind == "hinge":
        return hinge_generator_loss(fake_logits)
    raise ValueError(f"unknown adversarial loss {kind!r}; use 'lsgan' or 'hinge'")


def discriminator_adversarial_loss(
    fake_logits: Sequence[torch.Tensor], real_logits: Sequence[torch.Tensor], kind: Kind = "hinge"
) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """Dispatch to :func:`lsgan_discriminator_loss` or :func:`hinge_discriminator_loss`."""
    if kind == "lsgan":
        return lsgan_discriminator_loss(fake_logits, real_logits)
    if kind == "hinge":
        return hinge_discriminator_loss(fake_logits, real_logits)
    raise ValueError(f"unknown adversarial loss {kind!r}; use 'lsgan' or 'hinge'")


def feature_matching_loss(
    fake_fmaps: Sequence[Sequence[torch.Tensor]],
    real_fmaps: Sequence[Sequence[torch.Tensor]],
    scale: float = 1.0,
) -> torch.Tensor:
    """``scale * sum_k sum_l mean |f_kl(y) - f_kl(G)|`` over sub-discriminators ``k`` and layers ``l``.

    ``scale=2`` reproduces APNet/HiFi-GAN, ``1`` APNet2/AP-BWE (:data:`FEATURE_MATCHING_SCALES`).
    The real feature maps are not detached (as the official code); detach them to save memory.
    """
    _paired(fake_fmaps, real_fmaps, "feature_matching_loss")
    terms = []
    for k, (dr, dg) in enumerate(zip(real_fmaps, fake_fmaps)):
        if len(dr) != len(dg):
            raise ValueError(f"feature_matching_loss: sub-discriminator {k} has {len(dr)} vs {len(dg)} maps")
        for rl, gl in zip(dr, dg):
            if rl.shape != gl.shape:
                raise ValueError(
                    f"feature_matching_loss: sub-discriminator {k} map shapes {tuple(rl.shape)} vs "
                    f"{tuple(gl.shape)} (real and generated waveforms must have the same length)"
                )
            terms.append(torch.mean(torch.abs(rl - gl)))
    return _sum(terms) * scale


def _sum(terms: list[torch.Tensor]) -> torch.Tensor:
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total
