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


# The published objectives, copied from the reference tables: apnet.md §1 (STFT), §5 (L_G, L_D), §6
# (optimizers: AdamW(chain(msd, mpd)) / chain(mrd, mpd)); ap_bwe.md §2 (STFT, ln(|X| + 1e-4)), §6
# (weights, chain(mrad, mrpd, mpd), clipping at 10). Families: (weight, feature-matching weight).
PUBLISHED = {
    "apnet": {
        "stft": (1024, 80, 320, 1e-5),
        "forms": ("lsgan", "cos", "zero", "apnet"),
        "weights": (45, 100, 45, 0, 20, 45),  # amplitude, phase, real_imag, complex, consistency, mel
        "mel_f_max": 8000.0,
        "discs": {"msd": (1.0, 2.0, {}), "mpd": (1.0, 2.0, {})},
        "clip": None,
    },
    "apnet2": {
        "stft": (1024, 256, 1024, 1e-5),
        "forms": ("hinge", "abs", "zero", "apnet"),
        "weights": (45, 100, 45, 0, 20, 45),
        "mel_f_max": None,
        "discs": {"mrd": (0.1, 0.1, {}), "mpd": (1.0, 1.0, {})},
        "clip": None,
    },
    "ap_bwe": {
        "stft": (1024, 80, 320, 1e-4),
        "forms": ("hinge", "abs", "none", "ap_bwe"),
        "weights": (45, 100, 0, 90, 90, 0),
        "mel_f_max": None,
        "discs": {
            "mrad": (0.1, 0.1, {}),
            "mrpd": (0.1, 0.1, {}),
            "mpd": (1.0, 1.0, {"include_first_fmap": False}),
        },
        "clip": 10.0,
    },
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_gan_preset_is_the_published_configuration(name):
    from audiokit.train.gan import gan_preset

    want = PUBLISHED[name]
    stft, loss, discs = gan_preset(name)
    assert (stft.n_fft, stft.hop_length, stft.win_length, stft.log_eps) == want["stft"]
    assert (loss.adversarial, loss.phase_form, loss.phase_boundary, loss.consistency_form) == want["forms"]
    weights = (loss.amplitude, loss.phase, loss.real_imag, loss.complex, loss.consistency, loss.mel)
    assert weights == want["weights"] and loss.mel_f_max == want["mel_f_max"]
    assert loss.phase_weighting == "none"  # no paper weights its phase losses
    assert (loss.generator_grad_clip, loss.discriminator_grad_clip) == (want["clip"], want["clip"])
    got = {k: (d.weight, d.fm_weight, d.options) for k, d in discs.items()}
    assert list(got.items()) == list(want["discs"].items())  # the official optimizer order


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_presets_are_stated_once(name):
    """``gan_preset`` is derived from ``LOSS_PRESETS`` and the discriminator tables, and the modules
    ``build_discriminators`` makes are built with the same options."""
    from audiokit.discriminators import DISCRIMINATOR_OPTIONS, OPTIMIZER_ORDER, build_discriminators
    from audiokit.train.gan import build_discriminator, gan_preset

    p = LOSS_PRESETS[name]
    _, loss, discs = gan_preset(name)
    assert (loss.amplitude, loss.phase, loss.mel) == (p.amplitude, p.phase, p.mel)
    assert (loss.adversarial, loss.phase_form) == (p.adversarial, p.phase_form)
    assert loss.generator_grad_clip == loss.discriminator_grad_clip == p.grad_clip
    assert sorted(discs) == sorted(DISCRIMINATOR_PRESETS[name]) and tuple(discs) == OPTIMIZER_ORDER[name]
    official = build_discriminators(name)
    for k, d in discs.items():
        assert (d.weight, d.fm_weight) == (p.disc_weights[k], p.disc_weights[k] * p.fm_scale)
        assert d.options == DISCRIMINATOR_OPTIONS.get(name, {}).get(k, {})
        a, b = build_discriminator(k, d), official[k]
        assert type(a) is type(b) and a.state_dict().keys() == b.state_dict().keys()
        flags = [[getattr(m, "include_first_fmap", None) for m in x.modules()] for x in (a, b)]
        assert flags[0] == flags[1]
