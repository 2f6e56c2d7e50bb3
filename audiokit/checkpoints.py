"""Reading generator weights from checkpoint files and checking them against a model.

Shared by every model that loads official checkpoints (APNet/APNet2, AP-BWE): the official
``g_XXXXXXXX`` files are ``torch.save``'d ``{'generator': state_dict}`` dicts; a bare state dict,
a ``.safetensors`` file or an already loaded mapping are accepted too. Files are read with
``weights_only=True`` (no code execution).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["read_state_dict", "check_state_dict", "load_state_dict_strict"]


def read_state_dict(
    source: str | os.PathLike | Mapping[str, Any], map_location: str | torch.device = "cpu"
) -> dict[str, torch.Tensor]:
    """Generator state dict from a checkpoint path or an already loaded object.

    Accepts ``{'generator': sd}``, a bare state dict, or a ``.safetensors`` file; a uniform
    ``module.`` prefix (DataParallel/DDP) is stripped.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: a folder, an unreadable file, or content that is not a state dict.
    """
    if isinstance(source, Mapping):
        obj: Any = source
    else:
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such checkpoint")
        if path.is_dir():
            raise ValueError(f"{path}: is a directory; pass the generator file (e.g. g_XXXXXXXX)")
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(str(path), device=str(map_location))
        else:
            try:
                obj = torch.load(str(path), map_location=map_location, weights_only=True)
            except Exception as e:
                raise ValueError(
                    f"{path}: not a readable torch checkpoint ({type(e).__name__}: {e})"
                ) from None
    if isinstance(obj, Mapping) and "generator" in obj and isinstance(obj["generator"], Mapping):
        obj = obj["generator"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        keys = list(obj)[:10] if isinstance(obj, Mapping) else type(obj).__name__
        raise ValueError(f"checkpoint is not a generator state dict (found {keys})")
    sd = dict(obj)
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    return sd


def _fmt_keys(keys: list[str], limit: int = 40) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def check_state_dict(
    expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor], what: str = "checkpoint"
) -> None:
    """Raise one ``ValueError`` listing missing keys, unexpected keys and shape mismatches."""
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    shapes = [
        f"{k}: checkpoint {tuple(given[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in given and tuple(given[k].shape) != tuple(v.shape)
    ]
    if not (missing or unexpected or shapes):
        return
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} key(s): {_fmt_keys(missing)}")
    if unexpected:
        parts.append(f"unexpected {len(unexpected)} key(s): {_fmt_keys(unexpected)}")
    if shapes:
        parts.append(f"{len(shapes)} shape mismatch(es): {_fmt_keys(shapes, 20)}")
    raise ValueError(f"{what} does not match the model: " + "; ".join(parts))


def load_state_dict_strict(
    module: nn.Module, state: Mapping[str, torch.Tensor], source: str = "", assign: bool = False
) -> None:
    """``module.load_state_dict(state, strict=True)`` after :func:`check_state_dict`, so that a bad
    checkpoint gives one ``ValueError`` listing every problem. ``assign=True`` adopts the given
    tensors (for modules built on the meta device)."""
    what = f"{source}: checkpoint" if source else "checkpoint"
    check_state_dict(module.state_dict(), state, what=f"{what} for {type(module).__name__}")
    module.load_state_dict(state, strict=True, assign=assign)
