"""Warm starts (``train.init_from``): weights of a pretrained folder loaded before step 0."""

from __future__ import annotations

import pytest
import torch

from audiokit.train.checkpoint import load_initial_weights
from audiokit.vocoders import APNet, APNetConfig

CFG = APNetConfig(channels=8, resblock_kernel_sizes=(3,), resblock_dilations=((1,),))


def test_folded_weights_load_into_a_weight_normed_model(tmp_path):
    torch.manual_seed(0)
    src = APNet(CFG).fold_weight_norm().eval()
    src.save_pretrained(tmp_path / "m")
    torch.manual_seed(1)
    dst = APNet(CFG)
    dst.apply_weight_norm() if not dst.weight_normed else None
    assert dst.weight_normed
    load_initial_weights(dst, tmp_path / "m")
    assert dst.weight_normed, "the training parametrisation is kept"
    mel = torch.randn(1, 80, 20)
    with torch.inference_mode():
        assert torch.allclose(dst.eval()(mel).audio, src(mel).audio, atol=1e-5)


def test_mismatched_weights_are_refused(tmp_path):
    APNet(CFG).save_pretrained(tmp_path / "m")
    other = APNet(APNetConfig(channels=16, resblock_kernel_sizes=(3,), resblock_dilations=((1,),)))
    with pytest.raises(ValueError, match="shape mismatch"):
        load_initial_weights(other, tmp_path / "m")
    with pytest.raises(FileNotFoundError):
        load_initial_weights(other, tmp_path / "missing")
