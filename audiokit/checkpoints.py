"""Checkpoint files: official generator checkpoints, strict key checks, and the one pretrained
folder format of every audiokit model family.

Official checkpoints (APNet/APNet2, AP-BWE): the ``g_XXXXXXXX`` files are ``torch.save``'d
``{'generator': state_dict}`` dicts; a bare state dict, a ``.safetensors`` file or an already loaded
mapping are accepted too. Files are read with ``weights_only=True`` (no code execution).

Pretrained folders (:class:`PretrainedMixin`, used by the vocoders, AP-BWE, DDSP and the masker
predictor) hold ``model.safetensors`` and ``config.json``::

    {"model_type": "apnet", "format_version": 1, "audiokit_version": "...",
     "config": {...the model's config dataclass...}, ...extra entries (training, metrics, ...)}

:data:`MODEL_TYPES` maps each ``model_type`` to its class (the one registry); the older layouts
(AP-BWE ``{"model": "APBWE", "config"}``, the masker's ``{"model": {config}}``, DDSP's bare config
with the name in the safetensors header) are still read. Names resolve through
:func:`audiokit.assets.resolve_pretrained` (bundled models, ``$AUDIOKIT_PRETRAINED``, Hugging Face
Hub ids).
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from audiokit import __version__
from audiokit.assets import resolve_pretrained
from audiokit.io import atomic_write

__all__ = [
    "read_state_dict",
    "check_state_dict",
    "load_state_dict_strict",
    "WEIGHTS_NAME",
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "MODEL_TYPES",
    "model_class",
    "PretrainedFolder",
    "read_pretrained_config",
    "read_pretrained",
    "pretrained_config_json",
    "write_pretrained",
    "load_pretrained",
    "PretrainedMixin",
    "invalid_checkpoint",
    "checkpoint_errors",
    "read_safetensors",
    "read_config_json",
]

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
FORMAT_VERSION = 1

#: ``model_type`` -> ``"module:Class"`` of every model family with pretrained folders (imported on
#: first use, so reading a folder's config needs no model code).
MODEL_TYPES: dict[str, str] = {
    "apnet": "audiokit.vocoders.apnet:APNet",
    "apnet2": "audiokit.vocoders.apnet2:APNet2",
    "ap_bwe": "audiokit.bwe.model:APBWE",
    "ddsp": "audiokit.ddsp.model:DDSPAutoencoder",
    "masker": "audiokit.soundscape.model:MaskerGainPredictor",
}
#: Names the older layouts used (``config.json`` ``"model"`` or the safetensors header).
_LEGACY_NAMES = {"APBWE": "ap_bwe", "ddsp_autoencoder": "ddsp", "MaskerGainPredictor": "masker"}


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


# ---------------------------------------------------------------------------------------------------
# Pretrained folders
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
    """Turn any error raised while interpreting ``path`` (e.g. a config that does not fit its
    dataclass) into :func:`invalid_checkpoint`; ``FileNotFoundError`` and errors already of that form
    pass through."""
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
    try:
        return load_file(str(path), device=str(map_location))
    except Exception as e:  # truncated, random bytes, not safetensors
        raise invalid_checkpoint(path, f"cannot read weights ({type(e).__name__}: {_reason(e)})") from None


def read_config_json(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON object of a checkpoint's ``config.json``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: ``not a valid checkpoint: ...`` for bytes that are not JSON or JSON that is not an object.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise invalid_checkpoint(path, f"not valid JSON ({_reason(e)})") from None
    if not isinstance(meta, dict):
        raise invalid_checkpoint(path, f"expected a JSON object, got {type(meta).__name__}")
    return meta


def model_class(model_type: str) -> type:
    """The class registered for ``model_type`` in :data:`MODEL_TYPES` (imported on demand)."""
    try:
        module, name = MODEL_TYPES[model_type].split(":")
    except KeyError:
        raise ValueError(
            f"unknown model_type {model_type!r}; known: {', '.join(sorted(MODEL_TYPES))}"
        ) from None
    return getattr(importlib.import_module(module), name)


@dataclass
class PretrainedFolder:
    """What ``config.json`` of a pretrained folder says, whichever layout wrote it.

    Attributes:
        path: the folder.
        model_type: a key of :data:`MODEL_TYPES`, or ``""`` when an old folder does not say.
        config: the model's config as a dict.
        extra: every other entry (``training``, ``metrics``, ``features``, ...).
        layout: ``"audiokit"`` (the current one) or the legacy family that wrote it.
    """

    path: Path
    model_type: str
    config: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    layout: str = "audiokit"

    @property
    def weights(self) -> Path:
        return self.path / WEIGHTS_NAME


def _folder(path: str | os.PathLike) -> Path:
    p = Path(path)
    if p.is_file() and p.name in (CONFIG_NAME, WEIGHTS_NAME):
        p = p.parent
    if not p.is_dir():
        raise FileNotFoundError(f"{p}: no such model folder")
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        if not (p / name).is_file():
            raise FileNotFoundError(
                f"{p / name}: missing (a pretrained folder holds {CONFIG_NAME} and {WEIGHTS_NAME})"
            )
    return p


def _header_name(weights: Path) -> str:
    """``model_type`` named in a safetensors header (DDSP's and the masker's old saves), or ``""``."""
    from safetensors import safe_open

    try:
        with safe_open(str(weights), "pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # a truncated or foreign file
        raise invalid_checkpoint(weights, f"cannot read weights ({type(e).__name__}: {_reason(e)})") from None
    name = meta.get("model_type") or meta.get("model") or ""
    return _LEGACY_NAMES.get(name, name)


def read_pretrained_config(path: str | os.PathLike) -> PretrainedFolder:
    """Parse ``config.json`` of a pretrained folder (current or legacy layout); weights not loaded."""
    p = _folder(path)
    cfg_path = p / CONFIG_NAME
    meta = read_config_json(cfg_path)
    meta = dict(meta)
    if "model_type" in meta and isinstance(meta.get("config"), dict):  # current layout (and the vocoders')
        model_type = str(meta.pop("model_type"))
        config = meta.pop("config")
        for k in ("format_version", "audiokit_version"):
            meta.pop(k, None)
        return PretrainedFolder(p, model_type, config, meta)
    if isinstance(meta.get("model"), str) and isinstance(meta.get("config"), dict):  # AP-BWE's
        name = meta.pop("model")
        config = meta.pop("config")
        meta.pop("audiokit_version", None)
        return PretrainedFolder(p, _LEGACY_NAMES.get(name, name), config, meta, layout="ap_bwe")
    if isinstance(meta.get("model"), dict):  # the masker's {"model": config, ...}
        config = meta.pop("model")
        return PretrainedFolder(p, _header_name(p / WEIGHTS_NAME) or "masker", config, meta, layout="masker")
    # DDSP's bare config: the model name is in the safetensors header
    return PretrainedFolder(p, _header_name(p / WEIGHTS_NAME), meta, {}, layout="bare")


def read_pretrained(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[PretrainedFolder, dict[str, torch.Tensor]]:
    """``(folder description, state dict)`` of a pretrained folder."""
    info = read_pretrained_config(path)
    state = read_safetensors(info.weights, map_location)
    return info, state


def pretrained_config_json(model_type: str, config: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The ``config.json`` content of the current layout (also what training exports write)."""
    if model_type not in MODEL_TYPES:
        raise ValueError(f"unknown model_type {model_type!r}; known: {', '.join(sorted(MODEL_TYPES))}")
    reserved = {"model_type", "format_version", "audiokit_version", "config"} & set(extra)
    if reserved:
        raise ValueError(f"extra config.json entries may not be named {sorted(reserved)}")
    return {
        "model_type": model_type,
        "format_version": FORMAT_VERSION,
        "audiokit_version": __version__,
        "config": dict(config),
        **extra,
    }


def write_pretrained(
    out_dir: str | os.PathLike,
    model_type: str,
    config: Mapping[str, Any],
    state_dict: Mapping[str, torch.Tensor],
    extra: Mapping[str, Any] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``model.safetensors`` + ``config.json`` (current layout) into ``out_dir``, each atomically.

    ``metadata`` (strings) goes into the safetensors header next to ``model_type``.
    """
    from safetensors.torch import save_file

    meta = pretrained_config_json(model_type, config, **dict(extra or {}))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    header = {
        "format": "pt",
        **{str(k): str(v) for k, v in (metadata or {}).items()},
        "model_type": model_type,
    }
    with atomic_write(out / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    with atomic_write(out / CONFIG_NAME) as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out


def load_pretrained(name_or_path: str | os.PathLike, map_location: str | torch.device = "cpu") -> nn.Module:
    """Any pretrained model, whichever family: a folder, a bundled name (``"apnet_tiny"``) or a Hugging
    Face Hub id (see :func:`audiokit.assets.resolve_pretrained`). ``eval()`` mode."""
    info = read_pretrained_config(resolve_pretrained(name_or_path))
    if not info.model_type:
        raise ValueError(f"{info.path}: config.json does not say which model it holds (no 'model_type')")
    return model_class(info.model_type).from_pretrained(info.path, map_location=map_location)


M = TypeVar("M", bound="PretrainedMixin")


class PretrainedMixin:
    """``save_pretrained`` / ``from_pretrained`` for an ``nn.Module`` with a ``config`` dataclass.

    A family sets ``model_type`` (a key of :data:`MODEL_TYPES`), ``config_class`` (with ``from_dict``
    and ``to_dict``) and ``task`` (what ``audiokit models`` lists), and may override the hooks
    :meth:`pretrained_state_dict` (what to save), :meth:`config_from_dict` (reading a config) and
    :meth:`_from_pretrained_state` (building the model from config and weights).
    """

    model_type: ClassVar[str] = ""
    config_class: ClassVar[type] = object
    task: ClassVar[str] = ""

    # -- hooks --------------------------------------------------------------------------------------
    def pretrained_state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors written to ``model.safetensors`` (default: the state dict)."""
        return {k: v.detach() for k, v in self.state_dict().items()}  # type: ignore[attr-defined]

    @classmethod
    def config_from_dict(cls, config: Mapping[str, Any]) -> Any:
        return cls.config_class.from_dict(dict(config))  # type: ignore[attr-defined]

    @classmethod
    def _from_pretrained_state(
        cls: type[M],
        config: Any,
        state: dict[str, torch.Tensor],
        source: str,
        map_location: str | torch.device,
    ) -> M:
        model = cls(config)  # type: ignore[call-arg]
        load_state_dict_strict(model, state, source=source)  # type: ignore[arg-type]
        return model.to(map_location)  # type: ignore[attr-defined]

    # -- API ----------------------------------------------------------------------------------------
    def save_pretrained(
        self,
        out_dir: str | os.PathLike,
        extra: Mapping[str, Any] | None = None,
        *,
        metadata: Mapping[str, str] | None = None,
        **fields: Any,
    ) -> Path:
        """Write ``model.safetensors`` + ``config.json`` (``{"model_type", "config", ...}``).

        ``extra`` and keyword ``fields`` become further ``config.json`` entries (e.g.
        ``training={...}``, ``metrics={"pesq": 3.1}``: ``audiokit models`` shows ``metrics``);
        ``metadata`` strings go into the safetensors header.
        """
        entries = {**dict(extra or {}), **fields}
        config = self.config.to_dict()  # type: ignore[attr-defined]
        return write_pretrained(
            out_dir, self.model_type, config, self.pretrained_state_dict(), entries, metadata
        )

    @classmethod
    def from_pretrained(
        cls: type[M], name_or_path: str | os.PathLike, map_location: str | torch.device = "cpu"
    ) -> M:
        """Load a pretrained folder, a bundled model by name or a Hub id (``eval()`` mode).

        Called on a family's base class (e.g. ``SpectralVocoder``) it builds whichever subclass the
        folder holds. Keys are checked strictly: one ``ValueError`` lists every missing, unexpected
        and mis-shaped tensor.
        """
        info, state = read_pretrained(resolve_pretrained(name_or_path), map_location)
        model_type = info.model_type or cls.model_type
        if not model_type:
            raise ValueError(f"{info.path}: config.json does not say which model it holds (no 'model_type')")
        if model_type not in MODEL_TYPES:
            raise ValueError(
                f"{info.path}: unknown model_type {model_type!r}; known: {', '.join(sorted(MODEL_TYPES))}"
            )
        target = model_class(model_type)
        if not issubclass(target, cls):
            want = cls.model_type or cls.__name__
            raise ValueError(f"{info.path} holds a {model_type!r} model, not {want!r}")
        with checkpoint_errors(info.path / CONFIG_NAME):
            config = target.config_from_dict(info.config)
        model = target._from_pretrained_state(config, state, str(info.path), map_location)
        return model.eval()  # type: ignore[attr-defined]
