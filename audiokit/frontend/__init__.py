"""The shared STFT/ISTFT and mel frontend under every audiokit model.

See :mod:`audiokit.frontend.stft` for the framing conventions and :mod:`audiokit.frontend.mel`
for the librosa-identical mel filterbank.
"""

from audiokit.frontend.features import StreamingPyin, f0_pyin
from audiokit.frontend.griffinlim import MelInverse, griffin_lim, mel_to_magnitude
from audiokit.frontend.mel import MelSpectrogram, hz_to_mel, mel_filterbank, mel_to_hz
from audiokit.frontend.resample import SincResample, sinc_resample, sinc_resample_kernel, sinc_resample_length
from audiokit.frontend.stft import (
    APBWE_LOG_EPS,
    APNET_LOG_EPS,
    MEL_MAG_EPS,
    STFT,
    amplitude_phase,
    frames_to_samples,
    get_window,
    istft,
    log_amplitude,
    magnitude,
    spectrum_from_amplitude_phase,
    stft,
)

__all__ = [
    "APBWE_LOG_EPS",
    "APNET_LOG_EPS",
    "MEL_MAG_EPS",
    "STFT",
    "MelSpectrogram",
    "SincResample",
    "amplitude_phase",
    "f0_pyin",
    "StreamingPyin",
    "frames_to_samples",
    "get_window",
    "griffin_lim",
    "hz_to_mel",
    "istft",
    "log_amplitude",
    "magnitude",
    "mel_filterbank",
    "mel_to_magnitude",
    "MelInverse",
    "mel_to_hz",
    "sinc_resample",
    "sinc_resample_kernel",
    "sinc_resample_length",
    "spectrum_from_amplitude_phase",
    "stft",
]
