"""The DDSP autoencoder: sizes, forward, persistence, z encoder, timbre transfer (ddsp.md §1.13-1.14)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from audiokit import ddsp
from audiokit.ddsp.model import DDSPAutoencoder, DDSPConfig, DecoderConfig


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_match_magenta_configs():
    # ddsp.md §1.13 (Keras GRU reset_after, computed from the gin configs)
    tiny = DDSPAutoencoder(DDSPConfig.tiny(reverb=False))
    assert _count(tiny) == pytest.approx(0.232e6, rel=0.01)
    with torch.device("meta"):
        solo = DDSPAutoencoder(DDSPConfig())
        nsynth = DDSPAutoencoder(DDSPConfig(n_harmonics=100, use_z=True, reverb=False))
    assert _count(solo) - 48000 == pytest.approx(4.80e6, rel=0.01)
    assert _count(nsynth) == pytest.approx(7.25e6, rel=0.01)
    assert _count(nsynth.encoder) == pytest.approx(0.84e6, rel=0.02)


def test_decoder_structure_and_slope():
    m = DDSPAutoencoder(DDSPConfig(decoder=DecoderConfig(rnn_channels=32, ch=16, layers_per_stack=2)))
    dec = m.decoder
    assert len(dec.input_stacks) == 2 and dec.input_stacks[0] is not dec.input_stacks[1]
    assert dec.input_stacks[0][0][2].negative_slope == 0.2
    assert dec.input_stacks[0][0][1].eps == 1e-3
    out = dec({"ld_scaled": torch.zeros(2, 7), "f0_scaled": torch.zeros(2, 7)})
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "amps": (2, 7, 1),
        "harmonic_distribution": (2, 7, 60),
        "noise_magnitudes": (2, 7, 65),
    }


def _small_config(**kw):
    return DDSPConfig(
        decoder=DecoderConfig(rnn_channels=16, ch=8, layers_per_stack=1), reverb_length=640, **kw
    )


def test_forward_shapes_and_gradients():
    m = DDSPAutoencoder(_small_config())
    f0 = torch.full((2, 20), 220.0)
    ld = torch.full((2, 20), -30.0)
    out = m(f0, ld)
    assert out["audio"].shape == (2, 20 * 64)
    torch.testing.assert_close(out["audio_dry"], out["harmonic"] + out["noise"])
    assert out["controls"]["harmonic_distribution"].shape == (2, 20, 60)
    out["audio"].square().mean().backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    with pytest.raises(ValueError):
        m(f0, ld[:, :5])


def test_z_encoder_model_forward():
    cfg = _small_config(use_z=True)
    cfg.z_encoder.rnn_channels = 16
    m = DDSPAutoencoder(cfg)
    audio = torch.randn(1, 64 * 50) * 0.1
    out = m(torch.full((1, 50), 300.0), torch.full((1, 50), -40.0), audio)
    assert out["audio"].shape == (1, 3200)
    with pytest.raises(ValueError, match="z encoder"):
        m(torch.full((1, 50), 300.0), torch.full((1, 50), -40.0))


def test_save_and_load_roundtrip(tmp_path):
    m = DDSPAutoencoder(_small_config())
    m.set_data_statistics(-31.5, 64.0)
    m.save_pretrained(tmp_path / "model")
    cfg = json.loads((tmp_path / "model" / "config.json").read_text())
    assert cfg["model_type"] == "ddsp" and cfg["config"]["decoder"]["rnn_channels"] == 16
    m2 = DDSPAutoencoder.from_pretrained(tmp_path / "model")
    assert m2.loudness_mean_db == -31.5
    for (k, a), (_, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), k
    gen = torch.Generator().manual_seed(0)
    f0, ld = torch.full((1, 10), 440.0), torch.full((1, 10), -20.0)
    m.eval()
    m.processor_group.modules_by_name["filtered_noise"].generator = gen
    y1 = m(f0, ld)["harmonic"]
    y2 = m2(f0, ld)["harmonic"]
    torch.testing.assert_close(y1, y2)


def test_from_pretrained_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        DDSPAutoencoder.from_pretrained(tmp_path / "nothing")
    m = DDSPAutoencoder(_small_config())
    d = m.save_pretrained(tmp_path / "m")
    meta = json.loads((d / "config.json").read_text())
    cfg = meta["config"]
    cfg["decoder"]["rnn_channels"] = 32  # weights no longer match
    (d / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="shape|match"):
        DDSPAutoencoder.from_pretrained(d)
    cfg["bogus"] = 1
    (d / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="bogus"):
        DDSPAutoencoder.from_pretrained(d)
    del cfg["bogus"]
    cfg["n_harmonics"] = "many"
    (d / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="n_harmonics"):
        DDSPAutoencoder.from_pretrained(d)
    (d / "model.safetensors").write_bytes(b"not a safetensors file")
    cfg["n_harmonics"] = 60
    cfg["decoder"]["rnn_channels"] = 16
    (d / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="not a valid checkpoint: .*model.safetensors: cannot read"):
        DDSPAutoencoder.from_pretrained(d)


def test_timbre_transfer_runs_and_follows_pitch():
    m = DDSPAutoencoder(_small_config(reverb=False, f0_min=100.0, f0_max=800.0))
    m.set_data_statistics(-30.0, 60.0)
    sr = 22050
    t = np.arange(int(0.5 * sr)) / sr
    wav = 0.3 * np.sin(2 * np.pi * 220 * t)
    y = m.timbre_transfer(wav, sr, pitch_shift=12.0)
    assert y.shape == (int(0.5 * 16000) // 64 * 64,) and bool(torch.isfinite(y).all())
    y2 = m.timbre_transfer(wav, sr, pitch_shift=12.0)
    torch.testing.assert_close(y, y2)  # fixed noise seed


def test_timbre_transfer_pitch_lands_on_shifted_harmonics():
    m = DDSPAutoencoder(_small_config(reverb=False, f0_min=100.0, f0_max=800.0))
    sr = 16000
    wav = 0.3 * np.sin(2 * np.pi * 220 * np.arange(sr // 2) / sr)
    y = m.timbre_transfer(wav, sr, pitch_shift=12.0)[2000:6000].double().numpy()
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    peak_hz = np.argmax(spec) * sr / y.size
    assert abs(peak_hz / 440.0 - round(peak_hz / 440.0)) * 440.0 < 8.0  # a harmonic of 440 Hz


def test_api_shapes_calibration_and_errors():
    from audiokit.ddsp.features import compute_loudness

    f0 = torch.full((250,), 330.0)
    ld = torch.full((250,), -25.0)
    y = ddsp.synthesize(f0, ld)
    assert y.shape == (16000,)
    got = compute_loudness(y)[20:-20]
    assert float((got + 25.0).abs().max()) < 0.5  # synthesize() hits the requested loudness
    hd = torch.tensor([1.0, 0.5, 0.25])
    y2 = ddsp.synthesize(
        f0[None].repeat(2, 1), ld[None].repeat(2, 1), hd, noise_magnitudes=torch.full((2, 250, 65), 1e-3)
    )
    assert y2.shape == (2, 16000)
    assert ddsp.filtered_noise(torch.ones(10, 65)).shape == (640,)
    assert ddsp.harmonic(torch.full((2, 10), 200.0), torch.ones(2, 10), torch.ones(2, 10, 5), 1000).shape == (
        2,
        1000,
    )
    with pytest.raises(ValueError, match="NaN"):
        ddsp.synthesize(torch.full((10,), float("nan")), torch.zeros(10))
    with pytest.raises(ValueError):
        ddsp.synthesize(torch.ones(10), torch.zeros(11))
    f, l = ddsp.notes_to_controls([440.0, 660.0], [0.2, 0.3], [-20.0, -30.0], vibrato_cents=10.0)
    assert f.shape == l.shape == (125,) and float(l.max()) <= -20.0 and float(l[-1]) == -80.0
    with pytest.raises(ValueError):
        ddsp.notes_to_controls([440.0], [0.2, 0.3], [-20.0])
