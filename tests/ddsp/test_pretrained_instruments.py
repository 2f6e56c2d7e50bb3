"""The shipped FluidR3-trained instruments (pretrained/ddsp_violin, pretrained/ddsp_flute): they load by
name, carry their training statistics, render a note at the pitch and about the loudness they are given,
and timbre transfer of a low voice-like tone lands in the instrument's register with the voice's pitch
(octaves folded). Short signals only; the held-out metrics are in each MODEL_CARD.md."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audiokit import ddsp
from audiokit.ddsp.evaluation import pitch_following
from audiokit.ddsp.features import pyin_f0
from audiokit.ddsp.model import resolve_pretrained

SR, FR, HOP = 16000, 250, 64
NAMES = ("ddsp_violin", "ddsp_flute")


@pytest.fixture(scope="module", params=NAMES)
def model(request):
    return ddsp.DDSPAutoencoder.from_pretrained(request.param)


def _out_fmin(model) -> float:
    """pYIN on outputs: from an octave below the instrument's 5th-percentile pitch (cheaper than 50 Hz)."""
    return 440.0 * 2 ** ((model.config.data_stats.f0_low_midi - 12 - 69) / 12)


def test_bundled_names_resolve_and_carry_statistics(model):
    stats = model.config.data_stats
    assert stats is not None and len(stats.loudness_quantiles_db) == 21
    assert 55.0 <= stats.f0_low_midi < stats.f0_mean_midi < stats.f0_high_midi <= 97.0  # the played ranges
    assert not model.config.reverb  # the data were rendered dry


def test_renders_a_note_at_its_pitch_and_loudness(model):
    stats = model.config.data_stats
    midi = round(stats.f0_mean_midi)
    f0 = torch.full((1, FR), 440.0 * 2 ** ((midi - 69) / 12))
    ld = torch.full((1, FR), float(np.median(stats.loudness_quantiles_db)))
    model.processor_group.modules_by_name["filtered_noise"].generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        y = model(f0, ld)["audio"]
    assert y.shape == (1, FR * HOP) and bool(torch.isfinite(y).all())
    steady = slice(FR // 4, FR - 10)
    f_out, v_out = pyin_f0(y[0].double().numpy(), SR, HOP, _out_fmin(model), model.config.f0_max)
    cents = 1200 * np.log2(f_out[steady][v_out[steady] > 0.5] / float(f0[0, 0]))
    assert (v_out[steady] > 0.5).mean() > 0.9 and np.median(np.abs(cents)) < 20.0
    ld_out = ddsp.compute_loudness(y, SR, FR)[0, steady]
    assert float((ld_out - ld[0, steady]).abs().mean()) < 3.0


def test_timbre_transfer_of_a_low_voice_follows_its_pitch(model):
    # a buzzy 80 Hz "voice" with 4 % vibrato-like glide: the octave shift moves it up to the register
    t = np.arange(3 * SR // 4) / SR
    f = 80.0 * 2 ** (0.5 * np.sin(2 * np.pi * 1.5 * t) / 12)
    phase = 2 * np.pi * np.cumsum(f) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 20)) * 0.2
    feats = model.features(x)
    f0_adj, _, info = model.adjust_controls(feats["f0_hz"], feats["loudness_db"], feats["f0_confidence"])
    assert info["octave_shift"] in (36.0, 48.0)  # violin/flute registers are 3-4 octaves above 80 Hz
    assert abs(12 * np.log2(np.median(f0_adj) / 440) + 69 - model.config.data_stats.f0_mean_midi) <= 6.0
    y = model.timbre_transfer(x, SR)
    f_out, v_out = pyin_f0(y.double().numpy(), SR, HOP, _out_fmin(model), model.config.f0_max)
    m = pitch_following(feats["f0_hz"], feats["f0_confidence"], f_out, v_out)  # pYIN on input and output
    assert m["frames"] > 0.5 * t.size / HOP and m["median_cents"] < 50.0


def test_cli_timbre_transfer_resolves_the_bundled_name(tmp_path):
    from audiokit.cli import main
    from audiokit.io import load, save

    t = np.arange(SR // 2) / SR
    save(tmp_path / "in.wav", torch.tensor(0.3 * np.sin(2 * np.pi * 220 * t), dtype=torch.float32)[None], SR)
    assert (
        main(
            [
                "synth",
                "timbre-transfer",
                str(tmp_path / "in.wav"),
                str(tmp_path / "out.wav"),
                "--model",
                "ddsp_flute",
            ]
        )
        == 0
    )
    y, sr = load(tmp_path / "out.wav")
    assert sr == SR and y.shape[-1] == SR // 2 // HOP * HOP and float(y.abs().max()) > 1e-3
    assert resolve_pretrained("ddsp_violin").name == "ddsp_violin"
