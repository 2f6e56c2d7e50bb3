"""DDSP: differentiable digital signal processing (Engel et al., ICLR 2020) in PyTorch.

Interpretable synthesis from pitch and loudness::

    from audiokit import ddsp
    audio = ddsp.harmonic(f0_hz, amplitudes, harmonic_distribution, n_samples=64000)  # (B, F)... -> (B, T)
    noise = ddsp.filtered_noise(magnitudes)                                          # (B, F, 65) -> (B, 64 F)
    audio = ddsp.synthesize(f0_hz, loudness_db)                                      # one call
    model = ddsp.DDSPAutoencoder.from_pretrained("pretrained/ddsp_tiny")

Modules: :mod:`~audiokit.ddsp.core` (scaling, resampling), :mod:`~audiokit.ddsp.oscillators`
(phase, oscillator banks, wavetables), :mod:`~audiokit.ddsp.filters` (FIR design, FFT convolution),
:mod:`~audiokit.ddsp.processors` (Processor, ProcessorGroup DAG), :mod:`~audiokit.ddsp.synths`,
:mod:`~audiokit.ddsp.effects`, :mod:`~audiokit.ddsp.features` (loudness, f0),
:mod:`~audiokit.ddsp.losses` (multi-scale spectral loss), :mod:`~audiokit.ddsp.encoders`,
:mod:`~audiokit.ddsp.decoders`, :mod:`~audiokit.ddsp.model` (the autoencoder),
:mod:`~audiokit.ddsp.synthetic` (the synthetic-instrument data set).
"""

from audiokit.ddsp.api import (
    default_harmonic_distribution,
    filtered_noise,
    harmonic,
    loudness_to_amplitude,
    notes_to_controls,
    synthesize,
)
from audiokit.ddsp.core import exp_sigmoid, hz_to_midi, midi_to_hz, resample, upsample_with_windows
from audiokit.ddsp.effects import ExpDecayReverb, FilteredNoiseReverb, FIRFilter, ModDelay, Reverb
from audiokit.ddsp.features import compute_loudness, compute_loudness_legacy, compute_power, extract_features
from audiokit.ddsp.filters import fft_convolve, frequency_filter, frequency_impulse_response, sinc_filter
from audiokit.ddsp.losses import SpectralLoss
from audiokit.ddsp.model import DDSPAutoencoder, DDSPConfig
from audiokit.ddsp.oscillators import (
    HarmonicStream,
    harmonic_synthesis,
    normalize_harmonics,
    oscillator_bank,
    sinusoidal_synthesis,
    wavetable_synthesis,
)
from audiokit.ddsp.processors import Add, Crop, Mix, Processor, ProcessorGroup
from audiokit.ddsp.synths import FilteredNoise, Harmonic, Sinusoidal, Wavetable

__all__ = [
    "Add",
    "Crop",
    "DDSPAutoencoder",
    "DDSPConfig",
    "ExpDecayReverb",
    "FIRFilter",
    "FilteredNoise",
    "FilteredNoiseReverb",
    "Harmonic",
    "HarmonicStream",
    "Mix",
    "ModDelay",
    "Processor",
    "ProcessorGroup",
    "Reverb",
    "Sinusoidal",
    "SpectralLoss",
    "Wavetable",
    "compute_loudness",
    "compute_loudness_legacy",
    "compute_power",
    "default_harmonic_distribution",
    "exp_sigmoid",
    "extract_features",
    "fft_convolve",
    "filtered_noise",
    "frequency_filter",
    "frequency_impulse_response",
    "harmonic",
    "harmonic_synthesis",
    "hz_to_midi",
    "loudness_to_amplitude",
    "midi_to_hz",
    "normalize_harmonics",
    "notes_to_controls",
    "oscillator_bank",
    "resample",
    "sinc_filter",
    "sinusoidal_synthesis",
    "synthesize",
    "upsample_with_windows",
    "wavetable_synthesis",
]
