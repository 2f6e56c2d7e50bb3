"""One pretrained mechanism for every model family: the registry, the current ``config.json`` layout,
the legacy layouts still read, name resolution (bundled, ``$AUDIOKIT_PRETRAINED``, Hugging Face Hub
cache) and the ``audiokit models`` catalogue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from audiokit.assets import PRETRAINED_DIR, bundled_models, resolve_pretrained
from audiokit.bwe import APBWE, APBWEConfig
from audiokit.catalog import available_models, describe_model
from audiokit.checkpoints import (
    MODEL_TYPES,
    PretrainedMixin,
    load_pretrained,
    model_class,
    read_pretrained_config,
)
from audiokit.cli import main
from audiokit.ddsp.model import DDSPAutoencoder, DDSPConfig, DecoderConfig
from audiokit.soundscape.model import MaskerGainConfig, MaskerGainPredictor
from audiokit.vocoders import MODELS, APNet, APNetConfig, SpectralVocoder

REPO = Path(__file__).resolve().parents[1]


def _small_models() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        # vocoders save folded weight norm (their inference form)
        "apnet": APNet(
            APNetConfig(channels=8, resblock_kernel_sizes=(3,), resblock_dilations=((1, 3),))
        ).fold_weight_norm(),
        "ap_bwe": APBWE(APBWEConfig.preset("8k_16k").replace(channels=8, layers=1)),
        "ddsp": DDSPAutoencoder(
            DDSPConfig(decoder=DecoderConfig(rnn_channels=8, ch=8, layers_per_stack=1), reverb_length=64)
        ),
        "masker": MaskerGainPredictor(
            MaskerGainConfig(hidden=8, context_layers=1, mix_layers=1, heads=2, time_pool=4, dropout=0.0)
        ),
    }


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k].float().nan_to_num(), sb[k].float().nan_to_num()), k


def test_one_registry_names_every_family():
    for model_type in MODEL_TYPES:
        cls = model_class(model_type)
        assert issubclass(cls, PretrainedMixin) and cls.model_type == model_type and cls.task
    assert MODELS == {"apnet": model_class("apnet"), "apnet2": model_class("apnet2")}
    with pytest.raises(ValueError, match="unknown model_type 'hifigan'"):
        model_class("hifigan")


@pytest.mark.parametrize("model_type", ["apnet", "ap_bwe", "ddsp", "masker"])
def test_save_writes_the_one_layout_and_loads_back(tmp_path, model_type):
    model = _small_models()[model_type].eval()
    out = model.save_pretrained(tmp_path / "m", training={"step": 3}, metrics={"pesq": 3.5})
    meta = json.loads((out / "config.json").read_text())
    assert meta["model_type"] == model_type and meta["format_version"] == 1
    assert meta["config"] == model.config.to_dict() and meta["training"] == {"step": 3}
    for loader in (type(model).from_pretrained, load_pretrained):
        loaded = loader(out)
        assert type(loaded) is type(model) and not loaded.training
        _same_weights(loaded, model)
    # strict: one extra tensor is reported by name
    state = load_file(str(out / "model.safetensors"))
    state["bogus.weight"] = torch.zeros(2)
    save_file(state, str(out / "model.safetensors"))
    with pytest.raises(ValueError, match=r"unexpected 1 key\(s\): bogus.weight"):
        type(model).from_pretrained(out)


def _legacy(model_type: str, model: torch.nn.Module, folder: Path) -> None:
    """The layouts the families wrote before the shared mechanism."""
    folder.mkdir()
    cfg = model.config.to_dict()
    sd = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    header = {"format": "pt"}
    if model_type == "ap_bwe":
        meta = {"model": "APBWE", "config": cfg, "training": {"step": 1}}
    elif model_type == "ddsp":
        meta, header = cfg, {"format": "pt", "model": "ddsp_autoencoder"}
    elif model_type == "masker":
        meta, header = {"model": cfg, "features": {"sample_rate": 44100}}, {"model": "MaskerGainPredictor"}
    else:  # the vocoders' layout is the current one (without format_version)
        meta = {"model_type": model_type, "config": cfg}
    save_file(sd, str(folder / "model.safetensors"), metadata=header)
    (folder / "config.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("model_type", ["apnet", "ap_bwe", "ddsp", "masker"])
def test_old_layouts_still_load(tmp_path, model_type):
    model = _small_models()[model_type].eval()
    _legacy(model_type, model, tmp_path / "old")
    info = read_pretrained_config(tmp_path / "old")
    assert info.model_type == model_type and info.config == model.config.to_dict()
    for loader in (type(model).from_pretrained, load_pretrained):
        _same_weights(loader(tmp_path / "old"), model)


def test_the_bundled_folders_load_by_name_whatever_their_layout():
    layouts = {}
    for name in ("apnet_tiny", "ap_bwe_tiny_8k_16k", "ddsp_tiny", "masker_tiny"):
        info = read_pretrained_config(PRETRAINED_DIR / name)
        layouts[name] = (info.model_type, info.layout)
        assert type(load_pretrained(name)).model_type == info.model_type
    assert layouts == {
        "apnet_tiny": ("apnet", "audiokit"),
        "ap_bwe_tiny_8k_16k": ("ap_bwe", "ap_bwe"),
        "ddsp_tiny": ("ddsp", "bare"),
        "masker_tiny": ("masker", "masker"),
    }
    assert isinstance(SpectralVocoder.from_pretrained("pretrained/apnet_tiny"), APNet)
    with pytest.raises(ValueError, match="holds a 'apnet' model, not 'ap_bwe'"):
        APBWE.from_pretrained("apnet_tiny")


def test_any_folder_with_a_config_is_found_and_listed(tmp_path, monkeypatch, capsys):
    model = _small_models()["ddsp"]
    model.save_pretrained(tmp_path / "ddsp_new", metrics={"spectral_loss": 1.25, "n_examples": 4})
    model.save_pretrained(tmp_path / "ddsp_set", metrics={"spectral_loss": 2.0}, metrics_set="my 10 clips")
    assert describe_model(tmp_path / "ddsp_set").evaluated_on == "my 10 clips"
    (tmp_path / "not_a_model").mkdir()
    monkeypatch.setenv("AUDIOKIT_PRETRAINED", str(tmp_path))
    assert resolve_pretrained("ddsp_new") == tmp_path / "ddsp_new"
    found = bundled_models()
    assert "ddsp_new" in found and "not_a_model" not in found and "apnet_tiny" in found
    info = describe_model(tmp_path / "ddsp_new")
    n_params = sum(v.numel() for v in model.state_dict().values())
    assert (info.task, info.rate, info.parameters) == ("ddsp synthesis", "16000 Hz", n_params)
    assert info.metrics == {"spectral_loss": 1.25} and info.source == "config.json"
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(rows) >= {"ddsp_new", "apnet_tiny", "ap_bwe_tiny_8k_16k", "ddsp_tiny", "masker_tiny"}
    assert rows["ap_bwe_tiny_8k_16k"]["rate"] == "8000 -> 16000 Hz"
    # every bundled model says what its headline metrics were measured on (the sets differ)
    for name in ("apnet_tiny", "ap_bwe_tiny_8k_16k", "ddsp_tiny", "masker_tiny", "apnet_realspeech_16k"):
        assert rows[name]["evaluated_on"], name
    assert "real recorded speech" in rows["apnet_realspeech_16k"]["evaluated_on"]
    assert "synthetic" in rows["apnet_tiny"]["evaluated_on"]
    assert rows["ddsp_new"]["evaluated_on"] == ""  # saved without metrics_set


def test_headline_metrics_of_the_bundled_models_name_the_model_not_the_baseline():
    by_name = {m.name: m for m in available_models()}
    apnet = json.loads((PRETRAINED_DIR / "apnet_tiny" / "metrics.json").read_text())
    assert by_name["apnet_tiny"].metrics["pesq"] == apnet["held-out test sentences"]["apnet"]["pesq"]
    bwe = json.loads((PRETRAINED_DIR / "ap_bwe_tiny_8k_16k" / "eval.json").read_text())
    assert by_name["ap_bwe_tiny_8k_16k"].metrics["lsd"] == bwe["results"]["test"]["ap_bwe_tiny"]["lsd"]
    # the real-speech models' metrics.json list the baseline first: {"test": {"sinc": {"upsampling",
    # "model"}}} and {"test": {"model", "griffin_lim"}}
    for name, path in (
        ("ap_bwe_realspeech_8k_16k", ("test", "sinc", "model")),
        ("apnet_realspeech_16k", ("test", "model")),
    ):
        table = json.loads((PRETRAINED_DIR / name / "metrics.json").read_text())
        for key in path:
            table = table[key]
        assert by_name[name].metrics["pesq"] == table["pesq"], name


def _hub_cache(cache: Path, repo_id: str, src: Path) -> None:
    """A Hugging Face Hub cache as ``snapshot_download`` reads it: blobs, a snapshot of symlinks and
    ``refs/main`` naming the commit."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    root = cache / ("models--" + repo_id.replace("/", "--"))
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    snap = root / "snapshots" / commit
    snap.mkdir(parents=True)
    (root / "blobs").mkdir()
    for f in src.iterdir():
        blob = root / "blobs" / f"blob-{f.name}"
        blob.write_bytes(f.read_bytes())
        os.symlink(os.path.relpath(blob, snap), snap / f.name)


def test_hub_ids_resolve_offline_from_a_local_cache(tmp_path):
    model = _small_models()["apnet"].eval()
    model.save_pretrained(tmp_path / "src")
    _hub_cache(tmp_path / "hub", "someone/apnet-small", tmp_path / "src")
    script = """
import sys, torch
from audiokit.checkpoints import load_pretrained
from audiokit.vocoders import APNet
from audiokit.assets import resolve_pretrained
a = APNet.from_pretrained("someone/apnet-small")
b = load_pretrained("hf://someone/apnet-small")
ref = torch.load(sys.argv[1])
assert all(torch.equal(a.state_dict()[k], v) and torch.equal(b.state_dict()[k], v) for k, v in ref.items())
try:
    resolve_pretrained("someone/not-cached")
except FileNotFoundError as e:
    assert "Hugging Face Hub gave no copy" in str(e), e
else:
    raise AssertionError("an uncached id resolved offline")
print("ok", resolve_pretrained("someone/apnet-small").name)
"""
    torch.save(model.state_dict(), tmp_path / "ref.pt")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    env["HF_HOME"] = str(tmp_path)
    env.pop("AUDIOKIT_PRETRAINED", None)
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "ref.pt")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["ok", "0123456789abcdef0123456789abcdef01234567"]


def test_packaging_ships_every_model_folder():
    """The wheel maps the top-level pretrained/ into the package, for every folder in it."""
    pyproject = (REPO / "pyproject.toml").read_text()
    setup = (REPO / "setup.py").read_text()
    assert '"audiokit.pretrained" = ["**/*"]' in pyproject
    assert '{"audiokit.pretrained": "pretrained"}' in setup


def test_unreadable_folders_give_one_line_errors(tmp_path):
    model = _small_models()["masker"]
    out = model.save_pretrained(tmp_path / "m")
    (out / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"^not a valid checkpoint: .*config.json: not valid JSON"):
        MaskerGainPredictor.from_pretrained(out)
    model.save_pretrained(out)
    meta = json.loads((out / "config.json").read_text())
    meta["config"]["colour"] = 1
    (out / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"^not a valid checkpoint: .*config.json: .*colour"):
        load_pretrained(out)
    model.save_pretrained(out)
    (out / "model.safetensors").write_bytes(b"\x00" * 32)
    with pytest.raises(ValueError, match=r"^not a valid checkpoint: .*safetensors: cannot read weights"):
        MaskerGainPredictor.from_pretrained(out)
    with pytest.raises(FileNotFoundError, match="no such model folder"):
        load_pretrained(tmp_path / "absent")
