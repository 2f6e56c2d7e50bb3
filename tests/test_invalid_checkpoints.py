"""Corrupt checkpoints and pretrained folders give one ValueError "not a valid checkpoint: <path>: <reason>"
(issue 14, row 9), in every loader and as a one-line rc-2 error in the CLI."""

import json
import shutil

import pytest
import torch

from audiokit.assets import PRETRAINED_DIR, speech_files
from audiokit.cli import main
from audiokit.io import load, save

CORRUPTIONS = ("random", "truncated", "empty", "config_not_json", "config_not_a_dict", "config_bad_keys")


def _random_bytes(n: int = 4000) -> bytes:
    return (
        torch.randint(0, 256, (n,), generator=torch.Generator().manual_seed(3), dtype=torch.uint8)
        .numpy()
        .tobytes()
    )


def _corrupt_copy(name: str, how: str, tmp_path):
    """A copy of the bundled pretrained folder ``name`` with one file damaged as ``how`` says;
    returns ``(folder, damaged file)``."""
    folder = tmp_path / f"{name}_{how}"
    shutil.copytree(PRETRAINED_DIR / name, folder)
    weights, config = folder / "model.safetensors", folder / "config.json"
    if how == "random":
        weights.write_bytes(_random_bytes())
        return folder, weights
    if how == "truncated":
        data = weights.read_bytes()
        weights.write_bytes(data[: len(data) // 2])
        return folder, weights
    if how == "empty":
        weights.write_bytes(b"")
        return folder, weights
    if how == "config_not_json":
        config.write_text('{"model": ', encoding="utf-8")
        return folder, config
    if how == "config_not_a_dict":
        config.write_text("[1, 2, 3]", encoding="utf-8")
        return folder, config
    if how == "config_bad_keys":
        meta = json.loads(config.read_text(encoding="utf-8"))
        inner = meta.get("config", meta.get("model", meta))
        inner["no_such_setting"] = 1
        config.write_text(json.dumps(meta), encoding="utf-8")
        return folder, config
    raise AssertionError(how)


def _loaders():
    from audiokit.bwe import APBWE
    from audiokit.ddsp.model import DDSPAutoencoder
    from audiokit.soundscape.model import MaskerGainPredictor
    from audiokit.vocoders import SpectralVocoder, load_vocoder

    return {
        "apnet_tiny": [SpectralVocoder.from_pretrained, load_vocoder],
        "ap_bwe_tiny_8k_16k": [APBWE.from_pretrained],
        "ddsp_tiny": [DDSPAutoencoder.from_pretrained],
        "masker_tiny": [MaskerGainPredictor.from_pretrained],
    }


@pytest.mark.parametrize("how", CORRUPTIONS)
@pytest.mark.parametrize("name", ["apnet_tiny", "ap_bwe_tiny_8k_16k", "ddsp_tiny", "masker_tiny"])
def test_corrupt_pretrained_folder(name, how, tmp_path):
    folder, damaged = _corrupt_copy(name, how, tmp_path)
    for loader in _loaders()[name]:
        with pytest.raises(ValueError) as e:
            loader(folder)
        msg = str(e.value)
        assert msg.startswith(f"not a valid checkpoint: {damaged}: "), msg
        assert "\n" not in msg and len(msg) < 400


@pytest.mark.parametrize("suffix", [".safetensors", ".pt", ""])
def test_random_official_checkpoint_file(suffix, tmp_path):
    from audiokit.bwe import APBWE
    from audiokit.checkpoints import read_state_dict
    from audiokit.vocoders import APNet, APNet2

    path = tmp_path / f"random{suffix}"
    path.write_bytes(_random_bytes())
    for load_fn in (
        read_state_dict,
        APNet.from_official,
        APNet2.from_official,
        lambda p: APBWE.from_official(p, "8k_16k"),
    ):
        with pytest.raises(ValueError, match=rf"^not a valid checkpoint: {path}: "):
            load_fn(path)


def test_safetensors_file_of_non_tensors_and_a_torch_file_of_a_list(tmp_path):
    from audiokit.checkpoints import read_state_dict

    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(ValueError, match=rf"^not a valid checkpoint: {tmp_path / 'list.pt'}: .*state dict"):
        read_state_dict(tmp_path / "list.pt")


@pytest.fixture(scope="module")
def in_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("in")
    wav, sr = load(speech_files(16000)[0])
    save(d / "a.wav", wav[:, : sr // 2], sr)
    return d


def _one_line_error(capsys, path) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"not a valid checkpoint: {path}: " in err, err
    return err


@pytest.mark.parametrize("command", ["vocode", "bwe"])
def test_cli_random_checkpoint_file(command, in_dir, tmp_path, capsys):
    ckpt = tmp_path / "random.safetensors"
    ckpt.write_bytes(_random_bytes())
    extra = ["--model", "apnet"] if command == "vocode" else []
    code = main(
        [command, str(in_dir), str(tmp_path / "out"), "--checkpoint", str(ckpt), "--no-progress", *extra]
    )
    assert code == 2
    _one_line_error(capsys, ckpt)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "command, name", [("vocode", "apnet_tiny"), ("bwe", "ap_bwe_tiny_8k_16k"), ("masker", "masker_tiny")]
)
def test_cli_corrupt_pretrained_folder(command, name, in_dir, tmp_path, capsys):
    folder, damaged = _corrupt_copy(name, "random", tmp_path)
    if command == "masker":
        argv = ["masker", "rank", str(in_dir / "a.wav"), "--maskers", str(in_dir), "--model", str(folder)]
    else:
        argv = [command, str(in_dir), str(tmp_path / "out"), "--checkpoint", str(folder), "--no-progress"]
    assert main(argv) == 2
    _one_line_error(capsys, damaged)


def test_cli_synth_corrupt_model(in_dir, tmp_path, capsys):
    folder, damaged = _corrupt_copy("ddsp_tiny", "truncated", tmp_path)
    argv = [
        "synth",
        "timbre-transfer",
        str(in_dir / "a.wav"),
        str(tmp_path / "o.wav"),
        "--model",
        str(folder),
    ]
    assert main(argv) == 2
    _one_line_error(capsys, damaged)
    assert main(["synth", "notes", str(tmp_path / "n.wav"), "--f0", "A3", "--model", str(folder)]) == 2
    _one_line_error(capsys, damaged)
