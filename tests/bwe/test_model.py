"""AP-BWE structure: state-dict layout of the official generator, loading, saving, configs."""

from __future__ import annotations

import json

import pytest
import torch

from audiokit.bwe import APBWE, PRESETS, APBWEConfig, BWEOutput

BLOCK_KEYS = [
    ("gamma", (512,)),
    ("dwconv.weight", (512, 1, 7)),
    ("dwconv.bias", (512,)),
    ("norm.weight", (512,)),
    ("norm.bias", (512,)),
    ("pwconv1.weight", (1536, 512)),
    ("pwconv1.bias", (1536,)),
    ("pwconv2.weight", (512, 1536)),
    ("pwconv2.bias", (512,)),
]


def official_layout() -> list[tuple[str, tuple[int, ...]]]:
    """The official generator's state dict, key order and shapes (reference notes, section 4)."""
    keys = []
    for s in ("mag", "pha"):
        keys += [
            (f"conv_pre_{s}.weight", (512, 513, 7)),
            (f"conv_pre_{s}.bias", (512,)),
            (f"norm_pre_{s}.weight", (512,)),
            (f"norm_pre_{s}.bias", (512,)),
        ]
    for s in ("mag", "pha"):
        for i in range(8):
            keys += [(f"convnext_{s}.{i}.{k}", shape) for k, shape in BLOCK_KEYS]
    for s in ("mag", "pha"):
        keys += [(f"norm_post_{s}.weight", (512,)), (f"norm_post_{s}.bias", (512,))]
    for s in ("mag", "pha_r", "pha_i"):
        keys += [(f"linear_post_{s}.weight", (513, 512)), (f"linear_post_{s}.bias", (513,))]
    return keys


def small_config(**kw) -> APBWEConfig:
    return APBWEConfig.preset("8k_16k").replace(channels=16, layers=2, **kw)


@pytest.mark.parametrize("name", list(PRESETS))
def test_full_size_state_dict_equals_official_layout(name):
    with torch.device("meta"):
        model = APBWE(APBWEConfig.preset(name))
    layout = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    assert layout == official_layout()
    assert len(layout) == 162
    assert model.num_parameters() == 29_760_515


def test_presets():
    assert list(PRESETS) == ["2k_16k", "4k_16k", "8k_16k", "8k_48k", "12k_48k", "16k_48k", "24k_48k"]
    for name, cfg in PRESETS.items():
        assert cfg.name == name
        assert (cfg.n_fft, cfg.hop_size, cfg.win_size, cfg.channels, cfg.layers) == (1024, 80, 320, 512, 8)
    assert APBWEConfig.preset("16kto48k") == PRESETS["16k_48k"]
    assert APBWEConfig.preset("8k_48k").lr_sampling_rate == 8000
    assert PRESETS["8k_16k"].receptive_field == 27
    with pytest.raises(ValueError, match="unknown AP-BWE preset"):
        APBWEConfig.preset("8k_22k")


def test_config_round_trips_and_strictness():
    cfg = small_config()
    assert APBWEConfig.from_dict(cfg.to_dict()) == cfg
    assert APBWEConfig.from_yaml(cfg.to_yaml()) == cfg
    with pytest.raises(ValueError, match="unknown key.*n_mels"):
        APBWEConfig.from_dict({**cfg.to_dict(), "n_mels": 80})
    with pytest.raises(ValueError, match="APBWEConfig.channels"):
        APBWEConfig.from_dict({**cfg.to_dict(), "channels": "wide"})
    with pytest.raises(ValueError, match="lr_sampling_rate"):
        APBWEConfig(hr_sampling_rate=16000, lr_sampling_rate=16000)
    official = {
        "batch_size": 16,
        "ConvNeXt_channels": 512,
        "ConvNeXt_layers": 8,
        "n_fft": 1024,
        "hop_size": 80,
        "win_size": 320,
        "hr_sampling_rate": 48000,
        "lr_sampling_rate": 12000,
    }
    assert APBWEConfig.from_official(official) == PRESETS["12k_48k"]


def test_cross_add_is_sequential():
    """With identity blocks (gamma = 0) the phase stream entering block 1 is 2 x_pha0 + x_mag0."""
    model = APBWE(small_config()).eval()
    for block in [*model.convnext_mag, *model.convnext_pha]:
        block.gamma.data.zero_()
    mag, pha = torch.randn(2, 513, 20), torch.rand(2, 513, 20) * 6 - 3
    seen = {}
    model.convnext_mag[0].register_forward_hook(lambda m, i, o: seen.setdefault("mag", i[0]))
    model.convnext_pha[0].register_forward_hook(lambda m, i, o: seen.setdefault("pha", i[0]))
    with torch.no_grad():
        model(mag, pha)
        x_mag0 = model.norm_pre_mag(model.conv_pre_mag(mag))
        x_pha0 = model.norm_pre_pha(model.conv_pre_pha(pha))
    torch.testing.assert_close(seen["mag"], x_mag0 + x_pha0)
    torch.testing.assert_close(seen["pha"], 2 * x_pha0 + x_mag0)


def test_forward_output_and_heads():
    model = APBWE(small_config()).eval()
    mag, pha = torch.randn(1, 513, 9), torch.rand(1, 513, 9) * 6 - 3
    out = model(mag, pha)
    assert isinstance(out, BWEOutput)
    assert out.log_amplitude.shape == out.phase.shape == (1, 513, 9)
    assert out.phase.abs().max() <= torch.pi
    # amplitude residual adds the input log-amplitude
    with torch.no_grad():
        out2 = model(mag + 1.0, pha)
    assert not torch.allclose(out2.log_amplitude, out.log_amplitude + 1.0)  # the network sees the shift too
    model.linear_post_mag.weight.data.zero_()
    model.linear_post_mag.bias.data.zero_()
    with torch.no_grad():
        torch.testing.assert_close(model(mag, pha).log_amplitude, mag)
    ri = out.real_imag
    assert ri.shape == (1, 513, 9, 2)
    torch.testing.assert_close(torch.complex(ri[..., 0], ri[..., 1]), out.spectrum)
    m, p = out  # tuple-style unpacking
    assert m is out.log_amplitude and p is out.phase


def test_forward_rejects_bad_shapes():
    model = APBWE(small_config())
    with pytest.raises(ValueError, match="513 frequency bins"):
        model(torch.randn(1, 512, 4), torch.randn(1, 512, 4))
    with pytest.raises(ValueError, match="equal shape"):
        model(torch.randn(1, 513, 4), torch.randn(1, 513, 5))


def test_from_official_file_formats(tmp_path):
    cfg = small_config()
    src = APBWE(cfg)
    sd = src.state_dict()
    torch.save({"generator": sd}, tmp_path / "g_8kto16k")
    torch.save(sd, tmp_path / "bare.pt")
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in sd.items()}, str(tmp_path / "g.safetensors"))
    for ckpt in (
        tmp_path / "g_8kto16k",
        tmp_path / "bare.pt",
        tmp_path / "g.safetensors",
        {"generator": sd},
        sd,
    ):
        model = APBWE.from_official(ckpt, cfg)
        assert not model.training
        assert all(p.requires_grad and p.dtype == torch.float32 for p in model.parameters())
        for k, v in model.state_dict().items():
            assert torch.equal(v, sd[k]), k


def test_from_official_lists_key_mismatches(tmp_path):
    cfg = small_config()
    sd = dict(APBWE(cfg).state_dict())
    del sd["convnext_pha.1.gamma"]
    del sd["linear_post_pha_i.bias"]
    sd["convnext_mag.0.scale"] = torch.zeros(16)
    sd["conv_pre_mag.weight"] = torch.zeros(16, 513, 5)
    with pytest.raises(ValueError) as e:
        APBWE.from_official(sd, cfg)
    msg = str(e.value)
    assert "missing 2 key(s): convnext_pha.1.gamma, linear_post_pha_i.bias" in msg
    assert "unexpected 1 key(s): convnext_mag.0.scale" in msg
    assert "conv_pre_mag.weight: checkpoint (16, 513, 5) vs model (16, 513, 7)" in msg
    # a full-size checkpoint into the wrong (small) config fails with shapes listed
    with pytest.raises(ValueError, match="shape mismatch"):
        APBWE.from_official(APBWE(cfg.replace(channels=8)).state_dict(), cfg)
    (tmp_path / "junk").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable torch checkpoint"):
        APBWE.from_official(tmp_path / "junk", cfg)
    with pytest.raises(FileNotFoundError):
        APBWE.from_official(tmp_path / "missing", cfg)
    with pytest.raises(ValueError, match="not a generator state dict"):
        APBWE.from_official({"generator": {"a": 1}}, cfg)


def test_save_and_from_pretrained(tmp_path):
    model = APBWE(small_config(hr_sampling_rate=48000, lr_sampling_rate=12000))
    model.save_pretrained(tmp_path / "m", extra={"note": "test"})
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    assert meta["model_type"] == "ap_bwe" and meta["note"] == "test"
    assert meta["config"]["lr_sampling_rate"] == 12000
    loaded = APBWE.from_pretrained(tmp_path / "m")
    assert loaded.config == model.config
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    (tmp_path / "m" / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        APBWE.from_pretrained(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="no such model folder"):
        APBWE.from_pretrained(tmp_path / "nothing")


def test_official_initialisation():
    torch.manual_seed(0)
    model = APBWE(APBWEConfig.preset("8k_16k").replace(channels=64, layers=2))
    w = model.convnext_mag[0].pwconv1.weight
    assert abs(w.std().item() - 0.02) < 2e-3  # trunc_normal_(std=0.02) truncates at +-2 (absolute): ~normal
    assert model.convnext_mag[0].pwconv1.bias.abs().max() == 0
    assert torch.all(model.convnext_mag[0].gamma == 0.5)  # 1 / layers
    # output heads keep PyTorch's default init (created after the init pass, as officially)
    assert model.linear_post_mag.bias.abs().max() > 0


def test_config_bool_field():
    cfg = small_config(keep_low_band=True, low_band_crossover=0.8)
    assert APBWEConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="keep_low_band: expected bool"):
        APBWEConfig.from_dict({"keep_low_band": 1})
    with pytest.raises(ValueError, match="low_band_crossover"):
        small_config(low_band_crossover=0.0)
