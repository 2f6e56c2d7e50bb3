"""Resynthesis scoring and the Griffin-Lim baseline used by the demo and the model cards."""

from __future__ import annotations

import pytest
import torch

from audiokit.vocoders import APNet, APNetConfig
from audiokit.vocoders.evaluation import evaluate_resynthesis, griffin_lim_from_mel, score_resynthesis


@pytest.fixture(scope="module")
def model():
    return APNet(APNetConfig(channels=8, resblock_kernel_sizes=(3,), resblock_dilations=((1,),))).eval()


def test_griffin_lim_baseline_is_a_real_reconstruction(model, speech16k):
    wav, sr = speech16k
    wav = wav[: 2 * sr]
    mel = model.mel(wav)
    gl = griffin_lim_from_mel(model, mel, n_iter=16)
    assert gl.shape == (1, 80 * (mel.shape[-1] - 1))
    # its log-mel is close to the one it was made from (the phase is the only unknown)
    assert float((model.mel(gl[0]) - mel[..., : mel.shape[-1]]).abs().mean()) < 0.6
    s = score_resynthesis(wav, gl[0], sr, ("stoi", "mcd"))
    assert s["stoi"] > 0.7 and 0 < s["mcd"] < 30.0


def test_scores_of_identical_and_noisy_signals(speech16k):
    wav, sr = speech16k
    wav = wav[: 2 * sr]
    same = score_resynthesis(wav, wav.clone(), sr)
    assert same["pesq"] > 4.4 and same["stoi"] > 0.999 and same["mcd"] < 1e-6 and same["lsd"] < 1e-6
    noisy = score_resynthesis(wav, wav + 0.05 * torch.randn_like(wav), sr)
    assert noisy["pesq"] < same["pesq"] and noisy["mcd"] > 0.5
    with pytest.raises(ValueError, match="unknown metric"):
        score_resynthesis(wav, wav, sr, ("mos",))


def test_evaluate_resynthesis_collects_both(model, speech16k):
    wav, sr = speech16k
    outputs = {}
    s = evaluate_resynthesis(model, [("a", wav[:sr])], names=("snr", "lsd"), gl_iters=4, outputs=outputs)
    assert set(s.vocoder) == set(s.griffin_lim) == {"a"} and set(outputs) == {"a"}
    assert s.audio_seconds == pytest.approx((80 * (sr // 80)) / sr) and s.rtf > 0
    assert set(s.mean("vocoder")) == {"snr", "lsd"}
