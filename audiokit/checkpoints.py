"""Reading generator weights from checkpoint files and checking them against a model.

Shared by every model that loads official checkpoints (APNet/APNet2, AP-BWE): the official
``g_XXXXXXXX`` files are ``torch.save``'d ``{'generator': state_dict}`` dicts; a bare state dict,
a ``.safetensors`` file or an already loaded mapping are accepted too. Files are read with
``weights_only=True`` (no code execution).

Every reader here reports a file that cannot be read as a model (corrupt, truncated, random bytes,
a broken ``config.json``) with one ``ValueError`` ``"not a valid checkpoint: <path>: <reason>"``
(:func:`invalid_checkpoint`); the CLI prints it as one line with exit code 2.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = [
    "invalid_checkpoint",
    "checkpoint_errors",
    "read_safetensors",
    "read_config_json",
    "read_pretrained_files",
    "read_state_dict",
    "check_state_dict",
    "load_state_dict_strict",
]

_PREFIX = "not a valid checkpoint: "


def _reason(e: BaseException) -> str:
    """The first line of an exception's message (library errors can span many lines)."""
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(e).__name__


def invalid_checkpoint(path: str | os.PathLike, reason: str | BaseException) -> ValueError:
    """``ValueError("not a valid checkpoint: <path>: <reason>")`` (one line)."""
    text = _reason(reason) if isinstance(reason, BaseException) else reason.splitlines()[0]
    return ValueError(f"{_PREFIX}{path}: {text}")


@contextmanager
def checkpoint_errors(path: str | os.PathLike) -> Iterator[None]:
    """Turn any error raised while interpreting ``path`` (config parsing, tensor reading) into
    :func:`invalid_checkpoint`; ``FileNotFoundError`` and errors already of that form pass through."""
    try:
        yield
    except FileNotFoundError:
        raise
    except Exception as e:
        if isinstance(e, ValueError) and str(e).startswith(_PREFIX):
            raise
        raise invalid_checkpoint(path, e) from None


def read_safetensors(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> dict[str, torch.Tensor]:
    """All tensors of a ``.safetensors`` file.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: ``not a valid checkpoint: ...`` for a corrupt, truncated or non-safetensors file.
    """
    from safetensors.torch import load_file

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    if path.is_dir():
        raise invalid_checkpoint(path, "is a directory, expected a .safetensors file")
    with checkpoint_errors(path):
        return load_file(str(path), device=str(map_location))


def read_config_json(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON object of a checkpoint's ``config.json``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: ``not a valid checkpoint: ...`` for bytes that are not JSON or JSON that is not an object.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    with checkpoint_errors(path):
        meta = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(meta, dict):
        raise invalid_checkpoint(path, f"expected a JSON object, got {type(meta).__name__}")
    return meta


def read_pretrained_files(
    folder: str | os.PathLike,
    map_location: str | torch.device = "cpu",
    config_name: str = "config.json",
    weights_name: str = "model.safetensors",
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """``(config.json object, state dict)`` of a pretrained folder (the format every audiokit model
    saves), each file validated as :func:`read_config_json` and :func:`read_safetensors` do.

    Raises:
        FileNotFoundError: the folder or one of its two files is missing.
        ValueError: ``not a valid checkpoint: <file>: <reason>``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such model folder")
    for name in (config_name, weights_name):
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"{folder / name}: missing (a pretrained folder holds {config_name} and {weights_name})"
            )
    meta = read_config_json(folder / config_name)
    return meta, read_safetensors(folder / weights_name, map_location)


def read_state_dict(
    source: str | os.PathLike | Mapping[str, Any], map_location: str | torch.device = "cpu"
) -> dict[str, torch.Tensor]:
    """Generator state dict from a checkpoint path or an already loaded object.

    Accepts ``{'generator': sd}``, a bare state dict, or a ``.safetensors`` file; a uniform
    ``module.`` prefix (DataParallel/DDP) is stripped.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: a folder; ``not a valid checkpoint: <path>: <reason>`` for an unreadable file or
            content that is not a state dict.
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
            obj = read_safetensors(path, map_location)
        else:
            try:
                obj = torch.load(str(path), map_location=map_location, weights_only=True)
            except Exception as e:
                raise invalid_checkpoint(
                    path, f"not a readable torch checkpoint ({type(e).__name__}: {_reason(e)})"
                ) from None
    if isinstance(obj, Mapping) and "generator" in obj and isinstance(obj["generator"], Mapping):
        obj = obj["generator"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        keys = list(obj)[:10] if isinstance(obj, Mapping) else type(obj).__name__
        reason = f"not a generator state dict (found {keys})"
        if isinstance(source, Mapping):
            raise ValueError(f"checkpoint is {reason}")
        raise invalid_checkpoint(source, reason)
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
