"""Each paper's loss forms/weights as recorded in the reference notes (apnet.md §5, ap_bwe.md §6)."""

from __future__ import annotations

import dataclasses

import pytest

from audiokit.discriminators import DISCRIMINATOR_PRESETS
from audiokit.losses import FEATURE_MATCHING_SCALES, LOSS_PRESETS, PHASE_LOSS_STYLES


def test_weights_follow_the_official_scripts():
    apnet, apnet2, bwe = LOSS_PRESETS["apnet"], LOSS_PRESETS["apnet2"], LOSS_PRESETS["ap_bwe"]
    # APNet: 45 L_A + 100 L_P + 20 (L_C + 2.25 (L_R + L_I)) + L_adv + 2 L_FM + 45 L_Mel
    assert (apnet.amplitude, apnet.phase, apnet.consistency, apnet.real_imag, apnet.mel) == (
        45,
        100,
        20,
        45,
        45,
    )
    assert (apnet.adversarial, apnet.fm_scale, apnet.log_eps) == ("lsgan", 2.0, 1e-5)
    assert apnet2.disc_weights == {"mpd": 1.0, "mrd": 0.1} and apnet2.adversarial == "hinge"
    # AP-BWE: 45 L_A + 100 L_P + 90 L_C + 90 L_S, no mel loss, MRAD/MRPD x0.1
    assert (bwe.amplitude, bwe.phase, bwe.complex, bwe.consistency, bwe.mel, bwe.real_imag) == (
        45,
        100,
        90,
        90,
        0,
        0,
    )
    assert bwe.disc_weights == {"mpd": 1.0, "mrad": 0.1, "mrpd": 0.1} and bwe.log_eps == 1e-4


@pytest.mark.parametrize("name", sorted(LOSS_PRESETS))
def test_presets_are_consistent(name):
    preset = LOSS_PRESETS[name]
    assert (preset.phase_form, preset.phase_boundary) == PHASE_LOSS_STYLES[name]
    assert preset.fm_scale == FEATURE_MATCHING_SCALES[name]
    assert tuple(preset.disc_weights) == DISCRIMINATOR_PRESETS[name]
    with pytest.raises(dataclasses.FrozenInstanceError):
        preset.phase = 1.0
