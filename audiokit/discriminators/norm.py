"""Weight-normalised convolutions with the legacy ``weight_g``/``weight_v`` state-dict layout, and a
loader that accepts either weight-norm key style.

The official APNet/APNet2/AP-BWE/HiFi-GAN code wraps its convolutions with the (now deprecated)
``torch.nn.utils.weight_norm``; its checkpoints therefore store ``<conv>.weight_g`` (the norms,
``(C_out, 1, ...)``) and ``<conv>.weight_v`` (the directions, shaped like the weight).
:class:`WNConv1d`/:class:`WNConv2d` own exactly these parameters (plus ``bias``, in the same order)
and compute ``weight = g * v / ||v||`` with the same kernel as torch (``torch._weight_norm``), so
official states load with ``strict=True`` and the states they save load in the official code.

The newer parametrization API (``torch.nn.utils.parametrizations.weight_norm``/``spectral_norm``)
stores ``<conv>.parametrizations.weight.original0/1`` (and ``original``, ``0._u``, ``0._v`` for
spectral norm). :func:`to_legacy_keys` / :func:`to_parametrization_keys` convert between the two
styles and :func:`load_state_dict_compat` loads a state dict in either style (also with a ``module.``
prefix from DistributedDataParallel, or with folded plain ``weight`` tensors for weight-normed
convolutions).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping

import torch
from torch import nn

__all__ = [
    "WNConv1d",
    "WNConv2d",
    "SNConv1d",
    "weight_norm_weight",
    "to_legacy_keys",
    "to_parametrization_keys",
    "load_state_dict_compat",
]


def weight_norm_weight(weight_v: torch.Tensor, weight_g: torch.Tensor) -> torch.Tensor:
    """``g * v / ||v||`` with the norm over all dims but 0 (torch's kernel, as the legacy hook)."""
    return torch._weight_norm(weight_v, weight_g, 0)


class _WeightNormConv:
    """Replaces the ``weight`` parameter of an ``nn.ConvNd`` by ``weight_g`` and ``weight_v``.

    Initialisation as ``torch.nn.utils.weight_norm``: ``v`` is the conv's default-initialised weight,
    ``g = ||v||`` per output channel, so the effective weight starts equal to the plain conv's.
    """

    weight_g: nn.Parameter
    weight_v: nn.Parameter

    def _split_weight(self) -> None:
        weight = self.weight.detach()  # type: ignore[attr-defined]
        del self.weight  # type: ignore[attr-defined]
        if weight.is_meta:  # shape only (computing a norm on "meta" is needlessly slow)
            g = weight.new_empty((weight.shape[0],) + (1,) * (weight.dim() - 1))
        else:
            g = torch.norm_except_dim(weight, 2, 0)
        self.weight_g = nn.Parameter(g)
        self.weight_v = nn.Parameter(weight.clone())

    def normalized_weight(self) -> torch.Tensor:
        """The effective convolution weight ``g * v / ||v||``."""
        return weight_norm_weight(self.weight_v, self.weight_g)


class WNConv1d(_WeightNormConv, nn.Conv1d):
    """``nn.Conv1d`` with weight norm; state dict ``bias, weight_g, weight_v`` (legacy layout).

    Shape:
        ``(B, C_in, T)`` -> ``(B, C_out, T')``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._split_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.normalized_weight(), self.bias)


class WNConv2d(_WeightNormConv, nn.Conv2d):
    """``nn.Conv2d`` with weight norm; state dict ``bias, weight_g, weight_v`` (legacy layout).

    Shape:
        ``(B, C_in, H, W)`` -> ``(B, C_out, H', W')``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._split_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.normalized_weight(), self.bias)


def SNConv1d(*args, **kwargs) -> nn.Conv1d:  # noqa: N802 - reads like a class, as WNConv1d
    """``nn.Conv1d`` wrapped by ``torch.nn.utils.spectral_norm`` (one power iteration per training
    forward, as HiFi-GAN's MSD #0); state dict ``bias, weight_orig, weight_u, weight_v``."""
    return nn.utils.spectral_norm(nn.Conv1d(*args, **kwargs))


_PARAM_WN = re.compile(r"^(.*)parametrizations\.weight\.original([01])$")
_PARAM_SN_ORIG = re.compile(r"^(.*)parametrizations\.weight\.original$")
_PARAM_SN_VEC = re.compile(r"^(.*)parametrizations\.weight\.0\._([uv])$")


def to_legacy_keys(state_dict: Mapping[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
    """Rename parametrization-style norm keys to the legacy ``weight_g/weight_v`` (weight norm) and
    ``weight_orig/weight_u/weight_v`` (spectral norm) names; other keys pass unchanged.

    A leading ``module.`` (DistributedDataParallel) is removed when every key carries it.
    """
    keys = list(state_dict)
    strip = bool(keys) and all(k.startswith("module.") for k in keys)
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, value in state_dict.items():
        k = key[len("module.") :] if strip else key
        if m := _PARAM_WN.match(k):
            k = m.group(1) + ("weight_g" if m.group(2) == "0" else "weight_v")
        elif m := _PARAM_SN_ORIG.match(k):
            k = m.group(1) + "weight_orig"
        elif m := _PARAM_SN_VEC.match(k):
            k = m.group(1) + "weight_" + m.group(2)
        out[k] = value
    return out


def to_parametrization_keys(state_dict: Mapping[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
    """Inverse of :func:`to_legacy_keys`: the key names of modules built with
    ``torch.nn.utils.parametrizations.weight_norm`` / ``spectral_norm``.

    A prefix with a ``weight_orig`` key is taken as spectral-normed (its ``weight_u``/``weight_v``
    become ``parametrizations.weight.0._u/_v``); one with ``weight_g`` as weight-normed.
    """
    spectral = {k[: -len("weight_orig")] for k in state_dict if k.endswith("weight_orig")}
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, value in state_dict.items():
        prefix, _, name = key.rpartition(".")
        prefix = prefix + "." if prefix else ""
        if prefix in spectral and name in ("weight_orig", "weight_u", "weight_v"):
            new = {
                "weight_orig": "parametrizations.weight.original",
                "weight_u": "parametrizations.weight.0._u",
                "weight_v": "parametrizations.weight.0._v",
            }[name]
        elif name == "weight_g":
            new = "parametrizations.weight.original0"
        elif name == "weight_v":
            new = "parametrizations.weight.original1"
        else:
            new = name
        out[prefix + new] = value
    return out


def load_state_dict_compat(
    module: nn.Module, state_dict: Mapping[str, torch.Tensor], strict: bool = True
) -> tuple[list[str], list[str]]:
    """Load a state dict saved with either weight-norm key style into ``module``.

    Accepts legacy keys (``weight_g``/``weight_v``, the official checkpoints), parametrization keys
    (``parametrizations.weight.original0/1``), a ``module.`` prefix, and folded plain ``weight``
    tensors where ``module`` expects ``weight_g``/``weight_v`` (``g = ||w||``, ``v = w``).

    Returns ``(missing, unexpected)`` keys (both empty when ``strict``).

    Raises:
        ValueError: with ``strict=True``, naming missing/unexpected keys or mismatched shapes.
    """
    sd = to_legacy_keys(state_dict)
    expected = module.state_dict()
    for key in [k for k in sd if k.endswith(".weight") or k == "weight"]:
        base = key[: -len("weight")]
        if key not in expected and base + "weight_g" in expected and base + "weight_v" not in sd:
            w = sd.pop(key)
            sd[base + "weight_g"] = torch.norm_except_dim(w, 2, 0)
            sd[base + "weight_v"] = w
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    bad_keys = [k for k in expected if k in sd and tuple(sd[k].shape) != tuple(expected[k].shape)]
    bad_shape = [
        f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(expected[k].shape)}" for k in bad_keys
    ]
    if strict and (missing or unexpected or bad_shape):
        parts = []
        if missing:
            parts.append(f"missing keys {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_few(unexpected)}")
        if bad_shape:
            parts.append(f"shape mismatch {_few(bad_shape)}")
        raise ValueError(f"state dict does not fit {type(module).__name__}: " + "; ".join(parts))
    if not strict:
        sd = OrderedDict((k, v) for k, v in sd.items() if k in expected and k not in bad_keys)
    module.load_state_dict(sd, strict=strict)
    return missing, unexpected


def _few(items: list[str], n: int = 5) -> str:
    head = ", ".join(items[:n])
    return head + (f", ... ({len(items)} in all)" if len(items) > n else "")
