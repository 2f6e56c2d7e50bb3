"""Typed configs: dataclasses <-> plain dicts <-> YAML, strict validation and dotted overrides.

A config is a (nested) dataclass. :func:`from_dict` builds one from a plain dict (as read from YAML)
and rejects anything it does not understand with a :class:`ValueError` that names the dotted key::

    >>> from dataclasses import dataclass, field
    >>> @dataclass
    ... class Optim:
    ...     lr: float = 2e-4
    ...     betas: tuple[float, float] = (0.8, 0.99)
    >>> @dataclass
    ... class Cfg:
    ...     steps: int = 10
    ...     optim: Optim = field(default_factory=Optim)
    >>> from_dict(Cfg, {"optim": {"lr": "1e-3"}})
    Cfg(steps=10, optim=Optim(lr=0.001, betas=(0.8, 0.99)))
    >>> from_dict(Cfg, {"optim": {"lrr": 1}})
    Traceback (most recent call last):
    ...
    ValueError: unknown config key 'optim.lrr' (did you mean 'optim.lr'?)

Supported field types: ``bool``, ``int``, ``float``, ``str``, ``pathlib.Path``, ``Any``, ``None``,
``X | None``/``Optional``/unions, ``Literal[...]``, ``list[X]``, ``tuple[X, ...]``, ``tuple[X, Y]``,
``dict[str, X]`` and nested dataclasses. Numbers written as strings (YAML reads ``2e-4`` as a
string) are accepted for ``float``/``int`` fields when they parse exactly; an ``int`` field also
accepts an integral float (``1e6``). ``bool`` is never accepted as a number and vice versa.

Overrides are ``"dotted.key=value"`` strings whose value is parsed as YAML (``a.b=[1, 2]``,
``x=null``, ``flag=true``); see :func:`apply_overrides`.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from audiokit.io import atomic_write

__all__ = [
    "from_dict",
    "to_dict",
    "load_yaml",
    "save_yaml",
    "parse_override",
    "apply_overrides",
    "merge_dicts",
]

T = TypeVar("T")

_MISSING = dataclasses.MISSING


def _key(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        args = ", ".join("..." if a is Ellipsis else _type_name(a) for a in typing.get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if dataclasses.is_dataclass(tp):
        return f"a mapping ({tp.__name__})"
    return getattr(tp, "__name__", str(tp))


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _wrong(path: str, tp: Any, value: Any) -> ValueError:
    return ValueError(f"config key '{path}': expected {_type_name(tp)}, got {_describe(value)}")


def _coerce(tp: Any, value: Any, path: str) -> Any:
    """Validate ``value`` against the annotation ``tp`` and convert it (lists to tuples, str to float...)."""
    if tp is Any or tp is typing.Any:
        return value
    if tp is type(None) or tp is None:
        if value is None:
            return None
        raise _wrong(path, type(None), value)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)

    if origin in (Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise _wrong(path, tp, value)
        errors = []
        # try the exact-type members first so that `int | str` keeps "3" a string
        for member in sorted((a for a in args if a is not type(None)), key=lambda a: a is not type(value)):
            try:
                return _coerce(member, value, path)
            except ValueError as e:
                errors.append(e)
        if len(errors) == 1:
            raise errors[0]
        raise _wrong(path, tp, value)

    if origin is Literal:
        if value in args and not (isinstance(value, bool) and not any(isinstance(a, bool) for a in args)):
            return value
        raise _wrong(path, tp, value)

    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if dataclasses.is_dataclass(value) and isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise _wrong(path, tp, value)
        return from_dict(tp, value, _path=path)

    if origin in (list, Sequence, Iterable) or tp is list:
        if not isinstance(value, list | tuple):
            raise _wrong(path, tp, value)
        item = args[0] if args else Any
        return [_coerce(item, v, f"{path}[{i}]") for i, v in enumerate(value)]

    if origin is tuple or tp is tuple:
        if not isinstance(value, list | tuple):
            raise _wrong(path, tp, value)
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            item = args[0] if args else Any
            return tuple(_coerce(item, v, f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ValueError(f"config key '{path}': expected {len(args)} values, got {len(value)}")
        return tuple(_coerce(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))

    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise _wrong(path, tp, value)
        kt, vt = (args + (Any, Any))[:2] if args else (Any, Any)
        out = {}
        for k, v in value.items():
            out[_coerce(kt, k, f"{path}.{k}")] = _coerce(vt, v, _key(path, str(k)))
        return out

    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _wrong(path, tp, value)
    if tp is int:
        if isinstance(value, bool):
            raise _wrong(path, tp, value)
        if isinstance(value, int):
            return value
        num = _parse_number(value)
        if num is not None and float(num).is_integer():
            return int(num)
        raise _wrong(path, tp, value)
    if tp is float:
        if isinstance(value, bool):
            raise _wrong(path, tp, value)
        if isinstance(value, int | float):
            return float(value)
        num = _parse_number(value)
        if num is not None:
            return float(num)
        raise _wrong(path, tp, value)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _wrong(path, tp, value)
    if tp is Path or (isinstance(tp, type) and issubclass(tp, os.PathLike)):
        if isinstance(value, str | os.PathLike):
            return Path(value)
        raise _wrong(path, tp, value)
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise _wrong(path, tp, value)
    raise TypeError(f"config key '{path}': unsupported annotation {tp!r}")


def _parse_number(value: Any) -> float | None:
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        try:
            return float(value.strip().replace("_", ""))
        except ValueError:
            return None
    return None


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception as e:  # unresolved forward reference: a bug in the config class itself
        raise TypeError(f"cannot resolve the type annotations of {cls.__qualname__}: {e}") from e


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not _MISSING:
        return f.default
    if f.default_factory is not _MISSING:
        return f.default_factory()
    return None


def from_dict(cls: type[T], data: Mapping[str, Any] | None, *, _path: str = "") -> T:
    """Build the dataclass ``cls`` from a plain mapping, strictly.

    Missing keys take the field defaults; nested dataclass fields are built recursively. A nested
    section that is given only partly keeps the field's *declared* default values for the keys it
    omits (``data: AudioDataConfig = field(default_factory=lambda: AudioDataConfig(sample_rate=8000))``
    plus YAML ``data: {segment_length: 4000}`` keeps ``sample_rate=8000``).

    Raises:
        ValueError: an unknown key, a value of the wrong type, a missing required field, or a
            ``__post_init__`` check that failed; the message names the dotted key.
    """
    if not (dataclasses.is_dataclass(cls) and isinstance(cls, type)):
        raise TypeError(f"{cls!r} is not a dataclass type")
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValueError(f"config key '{_path or '<root>'}': expected a mapping, got {_describe(data)}")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in fields:
            full = _key(_path, str(key))
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean '{_key(_path, close[0])}'?)" if close else ""
            valid = ", ".join(sorted(fields)) or "none"
            if not close:
                hint = f" (valid keys{' under ' + repr(_path) if _path else ''}: {valid})"
            raise ValueError(f"unknown config key '{full}'{hint}")
    kwargs = {}
    for name, f in fields.items():
        full = _key(_path, name)
        if name in data:
            value = data[name]
            default = _default_of(f)
            if (
                isinstance(value, Mapping)
                and dataclasses.is_dataclass(default)
                and not isinstance(default, type)
            ):
                # a partial section overrides the declared default instance, not the class defaults
                value = merge_dicts(to_dict(default), value)
            kwargs[name] = _coerce(hints.get(name, Any), value, full)
        elif f.default is _MISSING and f.default_factory is _MISSING:
            raise ValueError(f"config key '{full}' is required")
    try:
        return cls(**kwargs)
    except ValueError as e:
        # __post_init__ checks name their field relative to the dataclass: make the key absolute
        msg = str(e)
        if _path and msg.startswith("config key '"):
            msg = f"config key '{_path}.{msg[len('config key ') + 1 :]}"
        elif _path:
            msg = f"config '{_path}': {msg}"
        raise ValueError(msg) from None


def to_dict(obj: Any) -> Any:
    """Plain-data form of a config: dataclasses to dicts, tuples to lists, paths to strings.

    The result is what :func:`save_yaml` writes and what :func:`from_dict` reads back.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
    if isinstance(obj, Mapping):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, bool | int | float | str) or obj is None:
        return obj
    raise TypeError(f"cannot convert {type(obj).__name__} to plain config data")


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML mapping (``yaml.safe_load``); an empty file gives ``{}``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not valid YAML or not a mapping at the top level (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: invalid YAML ({str(e).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the config must be a mapping at the top level, got {type(data).__name__}")
    return data


def save_yaml(data: Any, path: str | os.PathLike) -> Path:
    """Write a config (dataclass or plain mapping) as YAML, atomically; keys keep their order."""
    plain = to_dict(data)
    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text(yaml.safe_dump(plain, sort_keys=False, default_flow_style=None))
    return path


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b.c=value"`` -> ``(["a", "b", "c"], parsed value)``; the value is parsed as YAML."""
    if "=" not in text:
        raise ValueError(f"override {text!r} is not of the form key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise ValueError(f"override {text!r}: bad key {key!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw  # not YAML: keep the text (e.g. a path with a colon)
    return parts, value


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with dotted ``key=value`` overrides applied in order.

    Intermediate mappings are created when missing (the dataclass defaults fill the rest); unknown
    keys are not rejected here but by :func:`from_dict`, which names them.
    """
    out = merge_dicts({}, data)
    for text in overrides:
        parts, value = parse_override(text)
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ValueError(
                    f"override {text!r}: config key '{'.'.join(parts[: i + 1])}' is a value, not a section"
                )
            node = child
        node[parts[-1]] = value
    return out


def merge_dicts(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``update`` into a copy of ``base`` (mappings merge, anything else replaces)."""
    out: dict[str, Any] = {k: (merge_dicts({}, v) if isinstance(v, Mapping) else v) for k, v in base.items()}
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = merge_dicts(out[k], v)
        elif isinstance(v, Mapping):
            out[k] = merge_dicts({}, v)
        else:
            out[k] = v
    return out
