"""Phase reconstruction from magnitudes: (fast) Griffin-Lim and mel-to-linear inversion.

Used as the classical baseline that neural vocoders are compared against.
"""

from __future__ import annotations

import torch

from audiokit.frontend.stft import STFT

__all__ = ["griffin_lim", "mel_to_magnitude", "MelInverse"]

#: projected-gradient iterations of the non-negative least-squares mel inversion
NNLS_ITERS = 50


def griffin_lim(
    magnitude: torch.Tensor,
    stft: STFT,
    n_iter: int = 32,
    momentum: float = 0.99,
    length: int | None = None,
    init: str | torch.Tensor = "ones",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fast Griffin-Lim (Perraudin et al. 2013), the algorithm of :func:`librosa.griffinlim`.

    Args:
        magnitude: ``(B, F, N)`` or ``(F, N)`` linear magnitudes.
        stft: the :class:`STFT` whose framing produced ``magnitude``.
        n_iter: iterations; ``momentum`` 0 gives the original Griffin-Lim.
        init: ``"ones"`` (zero phase, librosa's ``init=None``), ``"random"``, or a real tensor of
            initial phases (radians) shaped like ``magnitude`` (phase refinement of a vocoder's
            estimate).

    Returns:
        ``(B, T)`` waveform.
    """
    if magnitude.dim() == 2:
        magnitude = magnitude.unsqueeze(0)
    if isinstance(init, torch.Tensor):
        if init.is_complex() or init.shape[-2:] != magnitude.shape[-2:]:
            raise ValueError(
                f"init phase must be a real tensor shaped like the magnitude {tuple(magnitude.shape)}, "
                f"got {tuple(init.shape)} {init.dtype}"
            )
        angles = torch.polar(torch.ones_like(magnitude), init.to(magnitude.dtype).expand_as(magnitude))
    elif init == "random":
        angles = torch.exp(
            2j * torch.pi * torch.rand(magnitude.shape, generator=generator, dtype=magnitude.dtype)
        )
    elif init == "ones":
        angles = torch.ones(
            magnitude.shape, dtype=torch.complex64 if magnitude.dtype == torch.float32 else torch.complex128
        )
    else:
        raise ValueError(f"init must be 'ones' or 'random', got {init!r}")
    angles = angles.to(magnitude.device)
    rebuilt = torch.zeros_like(angles)
    eps = torch.finfo(magnitude.dtype).tiny
    for _ in range(n_iter):
        tprev = rebuilt
        inverse = stft.inverse(magnitude * angles, length=length)
        rebuilt = stft(inverse)
        angles = rebuilt - (momentum / (1 + momentum)) * tprev
        angles = angles / (angles.abs() + eps)
    return stft.inverse(magnitude * angles, length=length)


def mel_to_magnitude(mel: torch.Tensor, mel_basis: torch.Tensor, power: float = 1.0) -> torch.Tensor:
    """Approximate linear magnitudes ``(B, F, N)`` from a linear-amplitude mel ``(B, M, N)``.

    Non-negative least squares by projected gradient from the pseudo-inverse start (as
    :func:`librosa.feature.inverse.mel_to_stft`); ``power`` is the exponent the mel was built with.
    """
    return MelInverse(mel_basis.to(mel.dtype))(mel).pow(1.0 / power)


class MelInverse(torch.nn.Module):
    """Non-negative least-squares inversion of a mel filterbank: mel ``(B, M, N)`` -> ``(B, F, N)``.

    Projected gradient (``iters`` steps of size 1/L, L the Lipschitz constant of ``basis.T @ basis``)
    from the clamped pseudo-inverse, as :func:`librosa.feature.inverse.mel_to_stft`. The pseudo-inverse
    is computed once (a buffer, not saved in state dicts), so the forward pass is matmuls and clamps
    only (exportable to ONNX).
    """

    def __init__(self, mel_basis: torch.Tensor, iters: int = NNLS_ITERS):
        super().__init__()
        basis = mel_basis.detach()
        self.iters = int(iters)
        self.register_buffer("basis", basis.clone(), persistent=False)
        self.register_buffer("pinv", torch.linalg.pinv(basis.double()).to(basis.dtype), persistent=False)
        lip = torch.linalg.matrix_norm(basis.double().T @ basis.double(), ord=2)
        self.register_buffer("step", (1.0 / lip).to(basis.dtype), persistent=False)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        basis, step = self.basis.to(mel.dtype), self.step.to(mel.dtype)
        x = torch.clamp(self.pinv.to(mel.dtype) @ mel, min=0.0)
        for _ in range(self.iters):
            x = torch.clamp(x - step * (basis.T @ (basis @ x - mel)), min=0.0)
        return x
