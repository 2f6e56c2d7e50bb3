"""Official checkpoints (both weight-norm styles, errors listing keys), pretrained folders, configs."""

from __future__ import annotations

import json

import pytest
import torch

from audiokit.vocoders import (
    APNet,
    APNet2,
    APNet2Config,
    APNetConfig,
    SpectralVocoder,
    load_vocoder,
)

SMALL_APNET = APNetConfig(channels=8, resblock_kernel_sizes=(3, 5), resblock_dilations=((1, 3), (1, 3)))
SMALL_APNET2 = APNet2Config(dim=8, intermediate_dim=16, num_layers=2)


def _randomise(model):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("wrap", ["generator", "bare", "file"])
def test_from_official_weight_norm_and_folded(tmp_path, wrap):
    ref = _randomise(APNet(SMALL_APNET)).eval()
    mel = torch.randn(1, 80, 20) - 4
    with torch.no_grad():
        expected = ref(mel).audio
    for weight_norm in (True, False):
        sd = ref.official_state_dict(weight_norm=weight_norm)
        assert any(k.endswith("weight_g") for k in sd) == weight_norm
        src = {"generator": sd} if wrap == "generator" else sd
        if wrap == "file":
            torch.save({"generator": sd}, tmp_path / "g_00000001")
            src = tmp_path / "g_00000001"
        model = APNet.from_official(src, config=SMALL_APNET, fold=False)
        assert model.weight_normed == weight_norm
        assert list(model.state_dict()) == list(sd)
        with torch.no_grad():
            torch.testing.assert_close(model(mel).audio, expected, atol=1e-6, rtol=1e-5)


def test_from_official_errors_list_keys(tmp_path):
    sd = APNet(SMALL_APNET).official_state_dict()
    missing = dict(sd)
    del missing["PSP_output_I_conv.weight_v"], missing["ASP_ResNet.1.convs2.0.bias"]
    with pytest.raises(
        ValueError, match=r"missing 2 key\(s\): ASP_ResNet.1.convs2.0.bias, PSP_output_I_conv.weight_v"
    ):
        APNet.from_official(missing, config=SMALL_APNET)
    extra = {**sd, "ASP_ResNet.9.convs1.0.bias": torch.zeros(8)}
    with pytest.raises(ValueError, match=r"unexpected 1 key\(s\): ASP_ResNet.9.convs1.0.bias"):
        APNet.from_official(extra, config=SMALL_APNET)
    # a full-size config against small weights: shape mismatches are listed
    with pytest.raises(ValueError, match=r"shape mismatch.*ASP_input_conv.weight_v: checkpoint \(8, 80, 7\)"):
        APNet.from_official(
            sd, config=APNetConfig(resblock_kernel_sizes=(3, 5), resblock_dilations=((1, 3),) * 2)
        )
    # an APNet checkpoint is not an APNet2 one
    with pytest.raises(ValueError, match="unexpected"):
        APNet2.from_official(sd, config=SMALL_APNET2)
    torch.save({"optim": {"lr": 1}}, tmp_path / "do_1")
    with pytest.raises(ValueError, match="not a generator state dict"):
        APNet.from_official(tmp_path / "do_1")
    (tmp_path / "garbage").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable torch checkpoint"):
        APNet.from_official(tmp_path / "garbage")
    with pytest.raises(FileNotFoundError):
        APNet.from_official(tmp_path / "nope")


def test_ddp_prefix_is_stripped():
    sd = APNet2(SMALL_APNET2).official_state_dict()
    model = APNet2.from_official({f"module.{k}": v for k, v in sd.items()}, config=SMALL_APNET2)
    assert list(model.state_dict()) == list(sd)


def test_official_config_json_is_converted(tmp_path):
    official = {
        "sampling_rate": 16000, "n_fft": 1024, "hop_size": 80, "win_size": 320, "num_mels": 80,
        "fmin": 0, "fmax": 8000, "batch_size": 16, "ASP_channel": 8, "PSP_channel": 8,
        "ASP_resblock_kernel_sizes": [3, 5], "PSP_resblock_kernel_sizes": [3, 5],
        "ASP_resblock_dilation_sizes": [[1, 3], [1, 3]], "PSP_resblock_dilation_sizes": [[1, 3], [1, 3]],
        "ASP_input_conv_kernel_size": 7, "PSP_input_conv_kernel_size": 7, "ASP_output_conv_kernel_size": 7,
        "PSP_output_R_conv_kernel_size": 7, "PSP_output_I_conv_kernel_size": 7,
    }  # fmt: skip
    path = tmp_path / "config.json"
    path.write_text(json.dumps(official))
    sd = APNet(SMALL_APNET).official_state_dict()
    model = APNet.from_official(sd, config=path)
    assert model.config.channels == 8 and model.config.resblock_kernel_sizes == (3, 5)
    official["PSP_channel"] = 16
    with pytest.raises(ValueError, match="ASP_channel/PSP_channel"):
        APNetConfig.from_official(official)


@pytest.mark.parametrize("cls,cfg", [(APNet, SMALL_APNET), (APNet2, SMALL_APNET2)])
def test_pretrained_round_trip(tmp_path, cls, cfg):
    model = _randomise(cls(cfg)).eval()
    model.save_pretrained(tmp_path / "m", note="test")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    assert meta["model_type"] == cls.model_type and meta["note"] == "test"
    for loader in (cls.from_pretrained, SpectralVocoder.from_pretrained, load_vocoder):
        loaded = loader(tmp_path / "m")
        assert type(loaded) is cls and not loaded.weight_normed
        mel = torch.randn(1, 80, 12) - 4
        with torch.no_grad():
            torch.testing.assert_close(loaded(mel).audio, model(mel).audio, atol=1e-6, rtol=1e-5)
    other = APNet2 if cls is APNet else APNet
    with pytest.raises(ValueError, match="holds a"):
        other.from_pretrained(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="a pretrained folder holds config.json"):
        cls.from_pretrained(tmp_path)


def test_load_vocoder_needs_type_for_official(tmp_path):
    torch.save({"generator": APNet(SMALL_APNET).state_dict()}, tmp_path / "g")
    with pytest.raises(ValueError, match="needs the model type"):
        load_vocoder(tmp_path / "g")
    assert isinstance(load_vocoder(tmp_path / "g", "apnet", config=SMALL_APNET), APNet)
    with pytest.raises(ValueError, match="unknown model"):
        load_vocoder(tmp_path / "g", "hifigan")


@pytest.mark.parametrize("cfg", [APNetConfig(), APNet2Config(), SMALL_APNET, SMALL_APNET2])
def test_config_round_trip(tmp_path, cfg):
    cls = type(cfg)
    assert cls.from_dict(cfg.to_dict()) == cfg
    for name in ("c.yaml", "c.json"):
        cfg.save(tmp_path / name)
        assert cls.load(tmp_path / name) == cfg
    with pytest.raises(ValueError, match="unknown config key 'hop_size'"):
        cls.from_dict({**cfg.to_dict(), "hop_size": 80})
    with pytest.raises(ValueError, match="config key 'hop_length': expected int"):
        cls.from_dict({**cfg.to_dict(), "hop_length": "eighty"})
    with pytest.raises(ValueError, match="config key 'n_mels': expected int"):
        cls.from_dict({**cfg.to_dict(), "n_mels": True})
    with pytest.raises(ValueError, match="win_length"):
        cls.from_dict({**cfg.to_dict(), "win_length": 4096})


def test_official_defaults():
    a, b = APNetConfig(), APNet2Config()
    assert (a.sample_rate, a.n_fft, a.hop_length, a.win_length, a.f_max) == (16000, 1024, 80, 320, 8000)
    assert (b.sample_rate, b.n_fft, b.hop_length, b.win_length, b.f_max) == (22050, 1024, 256, 1024, 8000)
    assert a.channels == 512 and a.resblock_kernel_sizes == (3, 7, 11) and a.weight_norm
    assert (b.dim, b.intermediate_dim, b.num_layers) == (512, 1536, 8)
