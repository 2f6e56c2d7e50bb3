"""Waveform-level AP-BWE: narrowband simulation, input-rate handling, chunked inference.

The official pipeline (``inference/inference_{16k,48k}.py``) is::

    audio_hr = resample(audio, sr, hr)
    audio_nb = resample(resample(audio, sr, lr), lr, hr)[:, :len(audio_hr)]
    mag, pha = stft(audio_nb);  mag, pha = model(mag, pha);  out = istft(mag, pha)

with torchaudio's default sinc resampler (reimplemented in :mod:`audiokit.frontend.resample`) and
an output of ``80 * floor(len / 80)`` samples. :meth:`BandwidthExtender.extend` runs the same
pipeline, returns exactly ``len(audio_hr)`` samples (the ISTFT is asked for that length instead of
trimming) and, for long inputs, runs the generator on chunks of frames with enough context that the
result equals the one-pass result up to float rounding while memory stays bounded by the chunk.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from audiokit.bwe.outputs import amplitude_phase_apbwe, check_rate
from audiokit.bwe.streaming import BWEStreamer
from audiokit.frontend import (
    sinc_resample,
    sinc_resample_length,
    spectrum_from_amplitude_phase,
)
from audiokit.frontend.stft import pad_window

if TYPE_CHECKING:
    from audiokit.bwe.config import APBWEConfig
    from audiokit.frontend import STFT

__all__ = [
    "DEFAULT_CHUNK_FRAMES",
    "BandwidthExtender",
    "amplitude_phase_apbwe",
    "low_band_weights",
    "merge_low_band",
    "apply_high_band_gain",
    "narrowband_input",
    "simulate_narrowband",
]

log = logging.getLogger(__name__)

#: Frames per chunk of :meth:`BandwidthExtender.extend` (about 10 s at 16 kHz, 3.4 s at 48 kHz).
DEFAULT_CHUNK_FRAMES = 2048


def _as_batch(wav: torch.Tensor | np.ndarray, name: str = "wav") -> torch.Tensor:
    x = torch.as_tensor(wav)
    if x.dim() == 1:
        x = x[None]
    if x.dim() != 2:
        raise ValueError(f"{name}: expected audio (T,) or (B, T), got shape {tuple(x.shape)}")
    if x.shape[-1] == 0:
        raise ValueError(f"{name}: audio is empty (zero samples)")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected floating point audio, got {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: audio contains NaN or Inf samples")
    return x


def simulate_narrowband(wav: torch.Tensor, hr_sr: int, lr_sr: int) -> torch.Tensor:
    """The official narrowband simulation: ``hr -> lr -> hr`` with torchaudio's sinc resampler,
    truncated to the input length.

    Args:
        wav: wideband audio ``(..., T)`` at ``hr_sr``.
        hr_sr: its sample rate.
        lr_sr: the narrowband rate (content above ``0.99 * lr_sr / 2`` is removed).

    Returns:
        ``(..., T)`` at ``hr_sr``, the input of the AP-BWE generator.
    """
    hr_sr, lr_sr = check_rate(hr_sr, "hr_sr"), check_rate(lr_sr, "lr_sr")
    if lr_sr >= hr_sr:
        raise ValueError(f"lr_sr ({lr_sr}) must be below hr_sr ({hr_sr})")
    wav = torch.as_tensor(wav)
    if wav.shape[-1] == 0:
        raise ValueError("simulate_narrowband: audio is empty (zero samples)")
    return sinc_resample(sinc_resample(wav, hr_sr, lr_sr), lr_sr, hr_sr)[..., : wav.shape[-1]]


def narrowband_input(wav: torch.Tensor, sr: int, config: APBWEConfig) -> torch.Tensor:
    """The generator's input signal at ``hr`` for audio at any rate, as the official inference:
    ``resample(resample(wav, sr, lr), lr, hr)`` truncated to ``ceil(T * hr / sr)`` samples.

    At ``sr == lr`` this is plain sinc upsampling of genuine narrowband audio; at ``sr == hr`` it is
    :func:`simulate_narrowband` (the band above ``lr / 2`` is discarded and re-synthesised); other
    rates are first resampled to ``lr``.
    """
    lr, hr = config.lr_sampling_rate, config.hr_sampling_rate
    if sr < lr:
        log.warning(
            "input at %d Hz is below the model's narrowband rate %d Hz: the band %.0f-%.0f Hz is empty "
            "and will stay poor; a preset with a lower source rate fits better",
            sr,
            lr,
            sr / 2,
            lr / 2,
        )
    nb = sinc_resample(sinc_resample(wav, sr, lr), lr, hr)
    return nb[..., : sinc_resample_length(wav.shape[-1], sr, hr)]


class BandwidthExtender:
    """Waveform-level inference shared by :class:`~audiokit.bwe.APBWE` and its fused variant.

    The host class provides ``config`` (:class:`~audiokit.bwe.APBWEConfig`), ``stft``
    (:class:`~audiokit.frontend.STFT`) and ``forward(log_amplitude, phase)`` returning the wideband
    ``(log_amplitude, phase)`` (a :class:`~audiokit.bwe.BWEOutput` or a tuple).
    """

    config: APBWEConfig
    stft: STFT

    def _device_dtype(self) -> tuple[torch.device, torch.dtype]:
        p = next(self.parameters())  # type: ignore[attr-defined]
        return p.device, (p.dtype if p.dtype in (torch.float32, torch.float64) else torch.float32)

    def analyse(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, T)`` audio at ``hr`` -> narrowband ``(log_amplitude, phase)``, each ``(B, F, N)``."""
        return amplitude_phase_apbwe(self.stft(wav), self.config.log_eps)

    def synthesise(
        self, log_amplitude: torch.Tensor, phase: torch.Tensor, length: int | None = None
    ) -> torch.Tensor:
        """``(B, F, N)`` log-amplitude and phase -> ``(B, T)``; ``length=None`` gives the official
        ``hop * (N - 1)`` samples."""
        return self.stft.inverse(spectrum_from_amplitude_phase(log_amplitude, phase), length=length)

    def generate(self, log_amplitude: torch.Tensor, phase: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the generator; returns the wideband ``(log_amplitude, phase)``."""
        mag, pha = self(log_amplitude, phase)  # type: ignore[operator]
        return mag, pha

    def _generate_wideband(
        self, log_amplitude: torch.Tensor, phase: torch.Tensor, keep_low_band: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        mag, pha = self.generate(log_amplitude, phase)
        if keep_low_band:
            mag, pha = merge_low_band(log_amplitude, phase, mag, pha, self.config)
        return apply_high_band_gain(mag, self.config), pha

    @torch.inference_mode()
    def extend(
        self,
        wav: torch.Tensor | np.ndarray,
        sr: int,
        chunk_frames: int | None = DEFAULT_CHUNK_FRAMES,
        keep_low_band: bool | None = None,
    ) -> torch.Tensor:
        """Bandwidth-extend audio to the model's target rate.

        Args:
            wav: ``(T,)`` or ``(B, T)`` audio (rows are channels or items, processed independently).
            sr: its sample rate. At the preset's low rate the audio is treated as genuine narrowband
                (sinc-upsampled, then extended); at the target rate it is first degraded as the
                official inference does (``hr -> lr -> hr``), so its band above ``lr / 2`` is
                re-synthesised; any other rate is resampled to the low rate first.
            chunk_frames: STFT frames per generator call; longer inputs are processed in chunks
                with ``receptive_field`` frames of context on each side (same result to float
                rounding, memory bounded by the chunk). ``None`` runs the whole input at once.
            keep_low_band: keep the input's spectrum below ``lr / 2`` and use the generated one
                above (see :class:`~audiokit.bwe.APBWEConfig`); ``None``: ``config.keep_low_band``
                (``False``, the official behaviour, unless the model's config says otherwise).

        Returns:
            ``(B, ceil(T * hr / sr))`` float32 audio at ``config.hr_sampling_rate`` (the input's duration).
        """
        sr = check_rate(sr)
        x = _as_batch(wav)
        device, dtype = self._device_dtype()
        x = x.to(device=device, dtype=dtype)
        nb = narrowband_input(x, sr, self.config)
        return self.extend_narrowband(nb, chunk_frames, keep_low_band).float()

    @torch.inference_mode()
    def extend_narrowband(
        self,
        nb: torch.Tensor,
        chunk_frames: int | None = DEFAULT_CHUNK_FRAMES,
        keep_low_band: bool | None = None,
    ) -> torch.Tensor:
        """Generator and ISTFT for a narrowband signal already at ``hr`` ``(B, T)`` -> ``(B, T)``."""
        nb = _as_batch(nb, "narrowband audio")
        cfg = self.config
        keep = cfg.keep_low_band if keep_low_band is None else bool(keep_low_band)
        length = nb.shape[-1]
        if length <= cfg.n_fft // 2:  # reflect padding of the centred STFT needs more samples
            nb = F.pad(nb, (0, cfg.n_fft // 2 + 1 - length))
        n_frames = 1 + nb.shape[-1] // cfg.hop_size
        if chunk_frames is not None and chunk_frames < 1:
            raise ValueError(f"chunk_frames must be positive or None, got {chunk_frames}")
        if chunk_frames is None or n_frames <= chunk_frames + 2 * self._context_frames():
            mag, pha = self._generate_wideband(*self.analyse(nb), keep)
            return self.synthesise(mag, pha, length=nb.shape[-1])[..., :length]
        return self._extend_chunked(nb, chunk_frames, keep)[..., :length]

    def stream(self, sr: int | None = None, keep_low_band: bool | None = None, max_frames: int = 512):
        """A :class:`~audiokit.bwe.streaming.BWEStreamer` for audio at ``sr`` (default: the preset's
        low rate): ``push(audio (B, t)) -> wideband audio``, ``flush() -> audio``; the concatenated
        output equals :meth:`extend` to float rounding for any chunk sizes."""
        return BWEStreamer(self, sr=sr, keep_low_band=keep_low_band, max_frames=max_frames)

    def _context_frames(self) -> int:
        return self.config.receptive_field

    def _synthesis_margin(self) -> int:
        """Frames on each side of a block of output samples whose windows overlap it."""
        return math.ceil(self.config.win_size / 2 / self.config.hop_size) + 1

    def _chunk_workers(self, n_chunks: int) -> int:
        """Threads that process chunks concurrently (1: sequential, torch's own threading)."""
        return 1

    def _extend_chunked(self, nb: torch.Tensor, chunk: int, keep_low_band: bool = False) -> torch.Tensor:
        cfg = self.config
        hop, n_fft = cfg.hop_size, cfg.n_fft
        batch, length = nb.shape
        n_frames = 1 + length // hop
        ctx, margin = self._context_frames(), self._synthesis_margin()
        padded = F.pad(nb[:, None], (n_fft // 2, n_fft // 2), mode="reflect")[:, 0]
        window = self.stft.window.to(device=nb.device, dtype=nb.dtype)
        out = nb.new_empty(batch, length)

        def run_chunk(start: int) -> None:
            stop = min(n_frames, start + chunk)
            syn0, syn1 = max(0, start - margin), min(n_frames, stop + margin)  # frames to synthesise
            ana0, ana1 = max(0, syn0 - ctx), min(n_frames, syn1 + ctx)  # frames to analyse
            with torch.inference_mode():
                seg = padded[:, ana0 * hop : (ana1 - 1) * hop + n_fft]
                spec = torch.stft(seg, n_fft, hop, cfg.win_size, window, center=False, return_complex=True)
                mag, pha = self._generate_wideband(*amplitude_phase_apbwe(spec, cfg.log_eps), keep_low_band)
                mag, pha = mag[..., syn0 - ana0 : syn1 - ana0], pha[..., syn0 - ana0 : syn1 - ana0]
                y0, y1 = start * hop, (length if stop == n_frames else stop * hop)
                out[:, y0:y1] = _overlap_add(
                    spectrum_from_amplitude_phase(mag, pha), window, n_fft, hop, syn0, y0, y1
                )

        starts = list(range(0, n_frames, chunk))
        workers = min(self._chunk_workers(len(starts)), len(starts))
        if workers <= 1:
            for start in starts:
                run_chunk(start)
            return out
        # Chunks are independent: run them on ``workers`` threads, each op single-threaded. On a
        # small shared CPU this beats intra-op threading (no OpenMP barriers per small op).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(run_chunk, starts))
        finally:
            torch.set_num_threads(threads)
        return out


def low_band_weights(
    config: APBWEConfig, device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(amplitude_weight, phase_mask)``, each ``(F, 1)``: the share of the input in the merged
    log-amplitude (1 up to ``low_band_crossover * lr / 2``, a raised-cosine fade to 0 at ``lr / 2``)
    and where the input's phase is kept (below ``lr / 2``)."""
    freqs = (
        torch.arange(config.n_bins, dtype=torch.float64, device=device)
        * config.hr_sampling_rate
        / config.n_fft
    )
    top = config.lr_sampling_rate / 2
    start = config.low_band_crossover * top
    ramp = ((top - freqs) / max(top - start, 1e-9)).clamp(0, 1)
    weight = torch.where(freqs <= start, torch.ones_like(freqs), 0.5 - 0.5 * torch.cos(torch.pi * ramp))
    return weight.float()[:, None], (freqs < top)[:, None]


def merge_low_band(
    log_amplitude_nb: torch.Tensor,
    phase_nb: torch.Tensor,
    log_amplitude: torch.Tensor,
    phase: torch.Tensor,
    config: APBWEConfig,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generated wideband ``(B, F, N)`` spectra with the narrowband input's low band put back
    (see ``APBWEConfig.keep_low_band`` and :func:`low_band_weights`)."""
    weight, keep_phase = low_band_weights(config, log_amplitude.device)
    mag = weight * log_amplitude_nb + (1 - weight) * log_amplitude
    return mag, torch.where(keep_phase, phase_nb, phase)


def apply_high_band_gain(log_amplitude: torch.Tensor, config: APBWEConfig) -> torch.Tensor:
    """``log_amplitude`` ``(B, F, N)`` with ``config.high_band_gain_db`` added above ``lr / 2``
    (weighted by ``1 - amplitude_weight`` of :func:`low_band_weights`, so the low band is untouched)."""
    if config.high_band_gain_db == 0.0:
        return log_amplitude
    weight, _ = low_band_weights(config, log_amplitude.device)
    nepers = config.high_band_gain_db * math.log(10.0) / 20.0
    return log_amplitude + (1 - weight).to(log_amplitude.dtype) * nepers


def _overlap_add(
    spec: torch.Tensor, window: torch.Tensor, n_fft: int, hop: int, first_frame: int, y0: int, y1: int
) -> torch.Tensor:
    """Samples ``[y0, y1)`` of the centred ISTFT (as :func:`torch.istft`) from the frames
    ``first_frame ...`` that overlap them: irfft, window, overlap-add, divide by the window envelope."""
    n = spec.shape[-1]
    w = pad_window(window, n_fft)
    frames = torch.fft.irfft(spec, n=n_fft, dim=1) * w[None, :, None]
    total = (n - 1) * hop + n_fft
    y = F.fold(frames, output_size=(1, total), kernel_size=(1, n_fft), stride=(1, hop))[:, 0, 0]
    env = F.fold(
        (w * w)[None, :, None].expand(1, n_fft, n),
        output_size=(1, total),
        kernel_size=(1, n_fft),
        stride=(1, hop),
    )[0, 0, 0]
    a = y0 + n_fft // 2 - first_frame * hop
    b = y1 + n_fft // 2 - first_frame * hop
    env = env[a:b]
    if (env.abs() < 1e-11).any():
        raise ValueError("window/hop combination violates the overlap-add (NOLA) condition")
    return y[:, a:b] / env
