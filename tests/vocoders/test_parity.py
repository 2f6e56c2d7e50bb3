"""Parity with the official APNet/APNet2 code through committed fixtures (see fixtures/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from audiokit.frontend import APNET_LOG_EPS, STFT, amplitude_phase
from audiokit.vocoders import APNet, APNet2, APNet2Config, APNetConfig
from tests.numerics import anti_wrap, assert_log_amplitude_close, snr_db, weighted_phase_error

FIXTURES = Path(__file__).parent / "fixtures"
MODELS = {"apnet": (APNet, APNetConfig), "apnet2": (APNet2, APNet2Config)}


def _read(name: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(FIXTURES / name), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})


def _fixture(which: str):
    tensors, meta = _read(f"{which}_small.safetensors")
    weights = {k[len("weights.") :]: v for k, v in tensors.items() if k.startswith("weights.")}
    cls, cfg_cls = MODELS[which]
    config = json.loads(meta["official_config"])
    cfg = cfg_cls.from_official(config)
    if which == "apnet2":  # the sizes hard-coded in the official APNet2 were reduced for the fixture
        cfg = cfg_cls.from_dict(
            {**cfg.to_dict(), "intermediate_dim": config["_inter"], "num_layers": config["_layers"]}
        )
    cases = {}
    for key, v in tensors.items():
        if not key.startswith("weights."):
            case, field = key.split(".", 1)
            cases.setdefault(case, {})[field] = v
    return cls, cfg, weights, cases


def assert_matches(out, ref: dict[str, torch.Tensor]) -> float:
    """Agreement with an official output, in quantities that are well conditioned on every CPU.

    The log-amplitude is the network's output (rounding error only, ~1e-6 across CPUs); the phase is
    ``atan2`` of the phase head's outputs, ill-conditioned in bins where both are near zero, so it is
    compared amplitude-weighted, and the spectrum and waveform by their relative error energy. Seen
    across Intel AMX / AVX-512 / forced AVX2 kernels: weighted phase error <= 3.1e-7 rad, spectral
    and waveform SNR >= 115 dB.
    """
    assert out.audio.shape == ref["audio"].shape
    for name in ("log_amplitude", "phase", "real", "imag"):
        assert getattr(out, name).shape == ref[name].shape, name
    torch.testing.assert_close(out.log_amplitude, ref["log_amplitude"], atol=1e-4, rtol=0)
    amp = torch.exp(ref["log_amplitude"])
    assert weighted_phase_error(out.phase, ref["phase"], amp) <= 1e-5
    spec_ref = torch.complex(ref["real"], ref["imag"])
    spec = torch.complex(out.real, out.imag)
    assert snr_db(torch.view_as_real(spec_ref), torch.view_as_real(spec)) >= 90.0
    snr = snr_db(ref["audio"], out.audio)
    assert snr >= 90.0
    return snr


@pytest.mark.parametrize("which", ["apnet", "apnet2"])
def test_official_outputs_match(which):
    cls, cfg, weights, cases = _fixture(which)
    model = cls.from_official({"generator": weights}, config=cfg, fold=False)
    with torch.no_grad():
        for ref in cases.values():
            out = model(ref["mel"])
            assert out.audio.shape[-1] == cfg.hop_length * (ref["mel"].shape[-1] - 1)
            assert_matches(out, ref)


def test_apnet_weight_norm_folding_matches_official():
    """Folded weights (computed here independently in numpy: w = g v / ||v||) load key for key and give
    the official output."""
    cls, cfg, weights, cases = _fixture("apnet")
    folded = {}
    for k, v in weights.items():
        if k.endswith(".weight_g"):
            base = k[: -len("_g")]
            g, vv = v.double().numpy(), weights[base + "_v"].double().numpy()
            norm = np.sqrt((vv**2).sum(axis=(1, 2), keepdims=True))
            folded[base] = torch.from_numpy(g * vv / norm).float()
        elif not k.endswith(".weight_v"):
            folded[k] = v
    model = cls.from_official(folded, config=cfg)
    assert not model.weight_normed
    assert set(model.state_dict()) == set(folded)
    with torch.no_grad():
        for ref in cases.values():
            assert_matches(model(ref["mel"]), ref)
    # folding our weight-normalised model is bit-identical to not folding (same kernel)
    wn = cls.from_official(weights, config=cfg, fold=False)
    fo = cls.from_official(weights, config=cfg, fold=True)
    mel = cases["case3"]["mel"]
    with torch.no_grad():
        assert torch.equal(wn(mel).audio, fo(mel).audio)


def test_apnet2_grn_depends_on_whole_utterance():
    """Truncating the input changes earlier frames, in the official code and here alike."""
    cls, cfg, weights, cases = _fixture("apnet2")
    model = cls.from_official(weights, config=cfg)
    full, trunc = cases["case3"], cases["trunc"]
    with torch.no_grad():
        out = model(trunc["mel"])
    assert_matches(out, trunc)
    n = trunc["log_amplitude"].shape[-1] - model.receptive_field - 1  # frames the cut cannot reach locally
    diff = (trunc["log_amplitude"][..., :n] - full["log_amplitude"][..., :n]).abs().max()
    assert diff > 1e-4  # the official outputs differ far beyond float rounding (~1e-6) ...
    ours = (out.log_amplitude[..., :n] - full["log_amplitude"][..., :n]).abs().max()
    assert abs(float(ours) - float(diff)) < 1e-5  # ... and we reproduce the difference


def test_apnet_truncation_is_local():
    cls, cfg, weights, cases = _fixture("apnet")
    full, trunc = cases["case3"], cases["trunc"]
    model = cls.from_official(weights, config=cfg)
    n = 40 - model.receptive_field
    assert n <= 0 or torch.allclose(
        trunc["log_amplitude"][..., :n], full["log_amplitude"][..., :n], atol=1e-5
    )
    with torch.no_grad():
        assert_matches(model(trunc["mel"]), trunc)


@pytest.mark.parametrize("which", ["apnet", "apnet2"])
def test_mel_matches_official_extractor(which):
    tensors, _ = _read("official_features.safetensors")
    cfg = MODELS[which][1]()
    model_cls = MODELS[which][0]
    # building the full-size network is not needed for the front end: use a tiny one with the same analysis
    small = {
        "apnet": {"channels": 4, "resblock_kernel_sizes": (3,), "resblock_dilations": ((1,),)},
        "apnet2": {"dim": 4, "intermediate_dim": 8, "num_layers": 1},
    }[which]
    model = model_cls(MODELS[which][1].from_dict({**cfg.to_dict(), **small}))
    audio = tensors[f"{which}.audio"]
    mel = model.mel(audio)
    ref = tensors[f"{which}.mel"]
    assert mel.shape == ref.shape == (1, 80, 1 + audio.shape[-1] // cfg.hop_length)
    assert float((mel - ref).abs().max()) <= 1e-4
    # training targets: log(|S| + 1e-5) and atan2 through the shared frontend. The FFT's absolute
    # error is ~2.4e-7 max|S| whichever CPU kernels run (MKL AVX-512 vs AVX2), so the log of the
    # quietest bins (1.5e-5 max|S|) may move by 7e-4: bound the error by the amplitude it comes from.
    spec = STFT(cfg.n_fft, cfg.hop_length, cfg.win_length)(audio)
    logamp, phase = amplitude_phase(spec, APNET_LOG_EPS)
    ref_logamp = tensors[f"{which}.log_amplitude"]
    assert_log_amplitude_close(logamp, ref_logamp, APNET_LOG_EPS, rel=1e-6)
    amp = spec.abs()
    loud = amp > 1e-2 * amp.max()
    assert float((logamp - ref_logamp)[loud].abs().max()) <= 1e-4
    mask = amp > 1e-3 * amp.max()
    assert float(anti_wrap(phase - tensors[f"{which}.phase"])[mask].max()) < 1e-3
    assert weighted_phase_error(phase, tensors[f"{which}.phase"], amp) < 1e-5


def test_full_size_keys_and_shapes_match_official():
    lines = (FIXTURES / "official_state_dict_keys.txt").read_text().splitlines()
    blocks, current = [], None
    for line in lines:
        if line.startswith("# APNet"):
            current = []
            blocks.append(current)
        elif line and not line.startswith("#") and current is not None:
            key, shape = line.split("\t")
            current.append((key, tuple(int(s) for s in shape.strip("()").split(",") if s.strip())))
    assert [len(b) for b in blocks] == [123, 178]
    with torch.device("meta"):
        models = [APNet(), APNet2()]
    for model, expected in zip(models, blocks):
        got = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
        assert got == expected
    assert sum(p.numel() for p in models[0].parameters()) == 72_191_494
    assert sum(p.numel() for p in models[1].parameters()) == 31_425_539
    assert models[0].receptive_field == 66 and models[1].receptive_field == 30
