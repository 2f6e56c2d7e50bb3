"""Export released weights from a training checkpoint: ``model.safetensors`` + ``config.json``.

The task named in the checkpoint rebuilds its models from the saved config, loads the saved
weights (strictly) and decides what to release through :meth:`TrainingTask.export`.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from audiokit import __version__
from audiokit.io import atomic_write
from audiokit.train.checkpoint import load_checkpoint, resolve_checkpoint
from audiokit.train.resume import load_models
from audiokit.train.run_config import build_task

__all__ = ["export_checkpoint", "load_task_from_checkpoint"]


def load_task_from_checkpoint(path: str | os.PathLike):
    """Rebuild the task of a checkpoint with its models loaded (CPU, eval mode).

    ``path`` may be a checkpoint file or a run directory (its newest checkpoint). Returns
    ``(task, state)``.
    """
    ckpt = resolve_checkpoint(path)
    state = load_checkpoint(ckpt)
    config = dict(state["config"])
    config["task"] = state["task"]
    task = build_task(config).build()
    models = task.build_models()
    load_models(models, state, ckpt)
    for module in models.values():
        module.eval()
    task.models = dict(models)
    task.step = int(state["step"])
    task.epoch = int(state.get("epoch", 0))
    return task, state


def export_checkpoint(checkpoint: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
    """Write ``out_dir/model.safetensors``, ``out_dir/config.json`` and ``out_dir/SHA256SUMS``.

    The safetensors header records the task, the training step and the audiokit version. Tensors are
    copied (contiguous, no shared storage) as safetensors requires. Returns the written paths.
    """
    from safetensors.torch import save_file

    task, state = load_task_from_checkpoint(checkpoint)
    bundle = task.export()
    if not bundle.weights:
        raise ValueError(f"{type(task).__name__}.export() returned no weights")
    weights = {}
    for k, v in bundle.weights.items():
        if not isinstance(v, torch.Tensor):
            raise TypeError(f"export weight {k!r} is not a tensor")
        weights[k] = v.detach().cpu().contiguous().clone()
    metadata = {
        "format": "pt",
        "audiokit_version": __version__,
        "task": str(state["task"]),
        "step": str(int(state["step"])),
        **{str(k): str(v) for k, v in bundle.metadata.items()},
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_path, config_path = out / "model.safetensors", out / "config.json"
    with atomic_write(model_path) as tmp:
        save_file(weights, str(tmp), metadata=metadata)
    with atomic_write(config_path) as tmp:
        tmp.write_text(json.dumps(bundle.config, indent=2, sort_keys=False) + "\n")
    sums = "".join(f"{_sha256(p)}  {p.name}\n" for p in (model_path, config_path))
    sums_path = out / "SHA256SUMS"
    with atomic_write(sums_path) as tmp:
        tmp.write_text(sums)
    return [model_path, config_path, sums_path]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
