"""audiokit: audio toolkit and neural vocoders on PyTorch.

Subpackages are imported lazily by the user (``audiokit.frontend``, ``audiokit.vocoders``, ...);
importing :mod:`audiokit` itself stays cheap.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
