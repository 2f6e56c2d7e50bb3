"""``eval`` on long pairs (issue 14 row 10): read and scored in segments, each metric the
length-weighted mean over segments; PESQ is defined beyond its 120 s limit and memory is bounded by
the segment. References: the metric functions on slices of the whole signals."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf

from audiokit import metrics
from audiokit.assets import real_speech_files, speech_files
from audiokit.cli import main
from audiokit.io import load, resample


@pytest.fixture(scope="module")
def long_pair(tmp_path_factory):
    """130 s of speech (bundled clips tiled) and a noisy copy stored at 22.05 kHz."""
    root = tmp_path_factory.mktemp("long")
    x = np.concatenate(
        [load(f, sr=16000, mono=True)[0][0].numpy() for f in speech_files(16000) + real_speech_files()]
    )
    ref = np.resize(x, 130 * 16000).astype(np.float32)
    noisy = ref + 0.01 * np.random.default_rng(0).standard_normal(ref.size).astype(np.float32)
    (root / "ref").mkdir()
    (root / "deg").mkdir()
    sf.write(root / "ref" / "a.wav", ref, 16000, subtype="FLOAT")
    sf.write(root / "deg" / "a.wav", resample(noisy[None], 16000, 22050)[0].numpy(), 22050, subtype="FLOAT")
    return root, ref


def test_compute_segmented_is_the_length_weighted_mean_and_skips_undefined_segments():
    rng = np.random.default_rng(1)
    speech = load(speech_files(16000)[0], sr=16000, mono=True)[0][0].numpy()
    segs = [speech[:16000], np.zeros(8000), speech[: 3 * 8000]]
    pairs = [(s, s + 0.01 * rng.standard_normal(s.size)) for s in segs]
    values, count = metrics.compute_segmented(["snr", "pesq"], iter(pairs), 16000)
    assert count == 3
    snrs = [metrics.snr(r, e) for r, e in (pairs[0], pairs[2])]  # silent reference: -inf, left out
    assert values["snr"] == pytest.approx((snrs[0] * 16000 + snrs[1] * 24000) / 40000)
    pesqs = [metrics.pesq(r, e, 16000) for r, e in (pairs[0], pairs[2])]  # the silent one is undefined
    assert values["pesq"] == pytest.approx((pesqs[0] * 16000 + pesqs[1] * 24000) / 40000)
    with pytest.raises(ValueError, match="pesq: undefined on every one of 1 segments"):
        metrics.compute_segmented(["pesq"], iter([pairs[1]]), 16000)


def test_eval_scores_a_long_pair_in_segments(long_pair, tmp_path):
    root, ref = long_pair
    out = tmp_path / "res.csv"
    argv = ["eval", str(root / "ref"), str(root / "deg"), "--metrics", "pesq,snr", "--out", str(out)]
    assert main([*argv, "--no-progress", "--sr", "16000"]) == 0
    row = next(csv.DictReader(open(out)))
    assert row["status"] == "ok" and row["segments"] == "4"  # 30, 30, 30, 30 + the 10 s tail
    deg = load(root / "deg" / "a.wav", sr=16000, mono=True)[0][0].numpy()
    bounds = [(0, 30), (30, 60), (60, 90), (90, 130)]
    want = {}
    for name, fn in (("pesq", lambda r, e: metrics.pesq(r, e, 16000)), ("snr", metrics.snr)):
        vals = [fn(ref[a * 16000 : b * 16000], deg[a * 16000 : b * 16000]) for a, b in bounds]
        want[name] = np.average(vals, weights=[b - a for a, b in bounds])
    assert float(row["pesq"]) == pytest.approx(want["pesq"], abs=1e-4)
    assert float(row["snr"]) == pytest.approx(want["snr"], abs=1e-4)
    # whole files: PESQ is refused beyond 120 s (the library would crash), the pair fails cleanly
    assert main([*argv, "--no-progress", "--segment-seconds", "0"]) == 1
    row = next(csv.DictReader(open(out)))
    assert row["status"] == "error" and "120" in row["error"]
    assert main([*argv, "--segment-seconds", "0.5"]) == 2
