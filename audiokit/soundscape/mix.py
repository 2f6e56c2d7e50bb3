"""Feature-domain soundscape augmentation and its waveform-domain reference.

Mixing a masker ``m`` at linear gain ``g`` into a soundscape ``s`` gives ``x = s + g m``, whose STFT
power is ``|S|^2 + g^2 |M|^2 + 2 g Re(S M*)``. The cross term has zero mean for independent sources,
and the mel filterbank is linear in power, so the mel power of the mix is approximately
``P_s + g^2 P_m``. In dB that is a log-sum-exp: ``L = 10 log10(10^(L_s/10) + 10^((L_m + G)/10))``
with ``G = 20 log10 g`` the gain in dB. This replaces a waveform mix and an STFT per (masker, gain)
pair by one broadcast elementwise operation (the feature-domain augmentation of Watcharasupat et al.,
IEEE SPL 2022). A mono masker is added to every channel, as the ARAUS mixing rule does.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["mix_features", "mix_power", "mix_waveforms", "fit_length", "db_to_gain", "gain_to_db"]

_DB_PER_NEPER = 10.0 / math.log(10.0)  # 10 / ln 10


def db_to_gain(gain_db: float | torch.Tensor) -> float | torch.Tensor:
    """Linear amplitude gain ``10 ** (gain_db / 20)`` (``-inf`` dB -> 0)."""
    if isinstance(gain_db, torch.Tensor):
        return torch.pow(10.0, gain_db / 20.0)
    return 10.0 ** (gain_db / 20.0)


def gain_to_db(gain: float | torch.Tensor) -> float | torch.Tensor:
    """``20 log10(gain)`` (0 -> ``-inf``)."""
    if isinstance(gain, torch.Tensor):
        return 20.0 * torch.log10(gain)
    return 20.0 * math.log10(gain) if gain > 0 else -math.inf


def _check_pair(soundscape: torch.Tensor, masker: torch.Tensor) -> None:
    if soundscape.dim() < 3 or masker.dim() < 3:
        raise ValueError(
            f"features must be (..., C, F, N); got soundscape {tuple(soundscape.shape)}, "
            f"masker {tuple(masker.shape)}"
        )
    if soundscape.shape[-2:] != masker.shape[-2:]:
        raise ValueError(
            f"soundscape features {tuple(soundscape.shape[-2:])} and masker features "
            f"{tuple(masker.shape[-2:])} differ in (mels, frames); loop or crop the masker to the "
            "soundscape's length before extracting its features"
        )
    cs, cm = soundscape.shape[-3], masker.shape[-3]
    if cm not in (1, cs):
        raise ValueError(f"masker has {cm} channels; expected 1 (mono, added to every ear) or {cs}")


def _gain_view(gain_db: float | torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    g = torch.as_tensor(gain_db, dtype=ref.dtype, device=ref.device)
    if torch.isnan(g).any():
        raise ValueError("gain_db contains NaN")
    if (g == math.inf).any():
        raise ValueError("gain_db contains +inf")
    return g.reshape(*g.shape, 1, 1, 1)


def mix_features(
    soundscape_db: torch.Tensor, masker_db: torch.Tensor, gain_db: float | torch.Tensor
) -> torch.Tensor:
    """Feature-domain mix in dB: ``10 log10(10^(S/10) + 10^((M + G)/10))``, elementwise.

    Computed as ``max + 10 log10(1 + 10^(-|S - M - G| / 10))`` so that ``gain_db = -inf`` returns
    the soundscape features exactly (bit for bit).

    Args:
        soundscape_db: ``(..., C, F, N)`` soundscape features in dB (unclipped, see
            :func:`~audiokit.soundscape.features`).
        masker_db: ``(..., 1 | C, F, N)`` masker features in dB at unit gain; a mono masker is added
            to every channel.
        gain_db: masker gain in dB, a float or a tensor ``(...)``; ``-inf`` is silence.

    Returns:
        ``(*broadcast(soundscape lead, masker lead, gain shape), C, F, N)``.

    Example (all maskers x all gains in one call):
        >>> s = torch.randn(2, 64, 100)              # (C, F, N)
        >>> m = torch.randn(5, 1, 1, 64, 100)        # (M, 1, 1, F, N)
        >>> g = torch.tensor([-6.0, 0.0, 6.0])       # (G,)
        >>> mix_features(s, m, g).shape              # (M, G, C, F, N)
        torch.Size([5, 3, 2, 64, 100])
    """
    _check_pair(soundscape_db, masker_db)
    b = masker_db + _gain_view(gain_db, masker_db)
    a = soundscape_db
    hi = torch.maximum(a, b)
    lo = torch.minimum(a, b)
    delta = (lo - hi).nan_to_num_(nan=-math.inf)  # -inf - -inf
    return hi + _DB_PER_NEPER * torch.log1p(torch.exp(delta / _DB_PER_NEPER))


def mix_power(
    soundscape_power: torch.Tensor, masker_power: torch.Tensor, gain_db: float | torch.Tensor
) -> torch.Tensor:
    """Feature-domain mix in linear mel power: ``P_s + 10^(G/10) P_m`` (same broadcasting as
    :func:`mix_features`; ``gain_db = -inf`` returns ``P_s`` exactly).

    ``power_to_db(mix_power(P_s, P_m, G)) == mix_features(power_to_db(P_s), power_to_db(P_m), G)`` up
    to rounding (and the 1e-10 floor). The power form commutes with averaging over time, which
    :class:`~audiokit.soundscape.MaskerGainPredictor` uses to mix on time-pooled features.
    """
    _check_pair(soundscape_power, masker_power)
    g2 = torch.pow(10.0, _gain_view(gain_db, masker_power) / 10.0)
    return soundscape_power + g2 * masker_power


def fit_length(wav: torch.Tensor, length: int) -> torch.Tensor:
    """Loop (tile) or crop ``(..., T)`` audio to ``length`` samples along the last dim."""
    t = wav.shape[-1]
    if t == 0:
        raise ValueError("cannot loop empty audio")
    if t >= length:
        return wav[..., :length]
    reps = -(-length // t)
    return wav.repeat(*([1] * (wav.dim() - 1)), reps)[..., :length]


def mix_waveforms(
    soundscape: torch.Tensor | np.ndarray, masker: torch.Tensor | np.ndarray, gain_db: float
) -> torch.Tensor:
    """Waveform-domain reference mix ``s + 10^(G/20) m`` (the ARAUS rule, without its calibration).

    Args:
        soundscape: ``(C, T)`` audio.
        masker: ``(1, T')``/``(T',)`` mono (added to every channel) or ``(C, T')``; looped or cropped
            to ``T`` samples.
        gain_db: masker gain in dB (``-inf``: the soundscape unchanged).

    Returns:
        ``(C, T)`` float32 (float64 if either input is float64). Not clipped: the sum may exceed
        full scale.
    """
    s = torch.as_tensor(soundscape)
    m = torch.as_tensor(masker)
    if s.dim() == 1:
        s = s.unsqueeze(0)
    if m.dim() == 1:
        m = m.unsqueeze(0)
    if s.dim() != 2 or m.dim() != 2:
        raise ValueError(f"expected (C, T) audio, got soundscape {tuple(s.shape)}, masker {tuple(m.shape)}")
    if m.shape[0] not in (1, s.shape[0]):
        raise ValueError(f"masker has {m.shape[0]} channels; expected 1 or {s.shape[0]}")
    if gain_db == -math.inf:
        return s.clone()
    dtype = torch.promote_types(s.dtype, m.dtype)
    return s.to(dtype) + float(db_to_gain(float(gain_db))) * fit_length(m.to(dtype), s.shape[-1])
