"""AP-BWE speech bandwidth extension (Lu et al., 2024): parallel amplitude and phase prediction.

Example:
    >>> from audiokit.bwe import APBWE  # doctest: +SKIP
    >>> model = APBWE.from_pretrained("pretrained/ap_bwe_tiny_8k_16k")  # doctest: +SKIP
    >>> wide = model.extend(wav_8k, 8000)  # (B, T) at 16 kHz  # doctest: +SKIP
"""

from audiokit.bwe.config import PRESETS, APBWEConfig, preset_names
from audiokit.bwe.inference import (
    DEFAULT_CHUNK_FRAMES,
    BandwidthExtender,
    amplitude_phase_apbwe,
    apply_high_band_gain,
    low_band_weights,
    merge_low_band,
    narrowband_input,
    simulate_narrowband,
)
from audiokit.bwe.model import APBWE, BWEOutput, load_state_dict_strict, read_official_checkpoint

__all__ = [
    "APBWE",
    "APBWEConfig",
    "BWEOutput",
    "BandwidthExtender",
    "DEFAULT_CHUNK_FRAMES",
    "PRESETS",
    "amplitude_phase_apbwe",
    "load_state_dict_strict",
    "low_band_weights",
    "merge_low_band",
    "apply_high_band_gain",
    "narrowband_input",
    "preset_names",
    "read_official_checkpoint",
    "simulate_narrowband",
]
