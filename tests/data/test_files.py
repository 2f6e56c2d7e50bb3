"""File discovery: lists in the official formats, LJSpeech and VCTK layouts, hold-out split."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiokit.data import FileSource, holdout_split, ljspeech_files, read_file_list, vctk_files


def _touch(p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"")
    return p


def test_read_file_list_formats(tmp_path):
    lst = tmp_path / "lists" / "train.txt"
    lst.parent.mkdir()
    lst.write_text(
        "# comment\n"
        "wavs/a.wav\n"  # APNet .scp: a path (relative to the list's folder)
        "\n"
        "LJ001-0001|Printing, in the only sense|Printing, in the only sense\n"  # HiFi-GAN/LJSpeech
        "p225_001|/home/someone/VCTK/wav48/p225_001.wav\n"  # AP-BWE: id first
        "utt7 /abs/data/u7.flac\n"  # Kaldi wav.scp
        "/abs/data/b.flac\n"
    )
    got = read_file_list(lst)
    base = lst.parent
    assert got == [
        base / "wavs/a.wav",
        base / "LJ001-0001.wav",
        base / "p225_001.wav",
        Path("/abs/data/u7.flac"),
        Path("/abs/data/b.flac"),
    ]
    assert read_file_list(lst, root=tmp_path / "wavs")[1] == tmp_path / "wavs" / "LJ001-0001.wav"
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    with pytest.raises(ValueError, match="empty"):
        read_file_list(tmp_path / "empty.txt")


def test_ljspeech_layout(tmp_path):
    root = tmp_path / "LJSpeech-1.1"
    (root / "wavs").mkdir(parents=True)
    (root / "metadata.csv").write_text("LJ001-0001|a|a\nLJ001-0002|b|b\n")
    expected = [root / "wavs" / "LJ001-0001.wav", root / "wavs" / "LJ001-0002.wav"]
    assert ljspeech_files(root) == expected
    assert FileSource(path=str(root)).detect_layout() == "ljspeech"
    assert FileSource(path=str(root)).resolve() == expected
    with pytest.raises(FileNotFoundError, match="metadata.csv"):
        ljspeech_files(tmp_path)


def test_vctk_layouts_and_filters(tmp_path):
    root = tmp_path / "VCTK-Corpus-0.92"
    for spk in ("p225", "p360", "s5"):
        for mic in ("mic1", "mic2"):
            _touch(root / "wav48_silence_trimmed" / spk / f"{spk}_001_{mic}.flac")
    _touch(root / "wav48_silence_trimmed" / "p225" / "log.txt")
    _touch(root / "wav48_silence_trimmed" / "p225" / "notes.wav")  # not an utterance name
    names = [p.name for p in vctk_files(root)]
    assert names == ["p225_001_mic1.flac", "p360_001_mic1.flac", "s5_001_mic1.flac"]
    assert [p.name for p in vctk_files(root, exclude_speakers=["p360", "s5"])] == ["p225_001_mic1.flac"]
    assert len(vctk_files(root, speakers=["s5"], mic=None)) == 2
    src = FileSource(path=str(root), exclude_speakers=["p225"])
    assert src.detect_layout() == "vctk" and len(src.resolve()) == 2
    old = tmp_path / "old"  # VCTK 0.80 / AP-BWE's flattened wav48/train layout, no mic suffix
    _touch(old / "wav48" / "train" / "p226_002.wav")
    assert [p.name for p in vctk_files(old)] == ["p226_002.wav"]


def test_folder_source_and_holdout(tmp_path):
    for i in range(10):
        _touch(tmp_path / "d" / f"sub{i % 2}" / f"{i}.wav")
    _touch(tmp_path / "d" / ".hidden.wav")
    files = FileSource(path=str(tmp_path / "d")).resolve()
    assert len(files) == 10 and files == sorted(files)
    assert len(FileSource(path=str(tmp_path / "d"), limit=3).resolve()) == 3
    train, held = holdout_split(files, 3, seed=1)
    assert len(train) == 7 and len(held) == 3 and not set(train) & set(held)
    assert holdout_split(files, 3, seed=1) == (train, held)  # deterministic
    with pytest.raises(FileNotFoundError):
        FileSource(path=str(tmp_path / "missing")).resolve()
    with pytest.raises(ValueError, match="no audio files"):
        (tmp_path / "emptydir").mkdir()
        FileSource(path=str(tmp_path / "emptydir")).resolve()
