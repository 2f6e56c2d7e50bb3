"""Numerical parity with the official AP-BWE implementation (committed fixtures, see fixtures/README.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from audiokit.bwe import APBWE, APBWEConfig, simulate_narrowband
from tests.bwe.seeded import seeded_state_dict

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def anti_wrap(d: torch.Tensor) -> torch.Tensor:
    return (d - 2 * torch.pi * torch.round(d / (2 * torch.pi))).abs()


@pytest.fixture(scope="module")
def official_size_model() -> APBWE:
    cfg = APBWEConfig.preset("8k_16k")
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in APBWE(cfg).state_dict().items()}
    return APBWE.from_official({"generator": seeded_state_dict(shapes, 1234)}, cfg)


def test_generator_matches_official(official_size_model):
    f = np.load(FIXTURES / "apbwe_generator_official.npz")
    mag_nb = torch.from_numpy(f["log_amplitude_nb"]).float()
    pha_nb = torch.from_numpy(f["phase_nb"]).float()
    ref_mag = torch.from_numpy(f["log_amplitude_wb"])
    ref_pha = torch.from_numpy(f["phase_wb"])
    ref_wav = torch.from_numpy(f["wav_wb"])
    with torch.inference_mode():
        out = official_size_model(mag_nb, pha_nb)
        wav = official_size_model.synthesise(out.log_amplitude, out.phase)
    assert out.log_amplitude.shape == ref_mag.shape == (1, 513, 64)
    assert (out.log_amplitude - ref_mag).abs().max() <= 1e-4
    # phase: amplitude-weighted anti-wrapped error (raw phase is ill-conditioned where r = i = 0)
    w = ref_mag.exp()
    assert ((anti_wrap(out.phase - ref_pha) * w).sum() / w.sum()) <= 1e-5
    assert wav.shape == ref_wav.shape == (1, 80 * 63)
    snr = 20 * torch.log10(ref_wav.norm() / (wav - ref_wav).norm().clamp_min(1e-12))
    assert snr >= 100


@pytest.mark.parametrize("preset", ["2k_16k", "4k_16k", "8k_16k", "8k_48k", "12k_48k", "16k_48k", "24k_48k"])
def test_narrowband_simulation_matches_official(preset):
    f = np.load(FIXTURES / "sinc_resample_official.npz")
    cfg = APBWEConfig.preset(preset)
    speech = torch.from_numpy(f[f"speech_{cfg.hr_sampling_rate // 1000}k"])
    nb = simulate_narrowband(speech, cfg.hr_sampling_rate, cfg.lr_sampling_rate)
    ref = f[f"nb_{preset}"]
    assert nb.shape[-1] == ref.shape[-1] == speech.numel()
    assert np.abs(nb.numpy() - ref).max() <= 1e-6
