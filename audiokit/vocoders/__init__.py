"""Neural vocoders predicting amplitude and phase spectra: APNet and APNet2.

Example:
    >>> from audiokit.vocoders import APNet2  # doctest: +SKIP
    >>> voc = APNet2.from_official("g_01000000")  # doctest: +SKIP
    >>> wav = voc(voc.mel(x)).audio  # doctest: +SKIP

See :class:`~audiokit.vocoders.base.SpectralVocoder` for the shared API (``mel``, ``forward``,
``synthesize``, ``from_official``, ``save_pretrained``/``from_pretrained``).
"""

from __future__ import annotations

from audiokit.checkpoints import MODEL_TYPES, model_class
from audiokit.vocoders.apnet import APNet
from audiokit.vocoders.apnet2 import APNet2
from audiokit.vocoders.base import SpectralVocoder, VocoderOutput
from audiokit.vocoders.config import APNet2Config, APNetConfig, VocoderConfig

#: model_type -> class of the vocoders (the entries of :data:`audiokit.checkpoints.MODEL_TYPES`
#: that are :class:`SpectralVocoder` s), used by :func:`load_vocoder` and the CLI.
MODELS: dict[str, type[SpectralVocoder]] = {
    t: model_class(t) for t, where in MODEL_TYPES.items() if where.startswith("audiokit.vocoders.")
}

__all__ = [
    "APNet",
    "APNet2",
    "APNetConfig",
    "APNet2Config",
    "MODELS",
    "SpectralVocoder",
    "VocoderConfig",
    "VocoderOutput",
    "load_vocoder",
]


def load_vocoder(path, model_type: str | None = None, config=None) -> SpectralVocoder:
    """Load a vocoder from an audiokit pretrained folder or an official generator checkpoint.

    Args:
        path: a folder with ``config.json`` + ``model.safetensors``, or an official ``g_*`` file.
        model_type: ``"apnet"``/``"apnet2"``; required for official checkpoints, checked for folders.
        config: configuration for official checkpoints (see :meth:`SpectralVocoder.from_official`).
    """
    from pathlib import Path

    p = Path(path)
    if model_type is not None and model_type not in MODELS:
        raise ValueError(f"unknown model {model_type!r}; choose one of {sorted(MODELS)}")
    if p.is_dir() or p.name == "config.json":
        cls = MODELS[model_type] if model_type else SpectralVocoder
        return cls.from_pretrained(p)
    if model_type is None:
        raise ValueError(f"{p}: an official checkpoint needs the model type (apnet or apnet2)")
    return MODELS[model_type].from_official(p, config=config)
