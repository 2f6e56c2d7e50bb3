"""Soundscape augmentation: joint masker and gain selection with feature-domain mixing.

An implementation of Watcharasupat et al., "Autonomous In-Situ Soundscape Augmentation via Joint
Selection of Masker and Gain" (IEEE SPL 2022) on the ARAUS dataset conventions. The paper has no
public code; the network here is the "audiokit variant" reconstructed from its description (see
``docs/soundscape.md``).
"""

from audiokit.soundscape.araus import ARAUS, iso_eventfulness, iso_pleasantness
from audiokit.soundscape.features import (
    ARAUS_HOP,
    ARAUS_N_FFT,
    ARAUS_N_MELS,
    ARAUS_SAMPLE_RATE,
    ARAUS_TOP_DB,
    LevelMeter,
    MelPowerStream,
    a_weighting_db,
    clip_top_db,
    db_to_power,
    features,
    leq_db,
    mel_power,
    num_frames,
    power_to_db,
)
from audiokit.soundscape.mix import db_to_gain, fit_length, gain_to_db, mix_features, mix_power, mix_waveforms
from audiokit.soundscape.model import (
    EncodedMaskers,
    EncodedSoundscape,
    MaskerGainConfig,
    MaskerGainPredictor,
    gaussian_nll,
)
from audiokit.soundscape.ranking import (
    DEFAULT_MODEL,
    MaskerBank,
    RankedPair,
    Ranking,
    load_model,
    rank_maskers,
    rank_maskers_stream,
)

__all__ = [
    "ARAUS",
    "DEFAULT_MODEL",
    "EncodedMaskers",
    "EncodedSoundscape",
    "MaskerBank",
    "MaskerGainConfig",
    "MaskerGainPredictor",
    "RankedPair",
    "Ranking",
    "a_weighting_db",
    "gaussian_nll",
    "iso_eventfulness",
    "iso_pleasantness",
    "leq_db",
    "load_model",
    "rank_maskers",
    "rank_maskers_stream",
    "ARAUS_HOP",
    "ARAUS_N_FFT",
    "ARAUS_N_MELS",
    "ARAUS_SAMPLE_RATE",
    "ARAUS_TOP_DB",
    "clip_top_db",
    "db_to_gain",
    "db_to_power",
    "features",
    "fit_length",
    "gain_to_db",
    "mel_power",
    "MelPowerStream",
    "LevelMeter",
    "mix_features",
    "mix_power",
    "mix_waveforms",
    "num_frames",
    "power_to_db",
]
