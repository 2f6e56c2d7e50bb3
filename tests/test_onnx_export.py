"""ONNX export of APNet, APNet2 and AP-BWE: onnxruntime agrees with PyTorch (>= 60 dB, fp32)
at lengths and batch sizes other than the export example's."""

from __future__ import annotations

import pytest
import torch

from audiokit.cli import main
from audiokit.io import resample
from audiokit.onnx_export import export_onnx, load_model, onnx_session, run_onnx


def snr_db(ref: torch.Tensor, y: torch.Tensor) -> float:
    return float(10 * torch.log10(ref.pow(2).sum() / (ref - y).pow(2).sum().clamp_min(1e-30)))


def test_apnet_onnx_matches_pytorch(tmp_path, speech16k):
    wav, sr = speech16k
    model = load_model("apnet_tiny")
    out = export_onnx("apnet_tiny", tmp_path / "apnet.onnx")
    session = onnx_session(out)
    mel = model.mel(torch.stack((wav[:20000], wav[30000:50000])), sample_rate=sr)
    with torch.inference_mode():
        ref = model(mel).audio
    y = run_onnx(session, mel)
    assert y.shape == ref.shape
    assert snr_db(ref, y) >= 60


def test_apbwe_onnx_via_cli_matches_pytorch(tmp_path, speech16k):
    wav, sr = speech16k
    out = tmp_path / "bwe.onnx"
    assert main(["export", "--onnx", "ap_bwe_tiny_8k_16k", str(out)]) == 0
    model = load_model("ap_bwe_tiny_8k_16k")
    x = torch.as_tensor(resample(wav[None, :33333], sr, 8000)).float()
    ref = model.extend(x, 8000, chunk_frames=None)
    y = run_onnx(onnx_session(out), x)
    assert y.shape == ref.shape
    assert snr_db(ref, y) >= 60


def test_apnet2_onnx_matches_pytorch(tmp_path, speech16k):
    """APNet2 (GRN over the whole utterance, ConvNeXt blocks): a small random model whose GRN
    gamma/beta are non-zero, at two lengths other than the export example's."""
    from audiokit.vocoders import APNet2, APNet2Config

    torch.manual_seed(0)
    cfg = APNet2Config(
        sample_rate=16000,
        hop_length=80,
        win_length=320,
        n_fft=1024,
        dim=64,
        intermediate_dim=192,
        num_layers=2,
    )
    model = APNet2(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("gamma", "beta")):
                p.copy_(0.3 * torch.randn(p.shape))
    out = export_onnx(model, tmp_path / "apnet2.onnx")
    session = onnx_session(out)
    wav, sr = speech16k
    for n in (9000, 31111):
        mel = model.mel(wav[None, :n], sample_rate=sr)
        with torch.inference_mode():
            ref = model(mel).audio
        y = run_onnx(session, mel)
        assert y.shape == ref.shape
        assert snr_db(ref, y) >= 60, n


def test_export_errors(tmp_path):
    with pytest.raises(ValueError, match=r"\.onnx"):
        export_onnx("apnet_tiny", tmp_path / "x.bin")
    assert main(["export", "--onnx", str(tmp_path / "missing"), str(tmp_path / "x.onnx")]) == 2


def test_apnet_with_prior_and_phase_refinement_onnx_matches_synthesize(tmp_path, speech16k):
    """The graph includes the mel-inversion amplitude prior and the Griffin-Lim phase refinement,
    so it computes ``model.synthesize(mel)`` (not the bare network)."""
    from audiokit.vocoders import APNet, APNetConfig

    torch.manual_seed(0)
    cfg = APNetConfig(
        channels=16,
        resblock_kernel_sizes=(3,),
        resblock_dilations=((1, 3),),
        weight_norm=False,
        amplitude_prior="mel_nnls",
        phase_refine_iters=4,
    )
    model = APNet(cfg).eval()
    out = export_onnx(model, tmp_path / "refined.onnx")
    wav, sr = speech16k
    mel = model.mel(wav[None, :12345], sample_rate=sr)
    ref = model.synthesize(mel)
    y = run_onnx(onnx_session(out), mel)
    assert y.shape == ref.shape
    assert snr_db(ref, y) >= 60
    with torch.inference_mode():
        bare = model(mel).audio
    assert snr_db(ref, bare) < 30  # the refinement is really in the graph
