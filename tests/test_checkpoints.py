import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from audiokit.checkpoints import check_state_dict, load_state_dict_strict, read_state_dict


def test_read_state_dict_formats(tmp_path):
    sd = {"a.weight": torch.randn(3, 2), "a.bias": torch.randn(3)}
    torch.save({"generator": sd, "steps": 5}, tmp_path / "g_00000005")
    torch.save({f"module.{k}": v for k, v in sd.items()}, tmp_path / "ddp.pt")
    save_file(sd, str(tmp_path / "w.safetensors"))
    for src in (tmp_path / "g_00000005", tmp_path / "ddp.pt", tmp_path / "w.safetensors", {"generator": sd}):
        got = read_state_dict(src)
        assert set(got) == set(sd) and all(torch.equal(got[k], sd[k]) for k in sd)


def test_read_state_dict_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        read_state_dict(tmp_path / "missing")
    with pytest.raises(ValueError, match="is a directory"):
        read_state_dict(tmp_path)
    (tmp_path / "junk").write_bytes(b"\x00junk")
    with pytest.raises(ValueError, match="not a readable torch checkpoint"):
        read_state_dict(tmp_path / "junk")
    with pytest.raises(ValueError, match="not a generator state dict"):
        read_state_dict({"generator": {"a": 1}})


def test_strict_loading_lists_every_problem():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    sd = dict(model.state_dict())
    del sd["1.bias"]
    sd["2.weight"] = torch.zeros(1)
    sd["0.weight"] = torch.zeros(4, 2)
    with pytest.raises(ValueError) as e:
        load_state_dict_strict(model, sd, source="g_x")
    msg = str(e.value)
    assert msg.startswith("g_x: checkpoint for Sequential does not match the model")
    assert "missing 1 key(s): 1.bias" in msg and "unexpected 1 key(s): 2.weight" in msg
    assert "0.weight: checkpoint (4, 2) vs model (3, 2)" in msg
    check_state_dict(model.state_dict(), model.state_dict())  # a matching state dict passes
    fresh = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    load_state_dict_strict(fresh, model.state_dict())
    assert torch.equal(fresh[0].weight, model[0].weight)
