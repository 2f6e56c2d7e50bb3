"""Optional dependencies: one error type that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingDependencyError", "require"]


class MissingDependencyError(ImportError):
    """An optional package is not installed; the message names the extra (the CLI exits with 2)."""


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` saying that ``what`` needs it and
    how to install it (``pip install 'audiokit[extra]'``)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{what} needs the optional package {module.split('.')[0]}: pip install 'audiokit[{extra}]'"
        ) from None
