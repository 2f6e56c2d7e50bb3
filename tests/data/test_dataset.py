"""AudioDataset: crops/padding against the file samples, resampling, hooks, determinism, bad files."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
from torch.utils.data import DataLoader

from audiokit.data import (
    AudioDataConfig,
    AudioDataset,
    DistributedBatchSampler,
    FileSource,
    MelTransform,
    ShardSampler,
    collate_padded,
)
from audiokit.frontend import MelSpectrogram


@pytest.fixture(scope="module")
def wav_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("wavs")
    rng = np.random.default_rng(0)
    for i, n in enumerate([3000, 5000, 700, 4000, 2500, 6000]):
        sf.write(d / f"f{i}.wav", (0.3 * rng.standard_normal(n)).astype(np.float32), 8000, subtype="FLOAT")
    return d


def _files(d):
    return sorted(d.glob("*.wav"))


def test_crop_is_a_slice_of_the_file_and_short_files_are_zero_padded(wav_dir):
    ds = AudioDataset(_files(wav_dir), 8000, segment_length=1024, seed=5)
    for i in range(len(ds)):
        item = ds[i]
        data, _ = sf.read(item["path"], dtype="float32")
        audio = item["audio"].numpy()
        assert audio.shape == (1024,)
        if data.size >= 1024:
            starts = [s for s in range(data.size - 1023) if np.array_equal(data[s : s + 1024], audio)]
            assert len(starts) == 1 and item["length"] == 1024
        else:  # 700 samples: the file, then zeros (as the official code)
            assert item["length"] == 700
            assert np.array_equal(audio[:700], data) and not audio[700:].any()


def test_crops_depend_on_seed_epoch_index_only(wav_dir):
    ds = AudioDataset(_files(wav_dir), 8000, segment_length=512, seed=1)
    a = torch.stack([ds[i]["audio"] for i in range(len(ds))])
    again = torch.stack([ds[i]["audio"] for i in range(len(ds))])
    assert torch.equal(a, again)
    ds.set_epoch(1)
    assert not torch.equal(a, torch.stack([ds[i]["audio"] for i in range(len(ds))]))
    ds.set_epoch(0)
    # the same items through 0 and 2 loader workers, in a different order
    batches0 = list(DataLoader(ds, batch_size=2, num_workers=0))
    batches2 = list(DataLoader(ds, batch_size=2, num_workers=2))
    for b0, b2 in zip(batches0, batches2):
        assert torch.equal(b0["audio"], b2["audio"])
    assert torch.equal(torch.cat([b["audio"] for b in batches0]), a)


def test_resampling_matches_soxr(wav_dir):
    path = _files(wav_dir)[0]
    ds = AudioDataset([path], 16000)
    data, _ = sf.read(path, dtype="float32")
    ref = soxr.resample(data, 8000, 16000, quality="VHQ")
    assert ds[0]["audio"].shape == (6000,) and np.allclose(ds[0]["audio"].numpy(), ref, atol=1e-6)


def test_simulation_is_cropped_with_the_same_offset(wav_dir):
    seen = {}

    def simulate(audio, sample_rate, source, source_rate, rng):
        seen["rates"] = (sample_rate, source_rate)
        # a signal derived from the source rate (like AP-BWE's narrowband), one sample too long
        nb = torch.from_numpy(soxr.resample(source.numpy(), source_rate, 4000)).float()
        nb = torch.from_numpy(soxr.resample(nb.numpy(), 4000, sample_rate)).float()
        return {"input": torch.cat([nb, torch.zeros(1)]), "double": 2 * audio, "rate": 4000}

    ds = AudioDataset(_files(wav_dir), 16000, segment_length=2048, simulate=simulate, seed=3)
    item = ds[1]
    assert seen["rates"] == (16000, 8000)
    assert torch.equal(item["double"], 2 * item["audio"]) and item["rate"] == 4000
    assert item["input"].shape == (2048,)
    full = ds.load(1)[0]
    start = next(s for s in range(full.numel() - 2047) if torch.equal(full[s : s + 2048], item["audio"]))
    src = torch.from_numpy(soxr.resample(ds.load(1)[1].numpy(), 8000, 4000)).float()
    nb = torch.from_numpy(soxr.resample(src.numpy(), 4000, 16000)).float()
    assert torch.equal(item["input"], nb[start : start + 2048])


def test_mel_transform_and_padded_collate(wav_dir):
    mel = MelSpectrogram(8000, 256, 64, n_mels=20)
    ds = AudioDataset(_files(wav_dir), 8000, transform=MelTransform(mel))
    item = ds[0]
    assert torch.allclose(item["mel"], mel(item["audio"][None])[0])
    batch = collate_padded([ds[0], ds[2]])
    assert batch["audio"].shape == (2, 3000) and batch["length"].tolist() == [3000, 700]
    assert not batch["audio"][1, 700:].any() and batch["mel"].shape[0] == 2


def test_unreadable_files_are_reported_once_and_skipped(wav_dir, tmp_path, caplog):
    bad_header = tmp_path / "bad.wav"
    bad_header.write_bytes(b"RIFF0000WAVEjunk")
    missing = tmp_path / "missing.wav"
    with caplog.at_level(logging.WARNING, logger="audiokit.data"):
        ds = AudioDataset([*_files(wav_dir)[:2], bad_header, missing], 8000, segment_length=256)
    assert len(ds) == 2
    warnings = [r for r in caplog.records if "skipping 2 of 4" in r.getMessage()]
    assert len(warnings) == 1 and "bad.wav" in warnings[0].getMessage()
    # data corrupted after the header check: skipped at load time with one warning, then a neighbour is used
    good = _files(wav_dir)[0]
    trunc = tmp_path / "trunc.wav"
    trunc.write_bytes(good.read_bytes())
    ds = AudioDataset([trunc, good], 8000, segment_length=256)
    trunc.write_bytes(good.read_bytes()[:60])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="audiokit.data"):
        items = [ds[0], ds[0]]
    assert all(it["path"] == str(good) for it in items)
    assert len([r for r in caplog.records if "trunc.wav" in r.getMessage()]) == 1
    with pytest.raises(ValueError, match="no readable audio"):
        AudioDataset([missing], 8000)


def test_data_config_builds_train_and_val(wav_dir):
    cfg = AudioDataConfig(
        train=FileSource(path=str(wav_dir)), val_holdout=2, sample_rate=8000, segment_length=256
    )
    train, val = cfg.datasets(seed=0)
    assert len(train) == 4 and len(val) == 2
    assert not {str(p) for p in train.files} & {str(p) for p in val.files}
    assert train[0]["audio"].shape == (256,)
    assert val[0]["audio"].shape[0] == sf.info(val[0]["path"]).frames  # whole utterances


def test_distributed_batch_sampler():
    full = DistributedBatchSampler(103, 4, 1, 0, seed=7)
    assert len(full) == 25
    full.set_epoch(3)
    epoch3 = list(full)
    assert sorted(i for b in epoch3 for i in b) == sorted(set(i for b in epoch3 for i in b))
    full.set_epoch(3, start_batch=10)
    assert list(full) == epoch3[10:]  # resume mid-epoch: the same remaining batches
    ranks = [DistributedBatchSampler(103, 4, 3, r, seed=7) for r in range(3)]
    for s in ranks:
        s.set_epoch(2)
    per_rank = [list(s) for s in ranks]
    assert len({len(b) for b in per_rank}) == 1 and len(per_rank[0]) == 103 // 3 // 4
    flat = [set(i for b in batches for i in b) for batches in per_rank]
    assert not (flat[0] & flat[1]) and not (flat[1] & flat[2]) and not (flat[0] & flat[2])
    with pytest.raises(ValueError, match="too few"):
        DistributedBatchSampler(5, 4, 2, 0)
    shards = [list(ShardSampler(10, 3, r, limit=8)) for r in range(3)]
    assert sorted(i for s in shards for i in s) == list(range(8))
