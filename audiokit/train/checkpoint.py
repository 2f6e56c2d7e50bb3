"""Training-state checkpoints: atomic ``torch.save``, ``weights_only`` loading, rotation, RNG state.

A checkpoint is ``<run_dir>/checkpoints/step_<step:08d>.pt``, a plain dict that loads with
``torch.load(weights_only=True)`` (tensors, numbers, strings, lists, dicts only)::

    {
      "format": "audiokit.train/1",
      "task": "package.module:TaskClass",   # import path of the TrainingTask
      "config": {...},                       # the resolved run config (task, train and task keys)
      "step": int,                           # optimizer steps completed
      "epoch": int,                          # current epoch (0-based)
      "batch_in_epoch": int,                 # batches of that epoch already consumed
      "models": {name: state_dict},          # unwrapped (no "module." prefixes)
      "optimizers": {name: state_dict},
      "schedulers": {name: state_dict},
      "rng": [per-rank RNG state, ...],      # python, numpy, torch (and CUDA) generators
      "extra": {...},                        # TrainingTask.extra_state()
      "audiokit_version": str,
    }
"""

from __future__ import annotations

import logging
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from audiokit.checkpoints import read_state_dict
from audiokit.discriminators.norm import load_state_dict_compat
from audiokit.io import atomic_write

__all__ = [
    "CHECKPOINT_FORMAT",
    "checkpoint_path",
    "list_checkpoints",
    "latest_checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "prune_checkpoints",
    "resolve_checkpoint",
    "load_initial_weights",
    "is_readable_checkpoint",
    "capture_rng_state",
    "restore_rng_state",
]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "audiokit.train/1"
_NAME = re.compile(r"^step_(\d{8,})\.pt$")


def checkpoint_path(directory: str | os.PathLike, step: int) -> Path:
    """``directory/step_<step:08d>.pt``."""
    return Path(directory) / f"step_{step:08d}.pt"


def list_checkpoints(directory: str | os.PathLike) -> list[tuple[int, Path]]:
    """``(step, path)`` of every checkpoint in ``directory``, oldest first (temporary files ignored)."""
    d = Path(directory)
    if not d.is_dir():
        return []
    found = []
    for p in d.iterdir():
        m = _NAME.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The newest checkpoint in ``directory`` or ``None``."""
    found = list_checkpoints(directory)
    return found[-1][1] if found else None


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file next to ``path``, then rename: never a partial file."""
    path = Path(path)
    with atomic_write(path, suffix=".pt") as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a training checkpoint with ``torch.load(weights_only=True)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable checkpoint or not an audiokit training checkpoint (names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch's text (several lines, suggesting weights_only=False) goes to debug
        logger.debug("%s: %s: %s", path, type(e).__name__, e)
        raise ValueError(f"untrusted or unreadable checkpoint: {path}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path}: not an audiokit training checkpoint (missing format {CHECKPOINT_FORMAT!r})"
        )
    for key in ("task", "config", "step", "models"):
        if key not in state:
            raise ValueError(f"{path}: checkpoint lacks the {key!r} entry")
    return state


_READABLE: dict[tuple[str, int, int], bool] = {}


def is_readable_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` loads as an audiokit training checkpoint with ``weights_only=True``.

    Cheap: tensors are memory-mapped, not read, and the answer is cached per (path, mtime, size).
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return False
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _READABLE:
        try:
            state = torch.load(p, map_location="cpu", weights_only=True, mmap=True)
            ok = isinstance(state, dict) and state.get("format") == CHECKPOINT_FORMAT
        except Exception as e:
            logger.debug("%s: %s: %s", p, type(e).__name__, e)
            ok = False
        _READABLE[key] = ok
    return _READABLE[key]


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint file, or the newest readable one under a run directory (``run/checkpoints/``)
    or a checkpoint directory (unreadable or untrusted ``step_*.pt`` files are skipped with a
    warning)."""
    p = Path(path)
    if p.is_file():
        return p
    if p.is_dir():
        for d in (p / "checkpoints", p):
            found = list_checkpoints(d)
            for _, ckpt in reversed(found):
                if is_readable_checkpoint(ckpt):
                    return ckpt
                logger.warning("skipping %s", f"untrusted or unreadable checkpoint: {ckpt}")
            if found:
                raise ValueError(f"{d}: no readable checkpoint among {len(found)} step_*.pt file(s)")
        raise FileNotFoundError(f"{p}: no checkpoint (step_*.pt) in this directory or its checkpoints/")
    raise FileNotFoundError(f"{p}: no such checkpoint file or run directory")


def prune_checkpoints(directory: str | os.PathLike, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` readable checkpoints (``keep <= 0`` keeps all); return
    the removed. Unreadable or untrusted ``step_*.pt`` files are neither counted nor deleted."""
    if keep <= 0:
        return []
    readable = [p for _, p in list_checkpoints(directory) if is_readable_checkpoint(p)]
    removed = []
    for p in readable[:-keep]:
        try:
            p.unlink()
            removed.append(p)
        except OSError as e:  # another process may have removed it; never fatal
            logger.warning("could not remove old checkpoint %s: %s", p, e)
    return removed


def capture_rng_state() -> dict[str, Any]:
    """The python, numpy, torch (and CUDA) RNG states as tensors and plain numbers."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": [py_version, list(py_state), py_gauss],
        "numpy": [
            np_name,
            torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
            np_pos,
            np_has_gauss,
            np_gauss,
        ],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    version, py_state, gauss = state["python"]
    random.setstate((int(version), tuple(int(v) for v in py_state), gauss))
    name, keys, pos, has_gauss, np_gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(np_gauss)))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])


def load_initial_weights(model: nn.Module, source: str | os.PathLike, name: str = "generator") -> None:
    """Warm-start ``model`` from ``source`` (``train.init_from``), strictly.

    ``source`` is a pretrained folder (its ``model.safetensors``), a ``.safetensors`` or official
    generator file, or an audiokit training checkpoint (its model ``name``). Folded weights load into
    weight-normed layers (``g = ||w||``, ``v = w``) and vice versa.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: unreadable, or the weights do not fit ``model`` (names the keys).
    """
    path = Path(source)
    if path.is_dir():
        path = path / "model.safetensors"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file (init_from)")
    sd = None
    if path.suffix != ".safetensors":
        try:
            state = load_checkpoint(path)
        except ValueError:
            state = None  # not a training checkpoint: an official generator file
        if state is not None:
            if name not in state["models"]:
                raise ValueError(f"{path}: checkpoint has no model {name!r} (has {sorted(state['models'])})")
            sd = state["models"][name]
    if sd is None:
        sd = read_state_dict(path)

    def normed(keys) -> bool:
        return any(k.endswith(("weight_g", "original0")) for k in keys)

    if normed(model.state_dict()) and not normed(sd) and hasattr(model, "fold_weight_norm"):
        # folded weights into a weight-normed model: load folded, then re-apply weight norm
        model.fold_weight_norm()
        try:
            load_state_dict_compat(model, sd, strict=True)
        finally:
            model.apply_weight_norm()
        return
    try:
        load_state_dict_compat(model, sd, strict=True)
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None
