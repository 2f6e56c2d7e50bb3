"""Reading official checkpoints and writing/reading audiokit's pretrained format.

Official generator checkpoints (APNet/APNet2/HiFi-GAN ``g_XXXXXXXX`` files) are ``torch.save``'d
``{'generator': state_dict}`` dicts; a bare state dict and a ``.safetensors`` file are accepted too.
audiokit's pretrained format is a folder with ``model.safetensors`` (folded fp32 weights) and
``config.json`` ``{"model_type": ..., "config": {...}}``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from audiokit.checkpoints import check_state_dict, invalid_checkpoint, read_pretrained_files, read_state_dict

__all__ = [
    "WEIGHTS_NAME",
    "CONFIG_NAME",
    "read_state_dict",
    "check_state_dict",
    "write_pretrained",
    "read_pretrained",
]

log = logging.getLogger(__name__)

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
FORMAT_VERSION = 1


def write_pretrained(
    out_dir: str | os.PathLike,
    model_type: str,
    config: dict[str, Any],
    state_dict: Mapping[str, torch.Tensor],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model.safetensors`` + ``config.json`` into ``out_dir`` (each file atomically)."""
    from safetensors.torch import save_file

    from audiokit import __version__
    from audiokit.io import atomic_write

    out = Path(out_dir)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    with atomic_write(out / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp), metadata={"model_type": model_type, "format": "audiokit"})
    meta = {
        "model_type": model_type,
        "format_version": FORMAT_VERSION,
        "audiokit_version": __version__,
        "config": config,
        **(extra or {}),
    }
    with atomic_write(out / CONFIG_NAME) as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out


def read_pretrained(path: str | os.PathLike) -> tuple[str, dict[str, Any], dict[str, torch.Tensor]]:
    """Read a pretrained folder (or its ``config.json``/``model.safetensors``):
    ``(model_type, config_dict, state_dict)``.

    Raises:
        FileNotFoundError: no such folder.
        ValueError: not a pretrained folder, or ``not a valid checkpoint: <file>: <reason>``.
    """
    p = Path(path)
    if p.is_file() and p.name in (CONFIG_NAME, WEIGHTS_NAME):
        p = p.parent
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such pretrained model folder")
    cfg_path, w_path = p / CONFIG_NAME, p / WEIGHTS_NAME
    if not p.is_dir() or not cfg_path.exists() or not w_path.exists():
        raise ValueError(f"{p}: not an audiokit pretrained folder (needs {CONFIG_NAME} and {WEIGHTS_NAME})")
    meta, state = read_pretrained_files(p)
    if "model_type" not in meta or not isinstance(meta.get("config"), dict):
        raise invalid_checkpoint(cfg_path, "needs 'model_type' and 'config' entries")
    return str(meta["model_type"]), dict(meta["config"]), state
