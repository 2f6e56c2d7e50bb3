"""State-dict layout of the discriminators vs the official do_* entries, and loading in both
weight-norm key styles."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrizations

from audiokit.discriminators import (
    DISCRIMINATOR_PRESETS,
    MultiPeriodDiscriminator,
    MultiResolutionAmplitudeDiscriminator,
    MultiResolutionDiscriminator,
    MultiResolutionPhaseDiscriminator,
    MultiScaleDiscriminator,
    PeriodDiscriminator,
    ResolutionDiscriminator,
    WNConv1d,
    WNConv2d,
    build_discriminators,
    load_discriminators,
    load_state_dict_compat,
    to_legacy_keys,
    to_parametrization_keys,
)

LAYOUT = json.loads(
    (Path(__file__).parents[1] / "data" / "official" / "discriminator_layout.json").read_text()
)
REFERENCE_PARAMS = {"mpd": 41_105_770, "msd": 29_618_821, "mrd": 600_198, "mrad": 600_198, "mrpd": 600_198}
DEFAULT_CLASSES = {
    "mpd": MultiPeriodDiscriminator,
    "msd": MultiScaleDiscriminator,
    "mrd": MultiResolutionDiscriminator,
    "mrad": MultiResolutionAmplitudeDiscriminator,
    "mrpd": MultiResolutionPhaseDiscriminator,
}


@pytest.mark.parametrize("entry", sorted(LAYOUT["entries"]))
def test_default_layout_matches_official_entry(entry):
    preset, name = entry.split("/")
    ref = LAYOUT["entries"][entry]
    # "meta" skips the weight init; not for the MSD, whose legacy spectral norm is slow on "meta"
    with torch.device("cpu" if name == "msd" else "meta"):
        module = build_discriminators(preset)[name]
        plain = DEFAULT_CLASSES[name]()  # the class defaults alone give the same layout
    for m in (module, plain):
        got = [[k, list(v.shape)] for k, v in m.state_dict().items()]
        assert got == ref["keys"]  # same names, shapes and order
        assert sum(p.numel() for p in m.parameters()) == ref["num_parameters"] == REFERENCE_PARAMS[name]


def test_presets_cover_the_official_entries():
    assert set(DISCRIMINATOR_PRESETS) == {e.split("/")[0] for e in LAYOUT["entries"]}
    for preset, names in DISCRIMINATOR_PRESETS.items():
        assert {f"{preset}/{n}" for n in names} <= set(LAYOUT["entries"])
    with torch.device("meta"):
        assert build_discriminators("ap_bwe")["mpd"].discriminators[0].include_first_fmap is False
        assert build_discriminators("apnet")["mpd"].discriminators[0].include_first_fmap is True
    with pytest.raises(ValueError, match="preset"):
        build_discriminators("hifigan-v9")


def _small_mpd(**kw) -> MultiPeriodDiscriminator:
    return MultiPeriodDiscriminator(periods=(2, 3), channels=(4, 8, 8, 16, 16), **kw)


def _randomise(module: nn.Module) -> nn.Module:
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.3 + (0.8 if p.dim() > 1 and p.shape[1:].numel() == 1 else 0.0))
    return module


def _torch_twin(module: nn.Module, legacy: bool) -> nn.Module:
    """The same network with torch's own weight norm (legacy hooks or parametrizations)."""
    twin = copy.deepcopy(module)
    for parent in list(twin.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, (WNConv1d, WNConv2d)):
                base = (nn.Conv1d if isinstance(child, WNConv1d) else nn.Conv2d)(
                    child.in_channels,
                    child.out_channels,
                    child.kernel_size,
                    child.stride,
                    child.padding,
                    child.dilation,
                    child.groups,
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)
                    wrapped = nn.utils.weight_norm(base) if legacy else parametrizations.weight_norm(base)
                setattr(parent, name, wrapped)
    return twin


@pytest.mark.parametrize("legacy", [True, False], ids=["legacy-weight_g/v", "parametrizations"])
def test_state_dict_round_trip_with_torch_weight_norm(legacy):
    ours = _randomise(_small_mpd()).eval()
    twin = _torch_twin(ours, legacy).eval()
    sd = ours.state_dict()
    if legacy:
        twin.load_state_dict(sd, strict=True)  # what official code (legacy weight_norm) does
    else:
        twin.load_state_dict(to_parametrization_keys(sd), strict=True)
        assert any("parametrizations.weight.original0" in k for k in twin.state_dict())
    y, g = torch.randn(2, 1, 301), torch.randn(2, 1, 301)
    out, ref = ours(y, g), twin(y, g)
    for a, b in zip(out.real_logits + out.fake_logits, ref[0] + ref[1]):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    # and back: the twin's state (either style) loads into a fresh audiokit module
    fresh = _small_mpd().eval()
    load_state_dict_compat(fresh, twin.state_dict())
    for k, v in ours.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[k], v, rtol=0, atol=0)


def test_spectral_norm_keys_round_trip():
    msd_branch = MultiScaleDiscriminator(num_scales=1).discriminators[0]
    sd = msd_branch.state_dict()
    assert list(sd)[:4] == ["convs.0.bias", "convs.0.weight_orig", "convs.0.weight_u", "convs.0.weight_v"]
    par = to_parametrization_keys(sd)
    twin = parametrizations.spectral_norm(nn.Conv1d(1, 128, 15, 1, padding=7))
    conv0 = {k.split(".", 2)[2]: v for k, v in par.items() if k.startswith("convs.0.")}
    assert sorted(conv0) == sorted(twin.state_dict())
    assert to_legacy_keys(par) == sd


def test_compat_loader_accepts_prefix_and_folded_weights():
    src = _randomise(ResolutionDiscriminator((64, 16, 64), channels=4)).eval()
    x = torch.randn(1, 1, 400)
    # DDP "module." prefix
    dst = ResolutionDiscriminator((64, 16, 64), channels=4).eval()
    load_state_dict_compat(dst, {"module." + k: v for k, v in src.state_dict().items()})
    torch.testing.assert_close(dst(x)[0], src(x)[0], rtol=0, atol=0)
    # folded weights (weight norm removed): same effective weights
    folded = {}
    for k, v in src.state_dict().items():
        if k.endswith("weight_v"):
            conv = src.get_submodule(k.rsplit(".", 1)[0])
            folded[k.replace("weight_v", "weight")] = conv.normalized_weight().detach()
        elif not k.endswith("weight_g"):
            folded[k] = v
    dst2 = ResolutionDiscriminator((64, 16, 64), channels=4).eval()
    load_state_dict_compat(dst2, folded)
    torch.testing.assert_close(dst2(x)[0], src(x)[0], rtol=1e-5, atol=1e-6)


def test_compat_loader_errors_name_the_key():
    module = PeriodDiscriminator(2, channels=(4, 8, 8, 16, 16))
    sd = module.state_dict()
    missing = dict(sd)
    del missing["convs.2.weight_g"]
    with pytest.raises(ValueError, match=r"missing keys convs\.2\.weight_g"):
        load_state_dict_compat(module, missing)
    extra = dict(sd, **{"convs.9.bias": torch.zeros(1)})
    with pytest.raises(ValueError, match=r"unexpected keys convs\.9\.bias"):
        load_state_dict_compat(module, extra)
    bad = dict(sd, **{"conv_post.bias": torch.zeros(3)})
    with pytest.raises(ValueError, match=r"conv_post\.bias: checkpoint \(3,\) vs model \(1,\)"):
        load_state_dict_compat(module, bad)
    missing_now, _ = load_state_dict_compat(module, missing, strict=False)
    assert missing_now == ["convs.2.weight_g"]


def test_load_discriminators_from_a_do_checkpoint(tmp_path):
    mods = {"mrad": MultiResolutionAmplitudeDiscriminator(), "mrpd": MultiResolutionPhaseDiscriminator()}
    _randomise(mods["mrad"])
    path = tmp_path / "do_00000010"
    torch.save({k: m.state_dict() for k, m in mods.items()} | {"steps": 10, "epoch": 0}, path)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    fresh = {"mrad": MultiResolutionAmplitudeDiscriminator(), "mrpd": MultiResolutionPhaseDiscriminator()}
    load_discriminators(fresh, ckpt)
    for k, v in mods["mrad"].state_dict().items():
        assert torch.equal(fresh["mrad"].state_dict()[k], v)
    with pytest.raises(ValueError, match="no 'mpd' entry"):
        load_discriminators({"mpd": _small_mpd()}, ckpt)
    with pytest.raises(ValueError, match="entry 'mrad'"):
        load_discriminators({"mrad": MultiResolutionDiscriminator(channels=8)}, ckpt)
