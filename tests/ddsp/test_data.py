"""Synthetic instrument data, the example dataset and the resynthesis metrics."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from audiokit.ddsp import features, synthetic
from audiokit.ddsp.data import DDSPExamples
from audiokit.ddsp.evaluation import resynthesis_metrics
from audiokit.ddsp.model import DDSPConfig
from audiokit.io import load, save


def test_synthetic_instrument_renders_its_controls(tmp_path):
    inst = synthetic.SyntheticInstrument()
    rng = np.random.default_rng(1)
    f0, ld = synthetic.random_phrase(inst, 2.0, rng)
    assert f0.shape == ld.shape == (500,)
    lo, hi = inst.midi_range
    midi = 12 * np.log2(f0 / 440) + 69
    assert midi.min() > lo - 0.5 and midi.max() < hi + 0.5
    audio = inst.render(torch.from_numpy(f0).float()[None], torch.from_numpy(ld).float()[None])
    got = features.compute_loudness(audio[0])[:500].numpy()
    loud = ld > -35
    assert np.abs(got[loud] - ld[loud]).mean() < 0.6  # the rendered loudness is the requested one
    d = synthetic.write_dataset(tmp_path / "syn", n_examples=2, seconds=1.0, seed=3)
    wav, sr = load(d / "00001.wav")
    assert sr == 16000 and wav.shape == (1, 16000)
    with np.load(d / "00001.npz") as z:
        assert z["f0_hz"].shape == (250,)
    assert json.loads((d / "instrument.json").read_text())["n_examples"] == 2


def test_examples_from_ground_truth_and_extractor_cache(tmp_path):
    d = synthetic.write_dataset(tmp_path / "syn", n_examples=2, seconds=2.0, seed=0)
    ds = DDSPExamples(d, example_seconds=1.0, hop_seconds=0.5)
    assert len(ds) == 2 * 3  # windows at 0, 0.5, 1.0 s in each 2 s file
    item = ds[4]
    assert item["audio"].shape == (16000,) and item["f0_hz"].shape == (250,)
    with np.load(d / "00001.npz") as z:
        np.testing.assert_allclose(item["f0_hz"].numpy(), z["f0_hz"][125:375], rtol=1e-6)
    # a folder without ground truth uses the (pluggable) extractor once and caches it
    raw = tmp_path / "raw"
    t = np.arange(24000) / 16000
    save(raw / "a.wav", torch.from_numpy(0.3 * np.sin(2 * np.pi * 330 * t)).float()[None], 16000)
    (raw / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")
    calls = []

    def tracker(audio, sr, hop):
        calls.append(audio.size)
        n = 1 + audio.size // hop
        return np.full(n, 330.0), np.ones(n)

    ds2 = DDSPExamples(raw, example_seconds=1.0, hop_seconds=1.0, f0_extractor=tracker)
    assert len(ds2) == 1 and len(ds2.skipped) == 1 and calls == [24000]
    DDSPExamples(raw, example_seconds=1.0, hop_seconds=1.0, f0_extractor=tracker)
    assert calls == [24000]  # cached
    short = DDSPExamples(raw, example_seconds=2.0, f0_extractor=tracker)
    assert short[0]["audio"].shape == (32000,) and float(short[0]["audio"][-100:].abs().max()) == 0.0
    with pytest.raises(ValueError, match="no usable"):
        DDSPExamples(files=[raw / "bad.wav"])


class _Identity(torch.nn.Module):
    """A 'perfect' model that returns its input audio: the metrics' floor."""

    def __init__(self):
        super().__init__()
        self.config = DDSPConfig(f0_min=100.0, f0_max=1000.0)
        self.processor_group = SimpleNamespace(
            modules_by_name={"filtered_noise": SimpleNamespace(generator=None)}
        )

    def forward(self, f0, ld, audio):
        return {"audio": audio}


def test_resynthesis_metrics_floor_and_sensitivity():
    sr = 16000
    t = np.arange(sr) / sr
    x = torch.from_numpy(0.3 * np.sin(2 * np.pi * 300 * t)).float()
    ex = {"audio": x, "f0_hz": torch.full((250,), 300.0), "f0_confidence": torch.ones(250)}
    m = resynthesis_metrics(_Identity(), [ex])
    assert m["spectral_loss"] == 0.0 and m["loudness_l1_db"] == 0.0
    assert m["f0_l1_midi"] < 0.05 and m["f0_outlier_ratio"] == 0.0
    wrong = dict(ex, f0_hz=torch.full((250,), 300.0 * 2 ** (1 / 12)))  # reference one semitone off
    assert resynthesis_metrics(_Identity(), [wrong])["f0_l1_midi"] == pytest.approx(1.0, abs=0.05)
