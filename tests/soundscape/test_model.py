"""The predictor: shapes, caching/batching equivalences, exact silent maskers, NLL, persistence."""

from __future__ import annotations

import json
import math

import pytest
import torch

from audiokit.soundscape import MaskerGainConfig, MaskerGainPredictor, gaussian_nll, mix_features
from audiokit.soundscape.model import pool_power

CFG = MaskerGainConfig(hidden=16, context_layers=1, mix_layers=1, heads=2, time_pool=4, dropout=0.0)


def _model(seed: int = 0) -> MaskerGainPredictor:
    torch.manual_seed(seed)
    m = MaskerGainPredictor(CFG).eval()
    with torch.no_grad():  # make the untrained outputs depend on everything
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return m


def _inputs(m=4, n=30):
    g = torch.Generator().manual_seed(1)
    s = torch.randn(1, 2, 64, n, generator=g) * 10 - 50
    k = torch.randn(m, 1, 64, n, generator=g) * 10 - 45
    return s, k


def test_search_equals_per_pair_prediction_and_forward():
    model = _model()
    s, k = _inputs()
    gains = torch.tensor([-6.0, 0.0, 4.5])
    with torch.no_grad():
        es, em = model.encode_soundscape(s), model.encode_maskers(k)
        mean, log_std = model.search(es, em, gains, chunk_size=5)  # chunks cut across maskers
        assert mean.shape == log_std.shape == (4, 3)
        for i in range(4):
            for j in range(3):
                mu, ls = model(s, k[i : i + 1], gains[j : j + 1])
                assert torch.allclose(mu, mean[i, j], atol=1e-5) and torch.allclose(
                    ls, log_std[i, j], atol=1e-5
                )
        big, _ = model.search(es, em, gains, chunk_size=1000)
        assert torch.allclose(big, mean, atol=1e-5)
        per_masker = torch.stack([gains, gains + 1, gains, gains - 2])  # (M, G) per-masker gains
        pm, _ = model.search(es, em, per_masker)
        assert torch.allclose(pm[0], mean[0], atol=1e-5) and not torch.allclose(pm[1], mean[1])


def test_outputs_in_range_and_gain_matters():
    model = _model()
    s, k = _inputs()
    with torch.no_grad():
        mean, log_std = model.search(
            model.encode_soundscape(s), model.encode_maskers(k), torch.arange(-12.0, 13.0, 6.0)
        )
    assert torch.all(log_std >= CFG.log_std_min) and torch.all(log_std <= CFG.log_std_max)
    assert mean.std(dim=1).min() > 0  # different gains, different predictions


def test_silent_masker_is_exactly_the_soundscape():
    """A silent masker (features at the -100 dB floor) adds exactly zero power at any gain."""
    from audiokit.soundscape.mix import mix_power

    model = _model()
    s, _ = _inputs()
    silence = torch.full((1, 1, 64, 30), -100.0)
    with torch.no_grad():
        es, em = model.encode_soundscape(s), model.encode_maskers(silence)
        assert torch.equal(em.power, torch.zeros_like(em.power))
        for gain in (-3.0, 0.0, 9.0):
            assert torch.equal(mix_power(es.power, em.power, gain), es.power)


def test_feature_domain_path_equals_explicit_augmented_features():
    """Mixing pooled power == pooling the full-resolution feature-domain mix (averaging commutes
    with the power-domain mix), so predict(augmented_db=mix_features(...)) gives the same numbers."""
    model = _model()
    s, k = _inputs(m=2)
    g = torch.tensor([-3.0, 6.0])
    with torch.no_grad():
        es, em = model.encode_soundscape(s), model.encode_maskers(k)
        a, _ = model.predict(es, em, g)
        aug = torch.stack([mix_features(s[0], k[i], g[i].item()) for i in range(2)])
        b, _ = model.predict(es, em, g, augmented_db=aug)
    assert torch.allclose(a, b, atol=1e-4)


def test_batch_independence_and_stereo_masker():
    model = _model()
    s, k = _inputs(m=3)
    with torch.no_grad():
        mu3, _ = model(s.expand(3, -1, -1, -1), k, torch.zeros(3))
        mu1, _ = model(s, k[1:2], torch.zeros(1))
        assert torch.allclose(mu3[1], mu1[0], atol=1e-5)
        stereo = k[:1].expand(-1, 2, -1, -1)
        assert model.encode_maskers(stereo).power.shape[1] == 2
        mu_s, _ = model(s, stereo, torch.zeros(1))
        assert torch.allclose(mu_s, model(s, k[:1], torch.zeros(1))[0], atol=1e-5)  # same mono content


def test_input_errors():
    model = _model()
    s, k = _inputs()
    with pytest.raises(ValueError, match="soundscape features must be"):
        model.encode_soundscape(torch.zeros(1, 3, 64, 30))
    with pytest.raises(ValueError, match="64 mel bands"):
        model.encode_soundscape(torch.zeros(1, 2, 40, 30))
    with pytest.raises(ValueError, match="pooled frames"):
        model.predict(model.encode_soundscape(s), model.encode_maskers(k[..., :20]), torch.zeros(4))
    with pytest.raises(ValueError, match="one soundscape"):
        model.search(
            model.encode_soundscape(s.expand(2, -1, -1, -1)), model.encode_maskers(k), torch.zeros(1)
        )


def test_pool_power_closed_form():
    x = torch.arange(10.0).reshape(1, 1, 10)
    assert pool_power(x, 4).tolist() == [[[1.5, 5.5, 8.5]]]  # last group: mean of the 2 frames it has


def test_gaussian_nll_closed_form_and_gradients():
    mu = torch.tensor([0.2, -0.1], requires_grad=True)
    ls = torch.tensor([-1.0, 0.5], requires_grad=True)
    y = torch.tensor([0.5, 0.3])
    loss = gaussian_nll(mu, ls, y)
    sig = ls.detach().exp()
    ref = (0.5 * ((y - mu.detach()) / sig) ** 2 + ls.detach() + 0.5 * math.log(2 * math.pi)).mean()
    assert loss.item() == pytest.approx(ref.item())
    assert torch.allclose(loss, torch.nn.functional.gaussian_nll_loss(mu, y, (2 * ls).exp(), full=True))
    loss.backward()
    assert torch.allclose(mu.grad, -(y - mu.detach()) / sig**2 / 2)  # d/dmu
    assert torch.allclose(
        ls.grad, (1 - ((y - mu.detach()) / sig) ** 2) / 2
    )  # d/dlog sigma: 0 at sigma = |err|


def test_save_and_load_roundtrip(tmp_path):
    model = _model()
    model.set_normalization(torch.linspace(-70, -40, 64), torch.full((64,), 12.0))
    model.save_pretrained(tmp_path / "m", extra={"note": "test"})
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["model_type"] == "masker" and cfg["config"]["hidden"] == 16 and cfg["note"] == "test"
    loaded = MaskerGainPredictor.from_pretrained(tmp_path / "m")
    s, k = _inputs()
    with torch.no_grad():
        assert torch.equal(model(s, k, torch.zeros(4))[0], loaded(s, k, torch.zeros(4))[0])
    assert torch.equal(loaded.band_mean, model.band_mean)


def test_load_errors(tmp_path):
    from safetensors.torch import load_file, save_file

    model = _model()
    model.save_pretrained(tmp_path / "m")
    state = load_file(str(tmp_path / "m" / "model.safetensors"))
    state.pop("head.0.weight")
    save_file(state, str(tmp_path / "m" / "model.safetensors"))
    with pytest.raises(ValueError, match=r"missing 1 key\(s\): head.0.weight"):
        MaskerGainPredictor.from_pretrained(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text('{"model": {"hidden": 16, "colour": 1}}')  # old layout
    with pytest.raises(ValueError, match="unknown MaskerGainConfig key"):
        MaskerGainPredictor.from_pretrained(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="no such model folder"):
        MaskerGainPredictor.from_pretrained(tmp_path / "nothing")
    assert MaskerGainConfig.from_dict(CFG.to_dict()) == CFG
