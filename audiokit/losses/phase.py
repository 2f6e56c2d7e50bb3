"""Anti-wrapping phase losses of APNet, APNet2 and AP-BWE.

Three terms compare a target phase spectrum ``phi`` with a predicted one ``phi_hat`` (both
``(..., F, N)``, frequency on dim -2, frames on dim -1):

* instantaneous phase (IP): ``mean f(phi - phi_hat)``;
* group delay (GD): ``mean f(D_f(phi) - D_f(phi_hat))``, ``D_f`` a difference along frequency;
* phase time difference (PTD, AP-BWE's "instantaneous angular frequency", IAF):
  ``mean f(D_t(phi) - D_t(phi_hat))``, ``D_t`` a difference along time.

Two anti-wrapping functions ``f`` are published:

* ``form="cos"`` (APNet): ``f(x) = -cos(x)``, in ``[-1, 1]``; minimum -1 at ``x = 2 pi k``;
* ``form="abs"`` (APNet2, AP-BWE): ``f(x) = |x - 2 pi round(x / 2 pi)|``, in ``[0, pi]``; 0 at
  ``x = 2 pi k``, maximum ``pi`` at ``x = pi + 2 pi k``.

And two difference operators:

* ``boundary="zero"`` (APNet, APNet2): ``D(phi)[k] = phi[k-1] - phi[k]`` with ``phi[-1] := 0``,
  same length as ``phi`` (the official code multiplies by a matrix with -1 on the diagonal and +1 on
  the super-diagonal), so the first bin/frame contributes ``-phi[0]``;
* ``boundary="none"`` (AP-BWE): ``torch.diff``, ``D(phi)[k] = phi[k+1] - phi[k]``, one element shorter.

=========  ========  ==========
paper      form      boundary
=========  ========  ==========
APNet      ``cos``   ``zero``
APNet2     ``abs``   ``zero``
AP-BWE     ``abs``   ``none``
=========  ========  ==========

Every function takes ``(pred, target)`` (torch's order, as every loss of :mod:`audiokit.losses`).
All three accept an optional non-negative ``weight`` ``(..., F, N)`` (e.g. :func:`amplitude_weight`
of the target): the plain mean becomes ``sum(w f) / sum(w)``, and a difference of two elements is
weighted by the geometric mean of their weights. None of the papers weights its phase losses (their
default here is ``weight=None``); weighting by the target amplitude lets a small model spend its
capacity on the harmonics instead of on the random phase of near-silent bins (see
``recipes/apnet_tiny``).
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "PHASE_LOSS_STYLES",
    "PhaseLossTerms",
    "PhaseLoss",
    "anti_wrapping",
    "phase_difference",
    "instantaneous_phase_loss",
    "group_delay_loss",
    "phase_time_difference_loss",
    "phase_losses",
    "amplitude_weight",
]

Form = Literal["cos", "abs"]
Boundary = Literal["zero", "none"]

#: ``(form, boundary)`` of each paper's official code.
PHASE_LOSS_STYLES: dict[str, tuple[Form, Boundary]] = {
    "apnet": ("cos", "zero"),
    "apnet2": ("abs", "zero"),
    "ap_bwe": ("abs", "none"),
}


def anti_wrapping(x: torch.Tensor, form: Form = "abs") -> torch.Tensor:
    """Elementwise anti-wrapping function: ``|x - 2 pi round(x / 2 pi)|`` (``"abs"``) or ``-cos(x)``
    (``"cos"``). Both are ``2 pi``-periodic and even. ``round`` is half-to-even as ``torch.round``."""
    if form == "abs":
        # Same op order as the official anti_wrapping_function (bit-identical results).
        return torch.abs(x - torch.round(x / (2 * math.pi)) * 2 * math.pi)
    if form == "cos":
        return -torch.cos(x)
    raise ValueError(f"unknown anti-wrapping form {form!r}; use 'abs' or 'cos'")


def phase_difference(phase: torch.Tensor, dim: int, boundary: Boundary = "zero") -> torch.Tensor:
    """Difference of neighbouring phases along ``dim``.

    ``boundary="zero"``: ``phi[k-1] - phi[k]`` with ``phi[-1] := 0`` (same shape);
    ``boundary="none"``: ``phi[k+1] - phi[k]`` (``torch.diff``; ``dim`` one shorter).
    """
    if boundary == "none":
        return torch.diff(phase, dim=dim)
    if boundary == "zero":
        dim = dim % phase.dim()
        pad = [0, 0] * (phase.dim() - 1 - dim) + [1, 0]
        prev = F.pad(phase, pad).narrow(dim, 0, phase.shape[dim])
        return prev - phase
    raise ValueError(f"unknown boundary {boundary!r}; use 'zero' or 'none'")


def _check(target: torch.Tensor, pred: torch.Tensor, weight: torch.Tensor | None = None) -> None:
    if target.shape != pred.shape:
        raise ValueError(f"phase shapes differ: target {tuple(target.shape)} vs pred {tuple(pred.shape)}")
    if target.dim() < 2:
        raise ValueError(f"phase spectra must be (..., F, N), got {tuple(target.shape)}")
    if weight is not None and weight.shape != target.shape:
        raise ValueError(
            f"phase loss weight {tuple(weight.shape)} must have the phases' shape {tuple(target.shape)}"
        )


def amplitude_weight(amplitude: torch.Tensor) -> torch.Tensor:
    """Per-utterance normalised amplitude ``(B, F, N)`` -> weights of mean 1 over each ``(F, N)``
    (so that quiet and loud utterances of a batch count alike)."""
    if amplitude.dim() < 2:
        raise ValueError(f"amplitude must be (..., F, N), got {tuple(amplitude.shape)}")
    mean = amplitude.mean(dim=(-2, -1), keepdim=True)
    return amplitude / mean.clamp_min(torch.finfo(amplitude.dtype).tiny)


def _pair_weight(weight: torch.Tensor, dim: int, boundary: Boundary) -> torch.Tensor:
    """Weights of the differences :func:`phase_difference` forms: the geometric mean of the two
    elements' weights (``boundary="zero"``: the first element, differenced with 0, keeps its own)."""
    n = weight.shape[dim]
    if boundary == "none":
        return torch.sqrt(weight.narrow(dim, 1, n - 1) * weight.narrow(dim, 0, n - 1))
    prev = torch.cat([weight.narrow(dim, 0, 1), weight.narrow(dim, 0, n - 1)], dim=dim)
    return torch.sqrt(prev * weight)


def _mean(x: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return torch.mean(x)
    return torch.sum(x * weight) / torch.sum(weight).clamp_min(torch.finfo(x.dtype).tiny)


def instantaneous_phase_loss(
    pred: torch.Tensor, target: torch.Tensor, form: Form = "abs", weight: torch.Tensor | None = None
) -> torch.Tensor:
    """``mean f(phi - phi_hat)`` over all elements of ``(..., F, N)`` phases (weighted mean if
    ``weight`` is given)."""
    _check(target, pred, weight)
    return _mean(anti_wrapping(target - pred, form), weight)


def group_delay_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    form: Form = "abs",
    boundary: Boundary = "none",
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """``mean f(D_f(phi) - D_f(phi_hat))``, differences along frequency (dim -2) of ``(..., F, N)``."""
    _check(target, pred, weight)
    if weight is not None:
        d = phase_difference(target, -2, boundary) - phase_difference(pred, -2, boundary)
        return _mean(anti_wrapping(d, form), _pair_weight(weight, -2, boundary))
    if boundary == "zero":
        # The official code differences the (..., N, F) transposed layout; reducing in that memory
        # order keeps the result bit-identical to it.
        target, pred = target.transpose(-1, -2).contiguous(), pred.transpose(-1, -2).contiguous()
        dim = -1
    else:
        dim = -2
    return torch.mean(
        anti_wrapping(phase_difference(target, dim, boundary) - phase_difference(pred, dim, boundary), form)
    )


def phase_time_difference_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    form: Form = "abs",
    boundary: Boundary = "none",
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """``mean f(D_t(phi) - D_t(phi_hat))``, differences along time (dim -1) of ``(..., F, N)``.

    Called phase time difference (PTD) in APNet and instantaneous angular frequency (IAF) in AP-BWE.
    """
    _check(target, pred, weight)
    d = phase_difference(target, -1, boundary) - phase_difference(pred, -1, boundary)
    return _mean(anti_wrapping(d, form), None if weight is None else _pair_weight(weight, -1, boundary))


class PhaseLossTerms(NamedTuple):
    """The three phase losses (scalars); ``total`` is their sum (the papers' ``L_P``)."""

    ip: torch.Tensor
    gd: torch.Tensor
    ptd: torch.Tensor

    @property
    def total(self) -> torch.Tensor:
        return self.ip + self.gd + self.ptd


def phase_losses(
    pred: torch.Tensor,
    target: torch.Tensor,
    form: Form = "abs",
    boundary: Boundary = "none",
    weight: torch.Tensor | None = None,
) -> PhaseLossTerms:
    """IP, GD and PTD losses of phase spectra ``(..., F, N)`` (see the module docstring), optionally
    weighted by ``weight`` ``(..., F, N)``.

    Example:
        >>> phi = torch.rand(1, 5, 4) * 6 - 3
        >>> phase_losses(phi + 2 * math.pi, phi).total.item()  # a 2 pi error costs nothing
        0.0
    """
    return PhaseLossTerms(
        instantaneous_phase_loss(pred, target, form, weight),
        group_delay_loss(pred, target, form, boundary, weight),
        phase_time_difference_loss(pred, target, form, boundary, weight),
    )


class PhaseLoss(nn.Module):
    """Module form of :func:`phase_losses`.

    Args:
        style: ``"apnet"``, ``"apnet2"`` or ``"ap_bwe"`` (sets ``form`` and ``boundary`` as the
            official code, see :data:`PHASE_LOSS_STYLES`), or ``None`` to give both explicitly.
        form: ``"cos"`` or ``"abs"`` (overrides the style).
        boundary: ``"zero"`` or ``"none"`` (overrides the style).

    Shape:
        ``forward(pred (..., F, N), target (..., F, N), weight=None)`` -> :class:`PhaseLossTerms` of
        scalars; ``weight`` ``(..., F, N)`` as in :func:`phase_losses`.
    """

    def __init__(
        self, style: str | None = "ap_bwe", form: Form | None = None, boundary: Boundary | None = None
    ):
        super().__init__()
        if style is not None and style not in PHASE_LOSS_STYLES:
            raise ValueError(f"unknown phase loss style {style!r}; use one of {sorted(PHASE_LOSS_STYLES)}")
        base_form, base_boundary = PHASE_LOSS_STYLES[style] if style is not None else (None, None)
        self.form: Form = form or base_form  # type: ignore[assignment]
        self.boundary: Boundary = boundary or base_boundary  # type: ignore[assignment]
        if self.form not in ("cos", "abs") or self.boundary not in ("zero", "none"):
            raise ValueError(
                f"need form in ('cos', 'abs') and boundary in ('zero', 'none'), got {form!r}, {boundary!r}"
            )

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> PhaseLossTerms:
        return phase_losses(pred, target, self.form, self.boundary, weight)

    def extra_repr(self) -> str:
        return f"form={self.form!r}, boundary={self.boundary!r}"
